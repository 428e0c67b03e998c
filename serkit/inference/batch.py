"""Predict many files: discovery, worker processes, output writers and resume.

This is the engine of ``serkit predict``. Files are found under the given paths, predicted
in this process or in a pool of worker processes (each loads the model once and runs torch
on one thread), and written one result per line in input order, flushed as written. A bad
file becomes an error line and never stops the batch.

Resume: when the output file already holds jsonl or csv results, the files in it are
skipped and new results are appended; a torn last line (an interrupted write) is dropped
and that file is predicted again.

Example (``tiny`` a bundle folder)::

    from serkit.inference.batch import run_predict

    summary = run_predict(["clips/"], model=tiny, fmt="jsonl", output="out.jsonl")
    summary.failed       # files that got an error line
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import logging
import math
import os
import signal
import sys
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from serkit.errors import AudioError, ConfigError, SerkitError
from serkit.inference.timeline import Segmenting
from serkit.progress import progress_bar
from serkit.workers import one_thread_per_worker, process_pool, usable_cores

log = logging.getLogger(__name__)

FORMATS = ("table", "jsonl", "csv")
#: Formats that can be appended to and resumed (one self-contained line per file).
RESUMABLE_FORMATS = ("jsonl", "csv")
#: Fewer files than this many per worker are predicted in this process: starting workers
#: (importing torch and librosa, loading the model) costs seconds each.
MIN_FILES_PER_WORKER = 2
#: Files predicted together in one :meth:`Recognizer.predict_batch` call: the voice
#: encoder runs all their partials in one LSTM call, less than half the CPU per clip of one
#: call each (docs/speed.md). Small enough that an interrupt loses little.
FILES_PER_CALL = 16
#: Modules the fork server imports once so that every worker starts with them loaded.
#: Only what every model needs: a feature library one model needs (librosa for fusion107)
#: is imported by each worker when first used, side by side, which costs no more wall time
#: than the fork server importing it once before any worker starts.
_WORKER_PRELOAD = ["serkit.inference", "serkit.features", "torch"]


# --- discovery --------------------------------------------------------------------------

def find_audio_files(paths: Sequence[str | Path]) -> list[Path]:
    """The audio files named by ``paths``: files as given, folders searched recursively.

    Folders are searched by :func:`serkit.audio.find_audio` (audio extensions, hidden files
    and folders skipped). A file named explicitly is taken whatever its extension, so that
    a wrong file gets an error line rather than being silently ignored; so is a path that
    does not exist (its line says "file not found", and the other files go on).

    Returns:
        Sorted, without duplicates (the same file reached twice counts once).

    Raises:
        AudioError: no audio file at all (only folders without audio files).
    """
    from serkit.audio import AUDIO_EXTENSIONS, find_audio

    found: dict[Path, Path] = {}
    for root in map(Path, paths):
        for file in find_audio(root) if root.is_dir() else [root]:
            found.setdefault(_resolved(file), file)
    if not found:
        raise AudioError(f"no audio files ({', '.join(e.lstrip('.') for e in AUDIO_EXTENSIONS)}) in "
                         f"{', '.join(map(str, paths))}")
    return sorted(found.values(), key=str)


def _resolved(path: Path) -> Path:
    """``path`` made absolute with links resolved; as given (absolute) where it cannot be
    (a symlink loop: Python < 3.13 raises RuntimeError for those)."""
    try:
        return path.resolve()
    except (OSError, RuntimeError, ValueError):
        return path.absolute()


# --- one file -----------------------------------------------------------------------------

@dataclass(frozen=True)
class TimelineOptions:
    """``--timeline``: windowing and segmenting (see :meth:`serkit.inference.Recognizer.timeline`),
    and where to draw each file's plot (:func:`serkit.inference.timeline_output.plot_path`)."""

    window_s: float = 3.0
    hop_s: float = 1.0
    segmenting: Segmenting = field(default_factory=Segmenting)
    plot: str | None = None
    plot_single: bool = False


def predict_record(recognizer, path: str | Path, *, display: str | None = None,
                   timeline: TimelineOptions | None = None) -> dict:
    """The result line of one file: ``path``, ``label``, ``probabilities``, ``duration_s``
    (and ``timeline``), or ``path`` and ``error``. Never raises for a bad file.
    """
    display = display or str(path)
    return _guarded(display, lambda: {"path": display, **_predict(recognizer, path, display, timeline)})


