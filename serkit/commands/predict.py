"""`serkit predict`: the emotion of every audio file under some paths.

The work (discovery, worker processes, writers, resume) is in
:mod:`serkit.inference.batch`; this module only parses the command line.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

DESCRIPTION = """\
Predict the emotion of audio files. PATHs are files or folders (searched recursively
for wav, flac, ogg, mp3, ... files that libsndfile reads).

A file that cannot be used (missing, empty, corrupt, not audio, silent, too short) gets
its own error line and the others go on. With --output, jsonl and csv results are
appended as they are made; rerunning the same command skips the files already in the
file (an interrupted last line is redone).

exit status: 0 when every file was predicted, 1 when some files failed (a missing path
too; their error lines say why; files that failed in an earlier, resumed run count too),
2 for a usage error, when nothing is predicted (unknown model, bad option, an --output
that is a folder or cannot be written, folders without audio files)."""

EPILOG = """\
examples:
  serkit predict serkit/examples
  serkit predict calls/ --format jsonl --output calls.jsonl --timeline --window 3 --hop 1
  serkit predict clip.wav --model path/to/bundle --format csv
  serkit predict new_studio/ --adapt        # 30+ files of one unfamiliar set-up"""


def add_parser(commands) -> None:
    """Register `serkit predict` on the `serkit` sub-command parser."""
    parser = commands.add_parser(
        "predict", help="predict the emotion of audio files or folders",
        description=DESCRIPTION, epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("paths", metavar="PATH", nargs="+", type=Path, help="audio files or folders")
    parser.add_argument("--model", default="default", metavar="NAME|PATH",
                        help="a bundled model name or a bundle folder (default: default)")
    parser.add_argument("--format", dest="fmt", choices=("table", "jsonl", "csv"), default=None,
                        help="output format (default: from the --output suffix .jsonl/.csv, "
                        "else table)")
    parser.add_argument("--output", type=Path, default=None, metavar="FILE",
                        help="write to FILE instead of stdout; jsonl/csv results already in "
                        "it are kept and skipped (resume)")
    parser.add_argument("--timeline", action="store_true",
                        help="also predict windows over time and merge them into segments "
                        "(jsonl: a `timeline` object; table: the segments)")
    parser.add_argument("--window", type=float, default=3.0, metavar="S",
                        help="timeline window length in seconds (default 3.0)")
    parser.add_argument("--hop", type=float, default=1.0, metavar="S",
                        help="timeline step between windows in seconds (default 1.0)")
    parser.add_argument("--adapt", action="store_true",
                        help="standardise the features on these files' own statistics (one "
                        "recording set-up the model has not heard; needs about 30 files or "
                        "more, warns with fewer; nothing is stored; no --timeline, no resume)")
    parser.add_argument("--jobs", type=int, default=None, metavar="N",
                        help="worker processes (default: all cores; few files run in-process)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    parser.set_defaults(handler=run)


def run(args) -> int:
    import warnings

    from serkit.inference.batch import TimelineOptions, run_predict
    from serkit.inference.recognizer import AdaptWarning

    default_show = warnings.showwarning

    def show(message, category, *rest):
        # One plain line on stderr, not Python's warning format with a source line.
        if issubclass(category, AdaptWarning):
            print(f"serkit predict: warning: {message}", file=sys.stderr)
        else:
            default_show(message, category, *rest)

    warnings.showwarning = show
    fmt = args.fmt or _format_from_suffix(args.output)
    timeline = TimelineOptions(args.window, args.hop) if args.timeline else None
    try:
        summary = run_predict(args.paths, model=args.model, fmt=fmt, output=args.output,
                              timeline=timeline, jobs=args.jobs, progress=not args.no_progress,
                              adapt=args.adapt)
    except BrokenPipeError:
        # The reader went away (`serkit predict ... | head`): stop quietly, as cat does.
        # Point stdout at devnull so that Python's final flush does not fail again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    if args.output is not None or summary.failed:
        print(f"serkit predict: {summary.describe()}", file=sys.stderr)
    return 1 if summary.failed else 0


def _format_from_suffix(output: Path | None) -> str:
    suffix = output.suffix.lower() if output is not None else ""
    return {".jsonl": "jsonl", ".ndjson": "jsonl", ".csv": "csv"}.get(suffix, "table")
