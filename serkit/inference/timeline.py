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

That is the raw merge. A :class:`Timeline` is built by :func:`build_timeline`, which first
smooths the windows (:data:`SMOOTHING_METHODS`: a moving median or mean of the
probabilities over ``smooth_windows`` windows, or a Viterbi path that pays
``switch_penalty`` for each change of label), so that one odd window does not make a
segment of its own; then cuts out the stretches the speech detector
(:mod:`serkit.inference.speech_activity`) finds no speech in, as segments labelled
:data:`NON_SPEECH`; then folds emotion segments shorter than ``min_segment_s`` into their
longer neighbour within the same stretch of speech. Its :class:`Summary` gives the share
of the speech time each label holds: on a long recording of mixed emotions that says more
than one prediction over the whole file, which is an average of them.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Iterable, Iterator, Sequence
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
    #: The share of the window's 20 ms frames the speech detector called speech (1.0 when
    #: speech detection is off): windows under :data:`MIN_SPEECH_SHARE` carry no weight
    #: when the timeline is smoothed.
    speech: float = 1.0

    def to_dict(self) -> dict:
        return {"start_s": self.start_s, "end_s": self.end_s, "label": self.label,
                "probabilities": dict(self.probabilities), "speech": self.speech}


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


#: The label of the segments where the speech detector finds no speech.
NON_SPEECH = "non-speech"
#: How windows can be smoothed before segments are made (:func:`smooth`).
SMOOTHING_METHODS = ("median", "mean", "viterbi", "none")
#: A window with a smaller share of speech frames carries no evidence when smoothing: its
#: probabilities are the model's guess about silence or noise.
MIN_SPEECH_SHARE = 0.25


@dataclass(frozen=True)
class Segmenting:
    """How windows become segments (module docstring; defaults for 3 s windows every 1 s).

    Attributes:
        smoothing: one of :data:`SMOOTHING_METHODS`.
        smooth_windows: windows the median or mean runs over (odd; 1 is no smoothing).
        switch_penalty: what a change of label costs the Viterbi path, in nats of
            log-probability: about how much better a new label must explain the windows
            for the path to switch to it.
        min_segment_s: emotion segments shorter than this are folded into a neighbour
            within the same stretch of speech (0: keep them all).
        vad: speech detection, ``"energy"`` or ``"none"`` (the whole recording is speech).
    """

    smoothing: str = "median"
    smooth_windows: int = 5
    switch_penalty: float = 4.0
    min_segment_s: float = 2.0
    vad: str = "energy"

    def __post_init__(self):
        from serkit.inference.speech_activity import check_vad

        if self.smoothing not in SMOOTHING_METHODS:
            raise ConfigError(f"unknown smoothing {self.smoothing!r}; use one of "
                              f"{', '.join(SMOOTHING_METHODS)}")
        if isinstance(self.smooth_windows, bool) or not isinstance(self.smooth_windows, numbers.Integral) \
                or self.smooth_windows < 1 or self.smooth_windows % 2 == 0:
            raise ConfigError(f"smooth_windows must be an odd whole number of windows (1, 3, 5, ...), "
                              f"not {self.smooth_windows!r}")
        for key in ("switch_penalty", "min_segment_s"):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, numbers.Real) \
                    or not math.isfinite(value) or value < 0:
                raise ConfigError(f"{key} must be a number of {'seconds' if key == 'min_segment_s' else 'nats'}"
                                  f" of at least 0, not {value!r}")
        check_vad(self.vad)

    def to_dict(self) -> dict:
        return {"smoothing": self.smoothing, "smooth_windows": self.smooth_windows,
                "switch_penalty": self.switch_penalty, "min_segment_s": self.min_segment_s,
                "vad": self.vad}


@dataclass(frozen=True)
class Summary:
    """The whole recording in shares of time rather than one averaged prediction.

    ``shares`` has every label of the model, in its order: the share of the *speech* time
    its segments cover (they sum to 1 when there is any speech; all 0 without). ``label``
    is the label with the largest share (None without speech).
    """

    speech_s: float
    non_speech_s: float
    shares: dict[str, float]
    label: str | None

    def to_dict(self) -> dict:
        return {"speech_s": self.speech_s, "non_speech_s": self.non_speech_s,
                "shares": dict(self.shares), "label": self.label}