def _predict(recognizer, path, display: str, timeline: TimelineOptions | None) -> dict:
    # Both read the file as a stream (memory does not grow with its length); decoding it
    # twice costs less than holding an hour of audio.
    record = recognizer.predict(path, name=display).to_dict()
    if timeline is not None:
        record["timeline"] = recognizer.timeline(path, timeline.window_s, timeline.hop_s, name=display,
                                                 **timeline.segmenting.to_dict()).to_dict()
        if timeline.plot is not None:
            from serkit.inference.timeline_output import plot_path, plot_timeline

            plot_timeline({"path": display, **record},
                          plot_path(timeline.plot, display, single=timeline.plot_single))
    return record


def predict_chunk(recognizer, items: Sequence[tuple[str, str]], *,
                  timeline: TimelineOptions | None = None) -> list[dict]:
    """The result lines of several ``(path, display)`` files, in order; never raises for a
    bad file.

    Without a timeline they are featurised and predicted together
    (:meth:`Recognizer.predict_batch`); a library failing unexpectedly on one of them
    sends every file through :func:`predict_record` alone, so that only that one gets an
    error line.
    """
    if timeline is not None:
        return [predict_record(recognizer, path, display=display, timeline=timeline) for path, display in items]
    try:
        predictions = recognizer.predict_batch([path for path, _ in items],
                                               names=[display for _, display in items], errors="return")
    except Exception:  # noqa: BLE001 - found file by file below
        log.debug("batched prediction failed; predicting file by file", exc_info=True)
        return [predict_record(recognizer, path, display=display) for path, display in items]
    return [{"path": display, "error": _without_prefix(str(p), display)} if isinstance(p, AudioError)
            else {"path": display, **p.to_dict()} for (_, display), p in zip(items, predictions)]


def _chunks(items: Sequence, size: int) -> list[Sequence]:
    return [items[start:start + size] for start in range(0, len(items), size)]


def _without_prefix(message: str, display: str) -> str:
    """Error lines already carry the path; the message need not repeat it."""
    prefix = f"{display}: "
    return message.removeprefix(prefix)


# --- many files, in order --------------------------------------------------------------

def predict_records(recognizer, files: Sequence[Path], *, jobs: int = 1,
                    timeline: TimelineOptions | None = None, adapt: bool = False) -> Iterator[dict]:
    """Result lines of ``files``, yielded in input order as they are ready.

    With ``jobs > 1`` and at least ``MIN_FILES_PER_WORKER * jobs`` files, a pool of
    ``jobs`` worker processes predicts them (each loading the model from
    ``recognizer.path`` once, torch on one thread); otherwise this process does, on one
    torch thread. With ``adapt`` (:meth:`Recognizer.predict_batch`) every file's features
    are computed first, in this process, and standardised on the statistics of the
    files that could be read.
    """
    items = [(str(_resolved(f)), str(f)) for f in files]
    if adapt:
        with _torch_threads(1):
            yield from _adapted_records(recognizer, items)
    elif jobs > 1 and len(items) >= MIN_FILES_PER_WORKER * jobs and recognizer.path is not None:
        yield from _pool_records(recognizer, items, jobs, timeline)
    else:
        with _torch_threads(1):
            for chunk in _chunks(items, FILES_PER_CALL):
                yield from predict_chunk(recognizer, chunk, timeline=timeline)


def _adapted_records(recognizer, items) -> Iterator[dict]:
    features: dict[int, tuple[Any, float]] = {}
    errors: dict[int, dict] = {}
    for i, (path, display) in enumerate(items):
        record = _guarded(display, lambda: recognizer.raw_features(path, name=display))
        if isinstance(record, dict):
            errors[i] = record
        else:
            features[i] = (record[0], record[1] / recognizer.sample_rate)
    order = sorted(features)
    predictions = recognizer.predict_features([features[i][0] for i in order],
                                              [features[i][1] for i in order], adapt=True)
    by_index = dict(zip(order, predictions))
    for i, (_, display) in enumerate(items):
        yield errors[i] if i in errors else {"path": display, **by_index[i].to_dict()}


