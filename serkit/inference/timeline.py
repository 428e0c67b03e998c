"""Emotion over time: overlapping windows of a recording, and segments merged from them.

A recording is cut into windows of ``window_s`` seconds every ``hop_s`` seconds; the last
window ends at the recording's end (so the end is never dropped), and a recording shorter
than one window is one window. Each window gets the model's probabilities.

Segments turn the overlapping windows into a partition of ``[0, duration]``: each window
owns the stretch between the midpoints of its centre and its neighbours' centres (the
first from 0, the last to the end), and consecutive windows with the same label merge into
one segment whose ``confidence`` is the mean probability of that label over its windows.

Example:
    >>> w = [TimelineWindow(0.0, 3.0, "anger", {"anger": 0.9, "neutral": 0.1}),
    ...      TimelineWindow(1.0, 4.0, "anger", {"anger": 0.7, "neutral": 0.3}),
    ...      TimelineWindow(2.0, 5.0, "neutral", {"anger": 0.4, "neutral": 0.6})]
    >>> [(s.start_s, s.end_s, s.label, round(s.confidence, 2)) for s in merge_segments(w, 5.0)]
    [(0.0, 3.0, 'anger', 0.8), (3.0, 5.0, 'neutral', 0.6)]
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import pairwise

import numpy as np

from serkit.audio import SampleBuffer
from serkit.errors import ConfigError


@dataclass(frozen=True)
class TimelineWindow:
    """One analysis window: where it is and what the model says about it."""

    start_s: float
    end_s: float
    label: str
    probabilities: dict[str, float]

    def to_dict(self) -> dict:
        return {"start_s": self.start_s, "end_s": self.end_s, "label": self.label,
                "probabilities": dict(self.probabilities)}


@dataclass(frozen=True)
class Segment:
    """A stretch of the recording with one label; segments tile ``[0, duration]``."""

    start_s: float
    end_s: float
    label: str
    confidence: float

    def to_dict(self) -> dict:
        return {"start_s": self.start_s, "end_s": self.end_s, "label": self.label,
                "confidence": self.confidence}


@dataclass(frozen=True)
class Timeline:
    """The windows of a recording and the segments merged from them."""

    windows: list[TimelineWindow]
    segments: list[Segment]
    duration_s: float
    window_s: float = field(default=0.0)
    hop_s: float = field(default=0.0)

    def to_dict(self) -> dict:
        return {"duration_s": self.duration_s, "window_s": self.window_s, "hop_s": self.hop_s,
                "windows": [w.to_dict() for w in self.windows],
                "segments": [s.to_dict() for s in self.segments]}


def check_windowing(window_s: float, hop_s: float, *, min_window_s: float = 0.0) -> None:
    """Raise ConfigError unless ``min_window_s <= window_s`` (and > 0) and ``0 < hop_s <= window_s``."""
    for key, value in (("window_s", window_s), ("hop_s", hop_s)):
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
            raise ConfigError(f"{key} must be a number of seconds, not {value!r}")
    if window_s <= 0 or window_s < min_window_s:
        floor = f"at least {min_window_s:g} s (the shortest audio the model takes)" if min_window_s \
            else "positive"
        raise ConfigError(f"window_s must be {floor}, not {window_s:g}")
    if not 0 < hop_s <= window_s:
        raise ConfigError(f"hop_s must be positive and at most window_s ({window_s:g} s), not {hop_s:g}; "
                          "windows may overlap but not leave gaps")


def window_bounds(n_samples: int, window: int, hop: int) -> list[tuple[int, int]]:
    """``(start, end)`` sample indices of the windows of a signal of ``n_samples``.

    Windows of ``window`` samples every ``hop``; the last ends at ``n_samples``. A signal no
    longer than one window is one window of all of it.

    Example:
        >>> window_bounds(10, 4, 3)
        [(0, 4), (3, 7), (6, 10)]
        >>> window_bounds(11, 4, 3)
        [(0, 4), (3, 7), (6, 10), (7, 11)]
    """
    if n_samples <= window:
        return [(0, n_samples)]
    bounds = [(start, start + window) for start in range(0, n_samples - window + 1, hop)]
    if bounds[-1][1] < n_samples:
        bounds.append((n_samples - window, n_samples))
    return bounds


def sliding_windows(blocks: Iterable[np.ndarray], window: int,
                    hop: int) -> Iterator[tuple[int, int, np.ndarray]]:
    """The windows of :func:`window_bounds` over a signal that comes in blocks, each as
    soon as the blocks reach its end: ``(start, end, samples)``.

    Holds about one window, one hop and one block of samples, however long the signal:
    the last ``window`` samples are always kept, for the window that ends at the end.
    ``samples`` is only valid until the next window is asked for.

    Example:
        >>> blocks = [np.arange(4.0), np.arange(4.0, 11.0)]
        >>> [(s, e, x.tolist()) for s, e, x in sliding_windows(blocks, 4, 3)][-2:]
        [(6, 10, [6.0, 7.0, 8.0, 9.0]), (7, 11, [7.0, 8.0, 9.0, 10.0])]
    """
    if window < 1 or hop < 1:
        raise ValueError(f"window and hop must be at least 1 sample, not {window} and {hop}")
    buffer = SampleBuffer()
    start = 0          # the next window's start
    last_end = 0
    for block in blocks:
        if not block.size:
            continue
        buffer.append(block)
        while start + window <= buffer.total:
            yield start, start + window, buffer.take(start, start + window)
            last_end = start + window
            start += hop
        buffer.drop_before(min(start, max(0, buffer.total - window)))
    total = buffer.total
    if total == 0:
        return
    if last_end == 0:                 # no longer than one window: one window of all of it
        yield 0, total, buffer.take(0, total)
    elif last_end < total:
        yield total - window, total, buffer.take(total - window, total)


def windows_from_probabilities(bounds: Sequence[tuple[int, int]], probabilities: np.ndarray,
                               labels: Sequence[str], sample_rate: int) -> list[TimelineWindow]:
    """One :class:`TimelineWindow` per row of ``probabilities`` ``(windows, classes)``."""
    return [
        TimelineWindow(start / sample_rate, end / sample_rate, labels[int(np.argmax(p))],
                       {label: float(v) for label, v in zip(labels, p)})
        for (start, end), p in zip(bounds, probabilities)
    ]


def merge_segments(windows: Sequence[TimelineWindow], duration_s: float) -> list[Segment]:
    """Segments covering ``[0, duration_s]`` from windows ordered by start (module docstring).

    Returns:
        Contiguous, non-overlapping segments (the first starts at 0, the last ends at
        ``duration_s``); consecutive segments have different labels. Empty for no windows.

    Raises:
        ValueError: windows out of order, or a window ending after ``duration_s``.
    """
    if not windows:
        return []
    centres = [(w.start_s + w.end_s) / 2 for w in windows]
    if any(b < a for a, b in pairwise(centres)):
        raise ValueError("merge_segments needs windows in time order")
    if max(w.end_s for w in windows) > duration_s + 1e-9:
        raise ValueError(f"a window ends after the recording ({duration_s} s)")
    # Window i owns [edges[i], edges[i + 1]].
    edges = [0.0, *((a + b) / 2 for a, b in pairwise(centres)), float(duration_s)]
    segments: list[Segment] = []
    run_start = 0
    for i in range(1, len(windows) + 1):
        if i == len(windows) or windows[i].label != windows[run_start].label:
            label = windows[run_start].label
            run = windows[run_start:i]
            confidence = float(np.mean([w.probabilities[label] for w in run]))
            segments.append(Segment(edges[run_start], edges[i], label, confidence))
            run_start = i
    return segments
