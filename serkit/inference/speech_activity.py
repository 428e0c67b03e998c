"""Where the speech is: an energy-based speech/non-speech detector for timelines.

The signal is cut into frames of :data:`FRAME_S` seconds (on a fixed grid from sample 0).
A frame is speech when its RMS level is at least ``floor_db`` dBFS *and* within
``range_db`` dB of the loudest frame heard so far. The second rule adapts to the
recording's level (a quiet recording's speech is still speech, its hiss is not); it looks
only backwards, so a stream fed in any chunks decides every frame exactly as the whole
recording read at once does (:class:`serkit.inference.stream.TimelineStream` relies on it).

Speech *regions* then smooth the frame decisions: gaps shorter than ``min_pause_s`` are
pauses inside speech, and bursts shorter than ``min_speech_s`` (clicks, a door) are not
speech.

Example:
    >>> rate = 16_000
    >>> t = np.arange(rate) / rate
    >>> voice = (0.1 * np.sin(2 * np.pi * 200 * t)).astype(np.float32)
    >>> signal = np.concatenate([voice, np.zeros(rate, np.float32), voice])
    >>> detector = SpeechDetector(rate)
    >>> detector.feed(signal)
    >>> detector.regions(signal.size)
    [(0.0, 1.0), (2.0, 3.0)]
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from serkit.errors import ConfigError

#: Frame length (and hop) of the detector: 20 ms, shorter than a syllable.
FRAME_S = 0.02
#: Below this RMS level a frame is never speech: quieter than a whisper at any usable gain.
FLOOR_DB = -55.0
#: A frame this far below the loudest frame so far is background, not speech.
RANGE_DB = 35.0
#: Shorter silences are pauses within speech (between words, a breath), not non-speech.
MIN_PAUSE_S = 0.75
#: Shorter bursts of energy are clicks and knocks, not speech.
MIN_SPEECH_S = 0.15
#: What the speech option of a timeline takes: the energy detector, or none (all speech).
VAD_METHODS = ("energy", "none")


@dataclass(frozen=True)
class SpeechSettings:
    """The detector's thresholds (module docstring); the defaults suit 16 kHz speech."""

    floor_db: float = FLOOR_DB
    range_db: float = RANGE_DB
    min_pause_s: float = MIN_PAUSE_S
    min_speech_s: float = MIN_SPEECH_S

    def __post_init__(self):
        for key in ("floor_db", "range_db", "min_pause_s", "min_speech_s"):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise ConfigError(f"speech detector {key} must be a number, not {value!r}")
        if self.range_db <= 0 or self.min_pause_s < 0 or self.min_speech_s < 0:
            raise ConfigError("speech detector range_db must be positive and min_pause_s, "
                              "min_speech_s not negative")


class SpeechDetector:
    """Frame-by-frame speech decisions over a signal fed in blocks of any size.

    Holds one bit per frame (50 a second: 180 000 bytes an hour) and less than one frame
    of samples.
    """

    def __init__(self, sample_rate: int, settings: SpeechSettings | None = None):
        self.sample_rate = int(sample_rate)
        self.settings = settings or SpeechSettings()
        self.frame = max(1, round(FRAME_S * self.sample_rate))
        self._pending = np.zeros(0, np.float32)   # samples of the frame not yet complete
        self._speech = bytearray()               # one 0/1 per complete frame
        self._loudest_db = -math.inf
        self.samples = 0                         # samples fed so far

    def feed(self, block: np.ndarray) -> None:
        """Decide the frames that ``block`` completes."""
        block = np.asarray(block, dtype=np.float32).reshape(-1)
        self.samples += block.size
        data = np.concatenate([self._pending, block]) if self._pending.size else block
        n = data.size // self.frame
        if n:
            frames = data[:n * self.frame].reshape(n, self.frame).astype(np.float64)
            levels = 10 * np.log10(np.mean(frames ** 2, axis=1) + 1e-12)
            # The loudest frame up to and including each one: a backwards-looking threshold.
            loudest = np.maximum.accumulate(np.maximum(levels, self._loudest_db))
            self._loudest_db = float(loudest[-1])
            speech = (levels >= self.settings.floor_db) & (levels >= loudest - self.settings.range_db)
            self._speech.extend(speech.astype(np.uint8).tobytes())
        self._pending = data[n * self.frame:].copy()

    @property
    def frames(self) -> np.ndarray:
        """The decisions so far, one bool per complete frame."""
        return np.frombuffer(bytes(self._speech), dtype=np.uint8).astype(bool)

    def share(self, start: int, end: int) -> float:
        """The share of the complete frames inside samples ``[start, end)`` that are speech
        (raw frame decisions; 0.0 when no complete frame lies inside)."""
        lo = -(-start // self.frame)
        hi = min(end // self.frame, len(self._speech))
        if hi <= lo:
            return 0.0
        # A slice, not a numpy view: a live view would stop the bytearray from growing.
        return self._speech[lo:hi].count(1) / (hi - lo)

    def regions(self, n_samples: int | None = None) -> list[tuple[float, float]]:
        """Speech regions ``(start_s, end_s)`` in order: pauses under ``min_pause_s`` filled
        (at the start and end of the signal too: ``n_samples``, default all fed) and bursts
        under ``min_speech_s`` dropped."""
        n_samples = self.samples if n_samples is None else n_samples
        runs = speech_runs(self.frames)
        runs = fill_gaps(runs, math.ceil(self.settings.min_pause_s / FRAME_S - 1e-9))
        shortest = math.ceil(self.settings.min_speech_s / FRAME_S - 1e-9)
        runs = [(a, b) for a, b in runs if b - a >= shortest]
        duration = n_samples / self.sample_rate
        out = [(a * self.frame / self.sample_rate, b * self.frame / self.sample_rate) for a, b in runs]
        # Silence at either end shorter than a pause is a pause too (a clip's lead-in), and
        # the partial frame at the end goes with the speech before it.
        if out and out[0][0] < self.settings.min_pause_s:
            out[0] = (0.0, out[0][1])
        if out and (runs[-1][1] == len(self._speech) or duration - out[-1][1] < self.settings.min_pause_s):
            out[-1] = (out[-1][0], duration)
        return [(round(a, 6), min(round(b, 6), duration)) for a, b in out]


def speech_runs(speech: np.ndarray) -> list[tuple[int, int]]:
    """``(first, end)`` frame indices of the runs of True in ``speech``.

    Example:
        >>> speech_runs(np.array([0, 1, 1, 0, 1], bool))
        [(1, 3), (4, 5)]
    """
    edges = np.diff(np.concatenate([[0], speech.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(edges == 1).tolist(), np.flatnonzero(edges == -1).tolist()))


def fill_gaps(runs: list[tuple[int, int]], shortest_gap: int) -> list[tuple[int, int]]:
    """``runs`` with the gaps shorter than ``shortest_gap`` frames joined over.

    Example:
        >>> fill_gaps([(0, 2), (3, 5), (9, 10)], 2)
        [(0, 5), (9, 10)]
    """
    out: list[tuple[int, int]] = []
    for start, end in runs:
        if out and start - out[-1][1] < shortest_gap:
            out[-1] = (out[-1][0], end)
        else:
            out.append((start, end))
    return out


def check_vad(method: str) -> str:
    """``method`` if it is one of :data:`VAD_METHODS`, else a ConfigError saying which are."""
    if method not in VAD_METHODS:
        raise ConfigError(f"unknown speech detection (vad) {method!r}; use one of {', '.join(VAD_METHODS)} "
                          "('none' treats the whole recording as speech)")
    return method