@dataclass(frozen=True)
class Timeline:
    """The windows of a recording, the segments made of them and their summary."""

    windows: list[TimelineWindow]
    segments: list[Segment]
    duration_s: float
    window_s: float = field(default=0.0)
    hop_s: float = field(default=0.0)
    summary: Summary | None = None
    segmenting: Segmenting | None = None

    def to_dict(self) -> dict:
        out = {"duration_s": self.duration_s, "window_s": self.window_s, "hop_s": self.hop_s,
               "windows": [w.to_dict() for w in self.windows],
               "segments": [s.to_dict() for s in self.segments]}
        if self.summary is not None:
            out["summary"] = self.summary.to_dict()
        if self.segmenting is not None:
            out["segmenting"] = self.segmenting.to_dict()
        return out


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


class Windower:
    """The windows of :func:`window_bounds` over a signal pushed in blocks: :meth:`push`
    gives those each block completes, :meth:`finish` the last one (ending at the end).

    Holds about one window, one hop and one block of samples, however long the signal:
    the last ``window`` samples are always kept, for the window that ends at the end.
    The ``samples`` of a window are only valid until the next block is pushed.
    """

    def __init__(self, window: int, hop: int):
        if window < 1 or hop < 1:
            raise ValueError(f"window and hop must be at least 1 sample, not {window} and {hop}")
        self.window, self.hop = window, hop
        self._buffer = SampleBuffer()
        self._start = 0       # the next window's start
        self._last_end = 0

    @property
    def total(self) -> int:
        """Samples pushed so far."""
        return self._buffer.total

    def push(self, block: np.ndarray) -> list[tuple[int, int, np.ndarray]]:
        """``(start, end, samples)`` of the windows that end within ``block``."""
        if not block.size:
            return []
        buffer = self._buffer
        buffer.append(block)
        out = []
        while self._start + self.window <= buffer.total:
            start, end = self._start, self._start + self.window
            out.append((start, end, buffer.take(start, end)))
            self._last_end = end
            self._start += self.hop
        buffer.drop_before(min(self._start, max(0, buffer.total - self.window)))
        return out

    def finish(self) -> list[tuple[int, int, np.ndarray]]:
        """The window that ends at the end, when no window has yet (a signal no longer
        than one window is one window of all of it); none for an empty signal."""
        total = self._buffer.total
        if total == 0:
            return []
        if self._last_end == 0:
            return [(0, total, self._buffer.take(0, total))]
        if self._last_end < total:
            return [(total - self.window, total, self._buffer.take(total - self.window, total))]
        return []


def sliding_windows(blocks: Iterable[np.ndarray], window: int,
                    hop: int) -> Iterator[tuple[int, int, np.ndarray]]:
    """The windows of :func:`window_bounds` over a signal that comes in blocks, each as
    soon as the blocks reach its end: ``(start, end, samples)`` (a :class:`Windower`).

    ``samples`` is only valid until the next window is asked for.

    Example:
        >>> blocks = [np.arange(4.0), np.arange(4.0, 11.0)]
        >>> [(s, e, x.tolist()) for s, e, x in sliding_windows(blocks, 4, 3)][-2:]
        [(6, 10, [6.0, 7.0, 8.0, 9.0]), (7, 11, [7.0, 8.0, 9.0, 10.0])]
    """
    windower = Windower(window, hop)
    for block in blocks:
        yield from windower.push(block)
    yield from windower.finish()


def windows_from_probabilities(bounds: Sequence[tuple[int, int]], probabilities: np.ndarray,
                               labels: Sequence[str], sample_rate: int,
                               speech: Sequence[float] | None = None) -> list[TimelineWindow]:
    """One :class:`TimelineWindow` per row of ``probabilities`` ``(windows, classes)``;
    ``speech`` the windows' speech shares (default 1.0 each)."""
    speech = [1.0] * len(bounds) if speech is None else speech
    return [
        TimelineWindow(start / sample_rate, end / sample_rate, labels[int(np.argmax(p))],
                       {label: float(v) for label, v in zip(labels, p)}, float(share))
        for (start, end), p, share in zip(bounds, probabilities, speech)
    ]


def window_edges(windows: Sequence[TimelineWindow], duration_s: float) -> list[float]:
    """Window ``i`` owns ``[edges[i], edges[i + 1]]``: cuts midway between window centres,
    from 0 to ``duration_s``.

    Raises:
        ValueError: windows out of order, or a window ending after ``duration_s``.
    """
    centres = [(w.start_s + w.end_s) / 2 for w in windows]
    if any(b < a for a, b in pairwise(centres)):
        raise ValueError("segments need windows in time order")
    if max(w.end_s for w in windows) > duration_s + 1e-9:
        raise ValueError(f"a window ends after the recording ({duration_s} s)")
    return [0.0, *((a + b) / 2 for a, b in pairwise(centres)), float(duration_s)]


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
    edges = window_edges(windows, duration_s)
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


# --- smoothing, speech and the segments of a Timeline ---------------------------------

