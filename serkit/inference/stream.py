"""Timelines of live audio: chunks in as they arrive, windows out as soon as they are complete.

A :class:`TimelineStream` is what :meth:`Recognizer.open_stream` returns (and what
:meth:`Recognizer.stream` and the server's ``/v1/stream`` WebSocket run on). Each
:meth:`~TimelineStream.feed` takes the next chunk of samples and returns the windows that
chunk completes; :meth:`~TimelineStream.finish` returns the last window (the one ending at
the end) and then the whole :class:`~serkit.inference.timeline.Timeline`: smoothed
segments and the summary, which need the windows after each one.

The windows are those :meth:`Recognizer.timeline` gives for the same audio, however it is
chunked: the same window placement (:class:`~serkit.inference.timeline.Windower`), the
same speech detector (which only looks backwards) and, at another rate, the same
streaming soxr resampler :func:`serkit.audio.open_audio` uses. Probabilities agree to
float rounding (a model's batched forward pass can differ in the last bits from one
window at a time; ``batch_size=1`` on both sides gives identical results).

Example (``rec`` a Recognizer, ``chunks`` float32 arrays at 16 kHz)::

    live = rec.open_stream(sample_rate=16_000, window_s=3.0, hop_s=1.0)
    for chunk in chunks:
        for window in live.feed(chunk):
            print(f"{window.start_s:6.1f} s  {window.label}")
    timeline = live.finish()
    timeline.summary.shares
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from serkit.audio import MAX_SOURCE_RATE, SILENCE_PEAK, _as_float
from serkit.errors import AudioError, ConfigError
from serkit.inference.speech_activity import SpeechDetector
from serkit.inference.timeline import (
    Segmenting,
    Timeline,
    TimelineWindow,
    Windower,
    build_timeline,
    check_windowing,
)

#: Sample types a chunk may have: floats in [-1, 1] (any width) or 16-bit PCM integers.
CHUNK_DTYPES = ("float32", "float64", "int16")


class TimelineStream:
    """Windows of audio pushed chunk by chunk (module docstring).

    Not thread-safe: one stream is one recording, fed from one place. Memory: one window,
    one hop and one chunk of audio, one bit per 20 ms for the speech detector, and the
    windows so far (for :meth:`finish`).
    """

    def __init__(self, recognizer, sample_rate: int, *, window_s: float = 3.0, hop_s: float = 1.0,
                 name: str | None = None, batch_size: int = 32,
                 max_duration_s: float | None = None, smoothing: str = "median",
                 smooth_windows: int = 5, switch_penalty: float = 4.0,
                 min_segment_s: float = 2.0, vad: str = "energy"):
        # The recognizer's minimum audio (at least MIN_DURATION_S) is also the shortest window.
        shortest = float(recognizer.limits.min_duration_s or 0.0)
        check_windowing(window_s, hop_s, min_window_s=shortest)
        self.segmenting = Segmenting(smoothing=smoothing, smooth_windows=smooth_windows,
                                     switch_penalty=switch_penalty, min_segment_s=min_segment_s,
                                     vad=vad)
        self.source_rate = check_sample_rate(sample_rate)
        self.recognizer = recognizer
        self.name = name or "<stream>"
        self.window_s, self.hop_s = float(window_s), float(hop_s)
        self.max_duration_s = recognizer.limits.max_duration_s if max_duration_s is None else max_duration_s
        self.min_duration_s = shortest
        rate = recognizer.sample_rate
        self._windower = Windower(max(1, round(window_s * rate)), max(1, round(hop_s * rate)))
        self._detector = SpeechDetector(rate) if vad != "none" else None
        self._resampler = None
        if self.source_rate != rate:
            import soxr

            # The resampler open_audio uses: the same output whatever the chunking.
            self._resampler = soxr.ResampleStream(self.source_rate, rate, 1, dtype="float32",
                                                  quality="HQ")
        self._batch = max(1, int(batch_size))
        self._received = 0      # source samples
        self._peak = 0.0
        self._finished = False
        self.windows: list[TimelineWindow] = []

    @property
    def duration_s(self) -> float:
        """Seconds of audio received so far."""
        return self._received / self.source_rate

    def feed(self, chunk) -> list[TimelineWindow]:
        """The windows that ``chunk`` completes (often none; several for a long chunk).

        Args:
            chunk: samples at the stream's ``sample_rate``: a numpy array of float (in
                [-1, 1]) or int16 samples, ``(n,)`` or ``(n, channels)`` (mixed to mono).

        Raises:
            AudioError: a chunk of another type or shape, with NaN or infinite samples, or
                one that takes the stream past its longest duration; a finished stream.
        """
        if self._finished:
            raise AudioError(f"{self.name}: the stream is finished; open a new one for more audio")
        samples = chunk_samples(chunk, self.name)
        if not samples.size:
            return []
        self._received += samples.size
        if self.max_duration_s is not None and self.duration_s > self.max_duration_s:
            raise AudioError(f"{self.name}: over {self.duration_s:.1f} s of audio is longer than "
                             f"the {self.max_duration_s:g} s limit; send shorter recordings")
        self._peak = max(self._peak, float(np.max(np.abs(samples))))
        if self._resampler is not None:
            samples = self._resampler.resample_chunk(samples)
        return self._push(samples)

    def finish_windows(self) -> list[TimelineWindow]:
        """End the audio: the windows still to come (the one that ends at the end).

        Raises:
            AudioError: less audio than the model takes, or only silence: the checks
                :meth:`Recognizer.timeline` makes of a whole recording.
        """
        if self._finished:
            return []
        self._finished = True
        out: list[TimelineWindow] = []
        if self._resampler is not None:
            out += self._push(self._resampler.resample_chunk(np.zeros(0, np.float32), last=True))
        if self.duration_s < self.min_duration_s:
            raise AudioError(f"{self.name}: {self.duration_s:.3f} s of audio is shorter than the "
                             f"{self.min_duration_s:g} s this model needs")
        if self._peak < SILENCE_PEAK:
            raise AudioError(f"{self.name}: the audio is silent (all samples are zero or near zero)")
        out += self._results(self._windower.finish())
        return out

    def finish(self) -> Timeline:
        """The whole :class:`Timeline` (ending the audio first if :meth:`finish_windows`
        has not); the windows are those :meth:`feed` and :meth:`finish_windows` returned.

        Raises:
            AudioError: as :meth:`finish_windows`.
        """
        self.finish_windows()
        return build_timeline(self.windows, self._windower.total / self.recognizer.sample_rate,
                              window_s=self.window_s, hop_s=self.hop_s,
                              segmenting=self.segmenting, detector=self._detector)

    def _push(self, samples: np.ndarray) -> list[TimelineWindow]:
        if not samples.size:
            return []
        if self._detector is not None:
            self._detector.feed(samples)  # before the windows it completes are cut
        return self._results(self._windower.push(samples))

    def _results(self, cut: list[tuple[int, int, np.ndarray]]) -> list[TimelineWindow]:
        """Model the cut windows, in batches of ``batch_size``, and keep them."""
        out: list[TimelineWindow] = []
        rec = self.recognizer
        for i in range(0, len(cut), self._batch):
            part = cut[i:i + self._batch]
            bounds = [(start, end) for start, end, _ in part]
            features = [rec.window_features(x, start, end, self.name) for start, end, x in part]
            shares = [1.0 if self._detector is None else self._detector.share(a, b) for a, b in bounds]
            out += rec.window_results(bounds, features, shares, self._batch)
        self.windows.extend(out)
        return out


def check_sample_rate(sample_rate) -> int:
    """``sample_rate`` as an int, if it is a whole number of Hz in an audio range.

    Raises:
        ConfigError: anything else, saying what to pass.
    """
    if isinstance(sample_rate, bool) or not isinstance(sample_rate, numbers.Real) \
            or not math.isfinite(sample_rate) or int(sample_rate) != sample_rate \
            or not 0 < sample_rate <= MAX_SOURCE_RATE:
        raise ConfigError(f"sample_rate must be a whole number of Hz (e.g. 16000), not {sample_rate!r}")
    return int(sample_rate)


def chunk_samples(chunk, name: str = "<stream>") -> np.ndarray:
    """A chunk as mono float32 samples (a copy: the caller may reuse its buffer).

    Raises:
        AudioError: not a numpy array of :data:`CHUNK_DTYPES` samples, ``(n,)`` or
            ``(n, channels)``, or with NaN or infinite samples.
    """
    if not isinstance(chunk, np.ndarray):
        raise AudioError(f"{name}: a chunk must be a numpy array of samples, not {type(chunk).__name__}")
    if chunk.dtype.name not in CHUNK_DTYPES and chunk.dtype.kind != "f":
        raise AudioError(f"{name}: chunks must hold float samples in [-1, 1] or int16 PCM, not "
                         f"{chunk.dtype}; convert them (e.g. chunk.astype(np.float32) / scale)")
    if chunk.ndim not in (1, 2):
        raise AudioError(f"{name}: a chunk must be (samples,) or (samples, channels), not shape {chunk.shape}")
    # As serkit.audio converts an array: to float32 first, then mixed to mono; astype
    # copies (_as_float may return the chunk itself, and the windower keeps a reference).
    samples = _as_float(chunk).astype(np.float32)
    if samples.ndim == 2:
        samples = samples.mean(axis=1)
    if not np.all(np.isfinite(samples)):
        raise AudioError(f"{name}: the audio contains NaN or infinite samples")
    return samples