def _guarded(display: str, work):
    """``work()``, or the error line of ``display`` when it fails (never raises for a bad file)."""
    try:
        return work()
    except SerkitError as exc:
        return {"path": display, "error": _without_prefix(str(exc), display)}
    except Exception as exc:  # a library failing on one odd file must not stop the batch
        log.warning("%s: unexpected %s", display, type(exc).__name__, exc_info=True)
        return {"path": display, "error": f"unexpected {type(exc).__name__}: {exc}"}


def _pool_records(recognizer, items, jobs: int, timeline) -> Iterator[dict]:
    # Chunks of files predicted together amortise inter-process traffic and batch the
    # model; small enough that the last ones keep every worker busy.
    size = max(1, min(FILES_PER_CALL, math.ceil(len(items) / (4 * jobs))))
    executor = process_pool(jobs, _WORKER_PRELOAD, _init_worker,
                            (str(Path(recognizer.path).resolve()), timeline))
    done = 0
    try:
        for records in executor.map(_worker_chunk, _chunks(items, size)):
            for record in records:
                done += 1
                yield record
    except BrokenProcessPool as exc:
        # A worker died (out of memory, killed). What was written is kept; the rest is
        # done here rather than lost.
        log.warning("predict workers failed (%s); predicting the remaining %d files in this "
                    "process", exc, len(items) - done)
        with _torch_threads(1):
            for chunk in _chunks(items[done:], FILES_PER_CALL):
                yield from predict_chunk(recognizer, chunk, timeline=timeline)
    finally:
        executor.shutdown(wait=True, cancel_futures=True)


_WORKER_STATE: dict[str, Any] = {}


def _init_worker(model_path: str, timeline: TimelineOptions | None) -> None:
    # Ctrl-C reaches the whole process group; the parent alone handles it (stops the
    # pool, keeps what was written), instead of every worker printing a traceback.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    one_thread_per_worker()
    import torch

    from serkit.inference import load_model

    torch.set_num_threads(1)
    _WORKER_STATE["recognizer"] = load_model(model_path)
    _WORKER_STATE["timeline"] = timeline


def _worker_chunk(items: Sequence[tuple[str, str]]) -> list[dict]:
    return predict_chunk(_WORKER_STATE["recognizer"], items, timeline=_WORKER_STATE["timeline"])


@contextlib.contextmanager
def _torch_threads(n: int) -> Iterator[None]:
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def resolve_jobs(jobs: int | None) -> int:
    """``None``: every core this process may use; otherwise a positive count."""
    if jobs is None:
        return usable_cores()
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise ConfigError(f"--jobs must be a positive number of processes, not {jobs!r}")
    return jobs


# --- writers ------------------------------------------------------------------------------

class JsonlWriter:
    """One JSON object per line: the result line as :func:`predict_record` makes it."""

    def __init__(self, stream: IO[str], labels: Sequence[str]):
        self.stream = stream

    def header(self) -> None:
        """jsonl has no header."""

    def write(self, record: dict) -> None:
        self.stream.write(json.dumps(record, ensure_ascii=False) + "\n")
        self.stream.flush()


class CsvWriter:
    """``path, label, error`` and one probability column per class, one row per file."""

    def __init__(self, stream: IO[str], labels: Sequence[str]):
        self.stream = stream
        self.labels = list(labels)
        self._csv = csv.writer(stream, lineterminator="\n")

    def columns(self) -> list[str]:
        return ["path", "label", "error", *self.labels]

    def header(self) -> None:
        self._csv.writerow(self.columns())
        self.stream.flush()

    def write(self, record: dict) -> None:
        probabilities = record.get("probabilities", {})
        # Newlines in a field would make a torn row look complete on resume.
        cells = [record["path"], record.get("label", ""), _one_line(record.get("error", "")),
                 *(repr(probabilities[c]) if c in probabilities else "" for c in self.labels)]
        self._csv.writerow(cells)
        self.stream.flush()