def smooth(probabilities: np.ndarray, speech: np.ndarray,
           segmenting: Segmenting) -> tuple[np.ndarray, np.ndarray]:
    """The smoothed probabilities ``(windows, classes)`` and the label index of each window.

    Only windows with a speech share of at least :data:`MIN_SPEECH_SHARE` count as
    evidence (all of them when none has that much). A moving median or mean runs over the
    evidence among the ``smooth_windows`` windows around each one; a window with no
    evidence around it keeps its own probabilities. ``viterbi`` keeps the probabilities
    and chooses the labels: the path that best explains the evidence windows, less
    ``switch_penalty`` for every change of label (windows without evidence take the
    labels around them).

    Example:
        >>> p = np.array([[.9, .1], [.8, .2], [.3, .7], [.9, .1], [.8, .2]])
        >>> smooth(p, np.ones(5), Segmenting(smoothing="median", smooth_windows=3))[1].tolist()
        [0, 0, 0, 0, 0]
    """
    probabilities = np.asarray(probabilities, dtype=np.float64)
    evidence = np.asarray(speech) >= MIN_SPEECH_SHARE
    if not evidence.any():
        evidence = np.ones(len(probabilities), bool)
    method = segmenting.smoothing
    if method == "viterbi":
        return probabilities, viterbi(probabilities, evidence, segmenting.switch_penalty)
    if method == "none" or segmenting.smooth_windows == 1:
        return probabilities, probabilities.argmax(axis=1)
    half = segmenting.smooth_windows // 2
    weights = np.where(evidence, np.asarray(speech, dtype=np.float64), 0.0)
    out = probabilities.copy()
    for i in range(len(probabilities)):
        lo, hi = max(0, i - half), min(len(probabilities), i + half + 1)
        near = np.flatnonzero(evidence[lo:hi]) + lo
        if not near.size:
            continue
        if method == "median":
            row = np.median(probabilities[near], axis=0)
        else:  # mean, weighted by how much of each window is speech
            row = np.average(probabilities[near], axis=0, weights=weights[near])
        out[i] = row / row.sum() if row.sum() > 0 else probabilities[i]
    return out, out.argmax(axis=1)


def viterbi(probabilities: np.ndarray, evidence: np.ndarray, switch_penalty: float) -> np.ndarray:
    """The label path maximising the evidence windows' log-probabilities less
    ``switch_penalty`` per change of label.

    Example:
        >>> p = np.array([[.9, .1], [.4, .6], [.9, .1], [.1, .9], [.1, .9]])
        >>> viterbi(p, np.ones(5, bool), 1.0).tolist()
        [0, 0, 0, 1, 1]
    """
    n, k = probabilities.shape
    emit = np.where(evidence[:, None], np.log(np.clip(probabilities, 1e-12, 1.0)), 0.0)
    score = emit[0].copy()
    back = np.zeros((n, k), dtype=np.int64)
    for t in range(1, n):
        best = int(np.argmax(score))
        switch = score[best] - switch_penalty
        stay = score >= switch          # ties stay: a change must pay for itself
        back[t] = np.where(stay, np.arange(k), best)
        score = np.where(stay, score, switch) + emit[t]
    path = np.zeros(n, dtype=np.int64)
    path[-1] = int(np.argmax(score))
    for t in range(n - 1, 0, -1):
        path[t - 1] = back[t, path[t]]
    return path


def build_segments(windows: Sequence[TimelineWindow], duration_s: float,
                   speech_regions: Sequence[tuple[float, float]] | None,
                   segmenting: Segmenting, *,
                   non_speech_share: Callable[[float, float], float] | None = None) -> list[Segment]:
    """Segments tiling ``[0, duration_s]`` from smoothed windows (module docstring).

    Args:
        windows: in time order, with their speech shares.
        speech_regions: ``(start_s, end_s)`` stretches of speech in order; the time
            between them becomes :data:`NON_SPEECH` segments. None: all of it is speech.
        segmenting: smoothing and minimum segment length.
        non_speech_share: the confidence of a non-speech segment from its span: the share
            of its frames the detector called non-speech (default 1.0).

    An emotion segment's ``confidence`` is the mean smoothed probability of its label over
    the windows whose stretches it covers, each counted by the share of its stretch inside.
    """
    if not windows:
        return []
    labels = list(windows[0].probabilities)
    probabilities = np.array([[w.probabilities[k] for k in labels] for w in windows])
    smoothed, chosen = smooth(probabilities, np.array([w.speech for w in windows]), segmenting)
    edges = window_edges(windows, duration_s)
    pieces = _runs(chosen, edges)
    regions = [(0.0, float(duration_s))] if speech_regions is None else list(speech_regions)
    segments: list[Segment] = []
    cursor = 0.0
    share = non_speech_share or (lambda a, b: 1.0)

    def gap(end: float) -> None:
        if end > cursor:
            segments.append(Segment(cursor, end, NON_SPEECH, float(share(cursor, end))))

    for start, end in regions:
        gap(start)
        inside = [[max(a, start), min(b, end), k] for a, b, k in pieces if min(b, end) > max(a, start)]
        for a, b, k in _fold_short(inside, segmenting.min_segment_s):
            segments.append(Segment(a, b, labels[k], _confidence(smoothed[:, k], edges, a, b)))
        cursor = end
    gap(float(duration_s))
    return segments


