"""Progress of long steps: a tqdm bar on a terminal, plain log lines anywhere else.

Every long step (features, folds, epochs, batch prediction, embeddings) makes its
progress display with :func:`progress_bar`. On a terminal that is a tqdm bar. Elsewhere
(CI logs, ``| tee``, a file) a bar's carriage returns and cursor codes turn into noise,
and hiding it hides the step that takes longest (features on a cold cache), so the
display is a :class:`LineProgress`: one whole line now and then, and one at the end.

In both, the rate and the ETA count from the first completed item: the time before it
(worker processes importing, a model loading) says nothing about the rest, and counting it
made the first ETA read an hour. Until an item after the first completes, the ETA is "?".

Example:
    >>> import io
    >>> out = io.StringIO()
    >>> bar = progress_bar(total=3, desc="demo", unit="file", stream=out)
    >>> for _ in range(3):
    ...     bar.update(1)
    >>> bar.close()
    >>> out.getvalue().startswith("demo: 3/3 files (100%) in ")
    True
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from typing import IO, Any, Self

#: A line mode's minimum time between two lines that mark a new tenth of the work.
STEP_INTERVAL_S = 5.0
#: A line mode's longest silence while work advances (a tenth of a big step can take minutes).
MAX_SILENCE_S = 30.0


def progress_bar(iterable: Iterable | None = None, *, total: int | None = None, desc: str = "",
                 unit: str = "it", initial: int = 0, leave: bool = True, enabled: bool = True,
                 stream: IO[str] | None = None):
    """The progress display of one step: a tqdm bar, a :class:`LineProgress` or nothing.

    Args:
        iterable: iterate the display to go through this, counting one per item.
        total: the number of items (default: ``len(iterable)`` where it has one).
        desc: what the step is, e.g. ``"logmel features"``.
        unit: what an item is (``"file"``); ``"it"`` leaves it unnamed in log lines.
        initial: items already done (resumed or cached); they do not count towards the rate.
        leave: on a terminal, keep the bar once done (log lines always stay).
        enabled: False shows nothing.
        stream: where to write (default: ``sys.stderr`` at the time of the call); a bar
            when it is a terminal, log lines otherwise.

    Returns:
        An object with ``update(n)``, ``set_postfix(**values)``, ``close()``,
        ``external_write_mode()``, iteration (over ``iterable``) and ``with``.
    """
    if total is None and iterable is not None and hasattr(iterable, "__len__"):
        total = len(iterable)
    if not enabled:
        return _Off(iterable)
    stream = stream if stream is not None else sys.stderr
    if _is_terminal(stream):
        return _terminal_bar(iterable, total=total, desc=desc, unit=unit, initial=initial,
                             leave=leave, stream=stream)
    return LineProgress(iterable, total=total, desc=desc, unit=unit, initial=initial, stream=stream)


def _is_terminal(stream) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False


class _Rate:
    """Items per second since the first completed item (the start-up before it excluded)."""

    def __init__(self, initial: int, clock: Callable[[], float]):
        self._initial = initial
        self._clock = clock
        self._first: tuple[float, float] | None = None  # (time, count) at the first completion

    def observe(self, n: float) -> None:
        if self._first is None and n > self._initial:
            self._first = (self._clock(), n)

    def per_second(self, n: float) -> float | None:
        """None until an item after the first has completed."""
        if self._first is None or n <= self._first[1]:
            return None
        seconds = self._clock() - self._first[0]
        return (n - self._first[1]) / seconds if seconds > 0 else None


class LineProgress:
    """Progress as whole lines: no carriage returns, no terminal codes.

    A line when the work reaches a new tenth and :data:`STEP_INTERVAL_S` have passed since
    the last line, or when it advanced and :data:`MAX_SILENCE_S` have passed; a last line
    on ``close()`` when any work was done. A step that finishes quickly prints one line.
    """

    def __init__(self, iterable: Iterable | None = None, *, total: int | None, desc: str,
                 unit: str = "it", initial: int = 0, stream: IO[str],
                 clock: Callable[[], float] = time.monotonic,
                 step_interval_s: float = STEP_INTERVAL_S, max_silence_s: float = MAX_SILENCE_S):
        self.iterable = iterable
        self.total, self.desc, self.unit, self.initial = total, desc, unit, initial
        self.n = initial
        self._stream = stream
        self._clock = clock
        self._step_interval_s, self._max_silence_s = step_interval_s, max_silence_s
        self._started = clock()
        self._rate = _Rate(initial, clock)
        self._last_line_at, self._last_line_n, self._last_tenth = self._started, initial, self._tenth(initial)
        self._postfix = ""
        self._closed = False

    def __iter__(self) -> Iterator:
        try:
            for item in self.iterable:
                yield item
                self.update(1)
        finally:  # also on break: the generator is closed, and the last line written
            self.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def update(self, n: int = 1) -> None:
        self.n += n
        self._rate.observe(self.n)
        if self.total and self.n >= self.total:
            return  # the last line, on close(), says it
        now = self._clock()
        since = now - self._last_line_at
        tenth = self._tenth(self.n)
        if ((tenth > self._last_tenth and since >= self._step_interval_s)
                or (self.n > self._last_line_n and since >= self._max_silence_s)):
            self._write(self._progress_line(now))

    def set_postfix(self, **values: Any) -> None:
        """Values shown at the end of the next line, e.g. the last epoch's loss."""
        self._postfix = " ".join(f"{key}={value}" for key, value in values.items())

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self.n > self.initial:
            self._write(self._final_line(self._clock()))

    @staticmethod
    def external_write_mode(*args, **kwargs):
        """Other output needs no care around whole lines (tqdm's bar needs this)."""
        return contextlib.nullcontext()

    def _tenth(self, n: float) -> int:
        return int(10 * n // self.total) if self.total else 0

    def _count(self) -> str:
        unit = "" if self.unit == "it" else f" {self.unit}s"
        if not self.total:
            return f"{self.n}{unit}"
        return f"{self.n}/{self.total}{unit} ({100 * self.n // self.total}%)"

    def _progress_line(self, now: float) -> str:
        rate = self._rate.per_second(self.n)
        parts = [f"{_duration(now - self._started)} elapsed"]
        if self.total:
            eta = _duration((self.total - self.n) / rate) if rate else "?"
            parts.append(f"ETA {eta}")
        if rate:
            parts.append(_rate_text(rate, self.unit))
        return f"{self.desc}: {self._count()}, {', '.join(parts)}"

    def _final_line(self, now: float) -> str:
        line = f"{self.desc}: {self._count()} in {_duration(now - self._started)}"
        rate = self._rate.per_second(self.n)
        return f"{line}, {_rate_text(rate, self.unit)}" if rate else line

    def _write(self, line: str) -> None:
        if self._postfix:
            line = f"{line}, {self._postfix}"
        self._stream.write(line + "\n")
        self._stream.flush()
        self._last_line_at, self._last_line_n, self._last_tenth = self._clock(), self.n, self._tenth(self.n)


def _duration(seconds: float) -> str:
    seconds = round(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m"
    return f"{minutes}m{seconds:02d}s" if minutes else f"{seconds}s"


def _rate_text(rate: float, unit: str) -> str:
    unit = "item" if unit == "it" else unit
    return f"{rate:.2f} {unit}/s" if rate >= 1 else f"{1 / rate:.1f} s/{unit}"


class _Off:
    """No display: iterates, and ignores the rest."""

    def __init__(self, iterable):
        self.iterable = iterable

    def __iter__(self) -> Iterator:
        return iter(self.iterable)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc) -> None:
        pass

    def update(self, n: int = 1) -> None:
        pass

    def set_postfix(self, **values: Any) -> None:
        pass

    def close(self) -> None:
        pass

    @staticmethod
    def external_write_mode(*args, **kwargs):
        return contextlib.nullcontext()


def _terminal_bar(iterable, *, total, desc, unit, initial, leave, stream):
    # Imported here: tqdm starts a monitor thread, and nothing else needs it without a terminal.
    from tqdm.std import tqdm

    class _Bar(tqdm):
        """tqdm, with the rate and ETA of :class:`_Rate` instead of tqdm's own."""

        def __init__(self, *args, **kwargs):
            self._since_first = _Rate(kwargs.get("initial", 0), time.monotonic)
            super().__init__(*args, **kwargs)

        def __iter__(self):
            # One update per item, so that the first completion is seen when it happens.
            try:
                for item in self.iterable:
                    yield item
                    self.update(1)
            finally:
                self.close()

        def update(self, n=1):
            self._since_first.observe(self.n + n)
            return super().update(n)

        @property
        def format_dict(self):
            values = super().format_dict
            if "rate" in values:  # not the stub dict of a bar disabled before it started
                values["rate"] = self._since_first.per_second(values["n"])
                if values["rate"] is None:
                    # tqdm falls back on the average since the start, start-up included;
                    # with no completed items "since" it shows '?' instead.
                    values["initial"] = values["n"]
            return values

    return _Bar(iterable, total=total, desc=desc, unit=unit, initial=initial, leave=leave,
                file=stream, dynamic_ncols=True)