class TableWriter:
    """Aligned columns for people: path, label, top probability, every class's probability.

    With a timeline, each file's segments follow its row, indented.
    """

    def __init__(self, stream: IO[str], labels: Sequence[str], *, path_width: int = 4):
        self.stream = stream
        self.labels = list(labels)
        self.path_width = max(4, path_width)
        self.label_width = max(5, *(len(_printable(label)) for label in self.labels))

    def header(self) -> None:
        cells = ["path".ljust(self.path_width), "label".ljust(self.label_width), "    p",
                 *(_printable(label).rjust(max(5, len(_printable(label)))) for label in self.labels)]
        self._line("  ".join(cells).rstrip())

    def write(self, record: dict) -> None:
        # A file name may hold a newline or a terminal escape: one row per file, whatever it is.
        head = [_printable(record["path"]).ljust(self.path_width)]
        if "error" in record:
            self._line("  ".join([*head, "ERROR".ljust(self.label_width),
                                  _printable(_one_line(record["error"]))]))
            return
        probabilities = record["probabilities"]
        cells = [*head, _printable(record["label"]).ljust(self.label_width),
                 f"{probabilities[record['label']]:.3f}",
                 *(f"{probabilities[c]:.3f}".rjust(max(5, len(_printable(c)))) for c in self.labels)]
        lines = ["  ".join(cells)]
        for segment in record.get("timeline", {}).get("segments", []):
            span = f"{segment['start_s']:7.2f} - {segment['end_s']:7.2f} s"
            lines.append(f"    {span}  {segment['label'].ljust(self.label_width)}  "
                         f"{segment['confidence']:.3f}")
        if record.get("timeline", {}).get("summary"):
            from serkit.inference.timeline_output import summary_line

            lines.append(f"    {summary_line(record['timeline']['summary'])}")
        self._line("\n".join(lines))

    def _line(self, text: str) -> None:
        self.stream.write(text + "\n")
        self.stream.flush()


WRITERS = {"table": TableWriter, "jsonl": JsonlWriter, "csv": CsvWriter}


def _one_line(text: str) -> str:
    return " ".join(str(text).splitlines())


