"""`serkit predict`: the emotion of every audio file under some paths.

The work (discovery, worker processes, writers, resume) is in
:mod:`serkit.inference.batch`; this module only parses the command line.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

# serkit.inference.timeline.SMOOTHING_METHODS and speech_activity.VAD_METHODS, written out
# so that building the CLI does not import serkit.inference (tests check they agree).
SMOOTHING_METHODS = ("median", "mean", "viterbi", "none")
VAD_METHODS = ("energy", "none")

DESCRIPTION = """\
Predict the emotion of audio files. PATHs are files or folders (searched recursively
for wav, flac, ogg, mp3, ... files that libsndfile reads).

A file that cannot be used (missing, empty, corrupt, not audio, silent, too short) gets
its own error line and the others go on. With --output, jsonl and csv results are
appended as they are made; rerunning the same command skips the files already in the
file (an interrupted last line is redone).

--timeline cuts each file into windows (--window seconds every --hop), smooths their
predictions over --smooth-windows windows (--smoothing), marks the stretches without
speech as "non-speech" (--vad energy), folds segments shorter than --min-segment seconds
into a neighbour, and sums up each file as the share of its speech time each label holds.
jsonl gives the windows, segments and summary; table the segments and the summary; csv one
row per segment. --plot FILE.png draws each file's probabilities over time and segments.

exit status: 0 when every file was predicted, 1 when some files failed (a missing path
too; their error lines say why; files that failed in an earlier, resumed run count too),
2 for a usage error, when nothing is predicted (unknown model, bad option, an --output
that is a folder or cannot be written, folders without audio files)."""

EPILOG = """\
examples:
  serkit predict serkit/examples
  serkit predict calls/ --format jsonl --output calls.jsonl --timeline --window 3 --hop 1
  serkit predict call.wav --timeline --format csv --min-segment 3 --plot call.png
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
    parser.add_argument("--smoothing", choices=SMOOTHING_METHODS, default="median",
                        help="how the windows are smoothed before they make segments: a moving "
                        "median or mean of the probabilities, a Viterbi path that pays "
                        "--switch-penalty per change of label, or none (default median)")
    parser.add_argument("--smooth-windows", type=int, default=5, metavar="N",
                        help="windows the median or mean runs over, odd (default 5)")
    parser.add_argument("--switch-penalty", type=float, default=4.0, metavar="X",
                        help="viterbi: log-probability a change of label costs (default 4.0)")
    parser.add_argument("--min-segment", type=float, default=2.0, metavar="S",
                        help="segments shorter than S seconds are folded into a neighbour "
                        "(default 2.0; 0 keeps them)")
    parser.add_argument("--vad", choices=VAD_METHODS, default="energy",
                        help="speech detection: energy (stretches without speech become "
                        "'non-speech' and leave the summary) or none (default energy)")
    parser.add_argument("--plot", type=Path, default=None, metavar="FILE.png",
                        help="draw the timeline (probabilities over time and the segments) to "
                        "FILE.png; with several files, FILE-<name>.png each (implies --timeline)")
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

    from serkit.inference.batch import run_predict
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
    timeline = _timeline_options(args) if args.timeline or args.plot is not None else None
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


def _timeline_options(args):
    """The ``--timeline`` options, checked (a ConfigError names the bad one)."""
    from serkit.inference.batch import TimelineOptions
    from serkit.inference.timeline import Segmenting
    from serkit.inference.timeline_output import check_plot

    segmenting = Segmenting(smoothing=args.smoothing, smooth_windows=args.smooth_windows,
                            switch_penalty=args.switch_penalty, min_segment_s=args.min_segment,
                            vad=args.vad)
    plot = None
    if args.plot is not None:
        check_plot(args.plot)
        plot = str(args.plot)
    single = len(args.paths) == 1 and args.paths[0].is_file()
    return TimelineOptions(args.window, args.hop, segmenting, plot, single)


def _format_from_suffix(output: Path | None) -> str:
    suffix = output.suffix.lower() if output is not None else ""
    return {".jsonl": "jsonl", ".ndjson": "jsonl", ".csv": "csv"}.get(suffix, "table")