def _runs(chosen: np.ndarray, edges: Sequence[float]) -> list[list]:
    """``[start_s, end_s, label index]`` of the runs of equal labels in ``chosen``."""
    out: list[list] = []
    for i, k in enumerate(chosen.tolist()):
        if out and out[-1][2] == k:
            out[-1][1] = edges[i + 1]
        else:
            out.append([edges[i], edges[i + 1], k])
    return out


def _fold_short(pieces: list[list], min_s: float) -> list[list]:
    """``pieces`` (adjacent ``[start, end, label]``) with every piece shorter than
    ``min_s`` folded into its longer neighbour, shortest first, until none is short or
    one piece is left; neighbours that come to share a label are joined."""
    pieces = [list(p) for p in pieces]
    while len(pieces) > 1:
        i = min(range(len(pieces)), key=lambda j: pieces[j][1] - pieces[j][0])
        if pieces[i][1] - pieces[i][0] >= min_s:
            break
        left = pieces[i - 1] if i > 0 else None
        right = pieces[i + 1] if i + 1 < len(pieces) else None
        into = left if right is None or (left is not None and
                                         left[1] - left[0] >= right[1] - right[0]) else right
        into[0], into[1] = min(into[0], pieces[i][0]), max(into[1], pieces[i][1])
        del pieces[i]
        merged: list[list] = []
        for piece in pieces:
            if merged and merged[-1][2] == piece[2]:
                merged[-1][1] = piece[1]
            else:
                merged.append(piece)
        pieces = merged
    return pieces


def _confidence(column: np.ndarray, edges: Sequence[float], start: float, end: float) -> float:
    """The mean of ``column`` (one value per window) over the windows whose stretches
    ``[start, end]`` covers, each counted by the share of its stretch inside: a plain mean
    over whole stretches, as :func:`merge_segments` takes."""
    lo, hi = np.asarray(edges[:-1]), np.asarray(edges[1:])
    overlap = np.clip(np.minimum(hi, end) - np.maximum(lo, start), 0.0, None)
    weights = np.divide(overlap, hi - lo, out=np.zeros_like(overlap), where=hi > lo)
    if weights.sum() <= 0:
        return float(column[max(0, int(np.searchsorted(lo, start, side="right")) - 1)])
    return float(np.average(column, weights=weights))


def summarize(segments: Sequence[Segment], labels: Sequence[str]) -> Summary:
    """The share of the speech time each of ``labels`` covers (:class:`Summary`)."""
    seconds = dict.fromkeys(labels, 0.0)
    non_speech = 0.0
    for s in segments:
        if s.label == NON_SPEECH:
            non_speech += s.end_s - s.start_s
        else:
            seconds[s.label] = seconds.get(s.label, 0.0) + s.end_s - s.start_s
    speech = sum(seconds.values())
    shares = {k: (v / speech if speech > 0 else 0.0) for k, v in seconds.items()}
    label = max(shares, key=shares.get) if speech > 0 else None
    return Summary(float(speech), float(non_speech), shares, label)


def build_timeline(windows: list[TimelineWindow], duration_s: float, *, window_s: float,
                   hop_s: float, segmenting: Segmenting, detector=None) -> Timeline:
    """The :class:`Timeline` of ``windows``: segments (:func:`build_segments`, the speech
    regions of ``detector``, a :class:`~serkit.inference.speech_activity.SpeechDetector`
    that has heard the whole recording, or None for no speech detection) and summary."""
    regions = share = None
    if detector is not None:
        regions = detector.regions()

        def share(a: float, b: float) -> float:
            rate = detector.sample_rate
            return 1.0 - detector.share(round(a * rate), round(b * rate))

    segments = build_segments(windows, duration_s, regions, segmenting, non_speech_share=share)
    labels = list(windows[0].probabilities) if windows else []
    return Timeline(windows, segments, duration_s, window_s=float(window_s), hop_s=float(hop_s),
                    summary=summarize(segments, labels), segmenting=segmenting)