def _printable(text: str) -> str:
    """``text`` with control characters (newline, tab, escape, ...) written as ``\\n``,
    ``\\t``, ``\\x1b``: one line that cannot move a terminal's cursor."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text)


# --- resume ---------------------------------------------------------------------------------

def read_previous(output: Path, fmt: str, labels: Sequence[str], *,
                  timeline: bool = False) -> tuple[list[dict], bytes]:
    """The result lines already in ``output``, and the bytes of its complete lines.

    A last line without its newline is a torn write from an interrupted run: it is not
    returned (nor in the bytes), so its file is predicted again.

    Raises:
        ConfigError: ``output`` holds something other than results of this kind (another
            format, another model's labels, with/without timelines).
    """
    data = output.read_bytes() if output.exists() else b""
    complete = data[: data.rfind(b"\n") + 1]
    if not complete:
        return [], b""
    text = complete.decode("utf-8", errors="replace")
    records = (_read_jsonl(text, output, labels, timeline) if fmt == "jsonl"
               else _read_csv(text, output, labels))
    return records, complete


def _not_ours(output: Path, what: str) -> ConfigError:
    return ConfigError(f"{output}: {what}; it cannot be resumed, so pass another --output "
                       "or delete the file")


def _read_jsonl(text: str, output: Path, labels: Sequence[str], timeline: bool) -> list[dict]:
    records = []
    # split("\n"), not splitlines(): JSON strings may hold U+2028 and other line breaks.
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            raise _not_ours(output, f"line {number} is not JSON (is it a jsonl results file?)") from None
        if not isinstance(record, dict) or not isinstance(record.get("path"), str):
            raise _not_ours(output, f"line {number} is not a `serkit predict` result")
        if "error" not in record:
            _check_result(record, number, output, labels, timeline)
        records.append(record)
    return records


def _check_result(record: dict, number: int, output: Path, labels: Sequence[str],
                  timeline: bool) -> None:
    probabilities = record.get("probabilities")
    if not isinstance(probabilities, dict) or list(probabilities) != list(labels):
        found = list(probabilities) if isinstance(probabilities, dict) else None
        raise _not_ours(output, f"line {number} has the labels {found}, not this model's {list(labels)}")
    if timeline != ("timeline" in record):
        done = "with" if "timeline" in record else "without"
        raise _not_ours(output, f"it was written {done} --timeline")


def _read_csv(text: str, output: Path, labels: Sequence[str]) -> list[dict]:
    rows = list(csv.reader(io.StringIO(text)))
    expected = CsvWriter(io.StringIO(), labels).columns()
    if rows[0] != expected:
        raise _not_ours(output, f"its header is {','.join(rows[0])!r}, not {','.join(expected)!r} "
                                "(another format or another model's labels)")
    records = []
    for number, row in enumerate(rows[1:], start=2):
        if len(row) != len(expected):
            raise _not_ours(output, f"line {number} has {len(row)} columns, not {len(expected)}")
        path, label, error = row[:3]
        records.append({"path": path, "error": error} if error else {"path": path, "label": label})
    return records


# --- the whole run --------------------------------------------------------------------------

@dataclass(frozen=True)
class BatchSummary:
    """What a run did: files found, predicted now (successfully), already in the output,
    and failed (``failed`` includes the ``failed_before`` error lines already in the output,
    so that the exit status says whether every file has a prediction)."""

    files: int
    predicted: int
    skipped: int
    failed: int
    output: Path | None = None
    failed_before: int = 0

    def describe(self) -> str:
        parts = [f"{self.files} file{'s' if self.files != 1 else ''}: {self.predicted} predicted"]
        if self.skipped:
            earlier = f" ({self.failed_before} of them error lines)" if self.failed_before else ""
            parts.append(f"{self.skipped} already in {self.output}{earlier}")
        failed_now = self.failed - self.failed_before
        parts.append(f"{failed_now} failed" if failed_now else "none failed")
        return ", ".join(parts)


def run_predict(paths: Sequence[str | Path], *, model: str | Path = "default", fmt: str = "table",
                output: str | Path | None = None, timeline: TimelineOptions | None = None,
                jobs: int | None = None, progress: bool = True,
                stdout: IO[str] | None = None, adapt: bool = False) -> BatchSummary:
    """Predict every audio file under ``paths`` and write one result per file.

    Args:
        paths: files and folders (see :func:`find_audio_files`).
        model: a bundled model name or a bundle folder.
        fmt: ``table``, ``jsonl`` or ``csv`` (with a timeline: one row per segment, written
            whole, not resumed).
        output: a file to write; jsonl and csv outputs that exist are resumed, a table is
            replaced (atomically, at the end). ``None`` writes to ``stdout``.
        timeline: window the files too (see :class:`TimelineOptions`).
        jobs: worker processes (``None``: every core).
        progress: progress on stderr (a bar on a terminal, log lines otherwise).
        adapt: standardise on the statistics of this call's files
            (:meth:`~serkit.inference.Recognizer.predict_batch`); one process, no timeline,
            and no resuming (a resumed output would mix the statistics of two calls).

    Returns:
        The :class:`BatchSummary`; ``failed`` counts this run's files with an error line,
        including ones already in a resumed output.

    Raises:
        ConfigError: unknown format or model, a timeline csv over results, bad windowing or jobs,
            an output that is not results of this kind or that cannot be written (a
            folder, in a folder that cannot be made or written).
        AudioError: no audio files (a path that does not exist gets its own error line).
    """
    from serkit.inference import MIN_DURATION_S, load_model
    from serkit.inference.timeline import check_windowing

    if fmt not in FORMATS:
        raise ConfigError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
    if timeline is not None:
        check_windowing(timeline.window_s, timeline.hop_s, min_window_s=MIN_DURATION_S)
        if fmt == "csv" and output is not None and Path(output).is_file() and Path(output).stat().st_size:
            raise ConfigError(f"--output {output} already holds results, and --timeline csv (one "
                              "row per segment) cannot resume; pass a new --output, or use jsonl")
    jobs = resolve_jobs(jobs)
    output = Path(output) if output is not None else None
    if output is not None:
        check_output(output)
    if adapt and timeline is not None:
        raise ConfigError("--adapt standardises whole files on the statistics of the call; it "
                          "does not apply to --timeline windows: use one or the other")
    if adapt and output is not None and output.exists() and output.stat().st_size:
        raise ConfigError(f"--output {output} already holds results, and --adapt cannot resume: "
                          "its statistics are those of one call's files. Pass a new --output")
    files = find_audio_files(paths)
    recognizer = load_model(model)
    work = _Work(timeline, jobs, progress, adapt)
    if output is not None and fmt in RESUMABLE_FORMATS and not (timeline is not None and fmt == "csv"):
        return _run_resumable(recognizer, files, fmt, output, work)
    return _run_fresh(recognizer, files, fmt, output, work, stdout or sys.stdout)


@dataclass(frozen=True)
class _Work:
    """How the files of one run are predicted (the options :func:`predict_records` takes)."""

    timeline: TimelineOptions | None
    jobs: int
    progress: bool
    adapt: bool


def check_output(output: Path) -> None:
    """ConfigError unless ``output`` can be written as a results file, checked before any work.

    It must not be a folder or another non-regular file, and its folder must exist or be
    creatable, and be writable.
    """
    if output.is_dir():
        raise ConfigError(f"--output {output} is a folder; name a file in it, e.g. "
                          f"{output / 'predictions.jsonl'}")
    if output.exists() and not output.is_file():
        raise ConfigError(f"--output {output} is not a regular file; leave out --output to "
                          "write to standard output")
    if output.exists() and not os.access(output, os.W_OK):
        raise ConfigError(f"--output {output} cannot be written (no permission); pass another file")
    folder = output.absolute().parent
    while not os.path.lexists(folder) and folder != folder.parent:
        folder = folder.parent
    if not folder.is_dir():
        raise ConfigError(f"--output {output} cannot be written: {folder} is not a folder")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise ConfigError(f"--output {output} cannot be written: no permission to write in {folder}")


def _run_fresh(recognizer, files, fmt, output, work: _Work, stdout) -> BatchSummary:
    from serkit.fileio import atomic_open

    if output is None:
        failed = _write_all(recognizer, files, fmt, stdout, work)
    else:  # a table: people read it whole, so it appears whole or not at all
        with atomic_open(output, "w", encoding="utf-8", newline="") as stream:
            failed = _write_all(recognizer, files, fmt, stream, work)
    return BatchSummary(len(files), len(files) - failed, 0, failed, output)


def _run_resumable(recognizer, files, fmt, output, work: _Work) -> BatchSummary:
    from serkit.fileio import atomic_write_bytes

    previous, complete = read_previous(output, fmt, recognizer.labels, timeline=work.timeline is not None)
    if output.exists() and output.stat().st_size != len(complete):
        log.warning("%s: dropping a torn last line from an interrupted run", output)
        atomic_write_bytes(output, complete)
    done = {_resolved(Path(r["path"])): r for r in previous}
    todo = [f for f in files if _resolved(f) not in done]
    failed_before = sum(1 for f in files if "error" in done.get(_resolved(f), {}))
    output.parent.mkdir(parents=True, exist_ok=True)
    with open(output, "a", encoding="utf-8", newline="") as stream:
        failed = _write_all(recognizer, todo, fmt, stream, work, header=not complete)
    return BatchSummary(len(files), len(todo) - failed, len(files) - len(todo), failed + failed_before, output,
                        failed_before)


def _write_all(recognizer, files, fmt, stream, work: _Work, *, header=True) -> int:
    """Predict ``files`` and write their lines to ``stream``; returns how many failed."""
    writer = _make_writer(fmt, stream, recognizer.labels, files, timeline=work.timeline is not None)
    if header:
        writer.header()
    failed = 0
    bar = progress_bar(total=len(files), unit="file", desc="predict", enabled=work.progress)
    try:
        for record in predict_records(recognizer, files, jobs=work.jobs, timeline=work.timeline,
                                      adapt=work.adapt):
            failed += "error" in record
            with bar.external_write_mode(file=sys.stderr):
                writer.write(record)
            bar.update(1)
    finally:
        bar.close()
    return failed


def _make_writer(fmt: str, stream: IO[str], labels: Sequence[str], files: Iterable[Path], *,
                 timeline: bool = False):
    if fmt == "csv" and timeline:
        from serkit.inference.timeline_output import TimelineCsvWriter

        return TimelineCsvWriter(stream, labels)
    if fmt == "table":
        return TableWriter(stream, labels, path_width=max((len(_printable(str(f))) for f in files),
                                                            default=4))
    return WRITERS[fmt](stream, labels)
