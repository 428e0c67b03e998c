"""The Recognizer: a model bundle turned into ``predict(audio) -> emotion``.

Pipeline: :func:`serkit.audio.load_audio` (any rate, mono, validated) → the bundle's
feature extractor → its standardizer → its torch model → softmax.

Example (``tiny`` a bundle folder)::

    from serkit.inference import load_model

    rec = load_model(tiny)                  # or load_model() for the bundled default
    p = rec.predict("clip.wav")
    p.label, p.probabilities["anger"]
    rec.timeline("call.wav", window_s=3.0, hop_s=1.0).segments

Long recordings in bounded memory: files and bytes are decoded as a stream
(:func:`serkit.audio.open_audio`). :meth:`Recognizer.timeline` computes each window as the
stream reaches its end, holding one window and one hop of audio. :meth:`Recognizer.predict`
featurises a clip of up to :data:`LONG_CLIP_S` in one piece, as always, and a longer one
in pieces of :data:`CHUNK_S` (:mod:`serkit.features.long_clips`, which says why the
result is the whole clip's).
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import os
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from serkit.audio import AudioLimits, AudioSource, AudioStream, as_array, open_audio
from serkit.errors import AudioError, ConfigError
from serkit.features.long_clips import long_clip_features
from serkit.inference.bundle import BUNDLE_FILE, load_parts, read_bundle
from serkit.inference.speech_activity import SpeechDetector
from serkit.inference.timeline import (
    Segmenting,
    Timeline,
    TimelineWindow,
    build_timeline,
    check_windowing,
    sliding_windows,
    windows_from_probabilities,
)

#: Shortest audio a Recognizer takes. Fusion features need one 64 ms frame, but a
#: quarter-second is about one stressed syllable, the least speech that carries emotion;
#: shorter clips (clicks, cut-offs) would get confident-looking guesses.
MIN_DURATION_S = 0.25
#: What a Recognizer accepts unless told otherwise: 0.25 s to one hour, not silent.
DEFAULT_LIMITS = AudioLimits(min_duration_s=MIN_DURATION_S)
#: Inputs per forward pass in predict_batch and timeline.
BATCH_SIZE = 32
#: predict featurises clips up to this long in one piece (as always); longer ones in pieces
#: of CHUNK_S, in memory that does not grow with their length.
LONG_CLIP_S = 60.0
#: The length of those pieces: about 120 MB of fusion107 working memory each.
CHUNK_S = 30.0

#: Fewer clips than this give per-call statistics too noisy for ``adapt`` (measured on the
#: leave-one-corpus-out folds of the default model: docs/results.md); a call with fewer warns.
ADAPT_MIN_FILES = 30


class AdaptWarning(UserWarning):
    """``adapt`` was asked for with too few clips to standardise on."""


#: The bundles shipped with serkit: serkit/pretrained/<name>/.
PRETRAINED_DIR = Path(__file__).resolve().parents[1] / "pretrained"


@dataclass(frozen=True)
class Prediction:
    """The model's answer for one clip; ``probabilities`` follow the Recognizer's labels."""

    label: str
    probabilities: dict[str, float]
    duration_s: float
    #: The ``top_k`` most probable ``(label, probability)`` pairs, most probable first, when
    #: asked for (``predict(..., top_k=K)``); None otherwise.
    top_k: tuple[tuple[str, float], ...] | None = None

    def to_dict(self) -> dict:
        out = {"label": self.label, "probabilities": dict(self.probabilities),
               "duration_s": self.duration_s}
        if self.top_k is not None:
            out["top_k"] = [[label, p] for label, p in self.top_k]
        return out


#: What ``predict_batch(errors=...)`` takes: raise the first bad clip's AudioError, or
#: return it in that clip's place.
ERROR_MODES = ("raise", "return")


class Recognizer:
    """Predicts emotions with the model of one bundle; build it with :func:`load_model`.

    Thread-safe: the weights are loaded once and only read afterwards; each call works on
    its own arrays under ``torch.inference_mode()``.
    """

    def __init__(self, info: dict, extractor, standardizer, model, *, path: Path | None = None,
                 limits: AudioLimits | None = None, device: str | None = None):
        self._info = info
        self._extractor = extractor
        self._standardizer = standardizer
        self._model = model
        self._labels = tuple(info["labels"])
        self._temperature = float(info.get("temperature", 1.0))
        self.path = path
        self.limits = _with_minimum(limits or DEFAULT_LIMITS)
        self._device = None
        if device is not None:
            self._device = resolve_device(device)
            model.to(self._device)

    @classmethod
    def from_bundle(cls, path: str | Path, *, limits: AudioLimits | None = None,
                    device: str | None = None) -> Recognizer:
        """Load the bundle folder at ``path`` (see :mod:`serkit.inference.bundle`) onto
        ``device`` (:func:`load_model`)."""
        if device is not None:
            resolve_device(device)  # before reading the weights
        info, extractor, standardizer, model = load_parts(path)
        return cls(info, extractor, standardizer, model, path=Path(path), limits=limits,
                   device=device)

    # --- description ------------------------------------------------------------------

    @property
    def name(self) -> str:
        return self._info["name"]

    @property
    def labels(self) -> list[str]:
        return list(self._labels)

    @property
    def sample_rate(self) -> int:
        return int(self._info["sample_rate"])

    @property
    def device(self) -> str:
        """Where the model runs: ``"cpu"``, ``"cuda:0"``, ..."""
        return "cpu" if self._device is None else str(self._device)

    @property
    def info(self) -> dict:
        """The bundle.json dict (a copy: changing it changes nothing here)."""
        return copy.deepcopy(self._info)

    def __repr__(self) -> str:
        return f"Recognizer(name={self.name!r}, labels={self.labels}, sample_rate={self.sample_rate})"

    # --- prediction -------------------------------------------------------------------

    def __call__(self, source_or_list, **kw):
        """``model(clip)`` is :meth:`predict`; ``model([clip, ...])`` (a list or tuple) is
        :meth:`predict_batch`. Keyword arguments go to that method."""
        if isinstance(source_or_list, (list, tuple)):
            return self.predict_batch(source_or_list, **kw)
        return self.predict(source_or_list, **kw)

    def warm_up(self) -> float:
        """Predict once on a synthetic one-second tone, through features and model, so that
        the first real call does not pay the one-off costs (lazy imports of the feature
        libraries, numba compilation, the first forward pass: seconds); the seconds it took."""
        start = time.perf_counter()
        rate = self.sample_rate
        tone = 0.3 * np.sin(2 * np.pi * 220.0 * np.arange(rate) / rate)
        self.predict(tone.astype(np.float32), sample_rate=rate, name="warm-up tone")
        return time.perf_counter() - start

    def predict(self, source: AudioSource, *, sample_rate: int | None = None,
                name: str | None = None, top_k: int | None = None) -> Prediction:
        """The emotion of one clip.

        Args:
            source: a file path, the bytes of an audio file, or an array ``(samples,)`` or
                ``(samples, channels)``: numpy, or a torch tensor (any float dtype, on any
                device; copied to the CPU as float32).
            sample_rate: the rate of an array source (required for arrays; ignored for
                files, whose header says).
            name: how error messages call the source (e.g. an upload's file name).
            top_k: also give the ``top_k`` most probable labels with their probabilities,
                most probable first (:attr:`Prediction.top_k`; more than the labels: all).

        A clip longer than :data:`LONG_CLIP_S` is decoded as a stream and featurised in
        pieces, in memory that does not grow with its length (module docstring).

        Raises:
            AudioError: missing, empty, corrupt, non-audio, silent, too short (under
                :data:`MIN_DURATION_S`) or too long (over ``limits.max_duration_s``) audio.
            ConfigError: ``top_k`` under 1.
        """
        with one_torch_thread():
            return self.predict_batch([source], sample_rate=sample_rate,
                                      names=None if name is None else [name], top_k=top_k)[0]

    def predict_batch(self, sources: Sequence[AudioSource], sample_rate: int | None = None, *,
                      names: Sequence[str] | None = None, batch_size: int = BATCH_SIZE,
                      adapt: bool = False, top_k: int | None = None,
                      errors: str = "raise") -> list[Prediction] | list[Prediction | AudioError]:
        """:meth:`predict` for several clips, with batched model forward passes.

        Args:
            sources: as for :meth:`predict`; ``sample_rate`` applies to every array among them.
            names: error-message names, one per source.
            batch_size: clips per forward pass.
            adapt: standardise the features on these clips' own statistics instead of the
                training data's (:meth:`adapted_standardizer`): for a batch from one
                recording set-up the model has not heard. Nothing is stored; warns (an
                :class:`AdaptWarning`) under :data:`ADAPT_MIN_FILES` clips. With
                ``errors="return"`` the statistics are those of the usable clips.
            top_k: as for :meth:`predict`.
            errors: ``"raise"`` (the first bad clip's AudioError stops the call) or
                ``"return"`` (a bad clip's AudioError takes its place in the list; the
                others are predicted).

        Raises:
            AudioError: for the first bad clip, naming it (``errors="raise"``).
            ConfigError: ``adapt`` with a bundle that has no standardizer; ``top_k`` under
                1; ``errors`` neither "raise" nor "return".
        """
        if errors not in ERROR_MODES:
            raise ConfigError(f"errors must be 'raise' or 'return', not {errors!r}")
        k = self._check_top_k(top_k)
        names = source_names(sources, names, what="predict_batch")
        features, durations = [], []
        failures: dict[int, AudioError] = {}
        step = max(1, int(batch_size))
        for start in range(0, len(sources), step):
            group = self._group_features(sources[start:start + step], sample_rate, names[start:start + step])
            for i, result in enumerate(group, start):
                if isinstance(result, AudioError):
                    if errors == "raise":
                        raise result
                    failures[i] = result
                    continue
                features.append(result[0])
                durations.append(result[1] / self.sample_rate)
        predictions = iter(self.predict_features(features, durations, batch_size=batch_size,
                                                 adapt=adapt, top_k=k))
        return [failures[i] if i in failures else next(predictions) for i in range(len(sources))]

    def raw_features(self, source: AudioSource, sample_rate: int | None = None, *,
                     name: str | None = None) -> tuple[np.ndarray, int]:
        """The bundle's features of one clip, not yet standardised, and its length in samples.

        Raises:
            AudioError: bad audio, as for :meth:`predict`.
        """
        return self._clip_features(source, sample_rate, name)

    def embed(self, sources: Sequence[AudioSource] | AudioSource, sample_rate: int | None = None, *,
              names: Sequence[str] | None = None) -> np.ndarray:
        """The bundle's feature vectors of ``sources``, ``(n, dim)`` float32: the model's
        input before standardisation (:meth:`raw_features` of each clip). One clip (not in
        a list or tuple, as for :meth:`__call__`) gives one row, as :func:`serkit.embed` does.

        Raises:
            AudioError: for the first bad clip, naming it.
            ConfigError: a bundle whose features are not one vector per clip.
        """
        if self._extractor.spec.kind != "vector":
            raise ConfigError(f"model {self.name!r} reads {self._extractor.spec.kind!r} features, not "
                              "one vector per clip; embed needs vector features")
        if not isinstance(sources, (list, tuple)):  # a path string is one clip, not its characters
            return self.embed([sources], sample_rate, names=names)
        names = source_names(sources, names, what="embed")
        rows = [self.raw_features(s, sample_rate, name=n)[0] for s, n in zip(sources, names)]
        return np.asarray(rows, dtype=np.float32).reshape(len(rows), self._extractor.dim)

    def predict_features(self, features: Sequence[np.ndarray], durations: Sequence[float], *,
                         batch_size: int = BATCH_SIZE, adapt: bool = False,
                         top_k: int | None = None) -> list[Prediction]:
        """Predictions from :meth:`raw_features` outputs (standardised here, as
        :meth:`predict_batch` says for ``adapt`` and ``top_k``)."""
        k = self._check_top_k(top_k)
        standardizer = self.adapted_standardizer(features) if adapt else self._standardizer
        scaled = [self._standardize(f, standardizer) for f in features]
        probabilities = self._probabilities(scaled, batch_size)
        return [self._prediction(p, duration, k) for p, duration in zip(probabilities, durations)]

    def _check_top_k(self, top_k: int | None) -> int | None:
        """``top_k`` clipped to the number of labels (None stays None).

        Raises:
            ConfigError: not a whole number, or under 1.
        """
        if top_k is None:
            return None
        if isinstance(top_k, bool) or not isinstance(top_k, (int, np.integer)):
            raise ConfigError(f"top_k must be a whole number of labels (1 or more), not {top_k!r}")
        if top_k < 1:
            raise ConfigError(f"top_k must be at least 1, not {top_k}")
        return min(int(top_k), len(self._labels))

    def adapted_standardizer(self, features: Sequence[np.ndarray]):
        """A standardizer fitted on ``features`` (raw, of the clips of one call).

        The model was trained on features standardised per recording set-up; a batch from
        a new set-up standardised on its own statistics looks to it like a familiar one.
        Dimensions that do not vary within the batch keep the training statistics (a
        scale of 0 would blow them up).

        Raises:
            ConfigError: the bundle has no standardizer (its model reads raw features).
        """
        import warnings

        if self._standardizer is None:
            raise ConfigError(f"model {self.name!r} reads unstandardised features, so --adapt "
                              "has nothing to adapt; predict without it")
        if len(features) < ADAPT_MIN_FILES:
            warnings.warn(AdaptWarning(
                f"--adapt standardises on the files of one call: {len(features)} file(s) give "
                f"unreliable statistics; {ADAPT_MIN_FILES} or more from the same set-up are "
                "needed (measured in docs/results.md)"), stacklevel=3)
        if not features:
            return self._standardizer
        return self._standardizer.adapted(list(features))

    def timeline(self, source: AudioSource, window_s: float = 3.0, hop_s: float = 1.0,
                 sample_rate: int | None = None, *, name: str | None = None,
                 batch_size: int = BATCH_SIZE, smoothing: str = "median", smooth_windows: int = 5,
                 switch_penalty: float = 4.0, min_segment_s: float = 2.0,
                 vad: str = "energy") -> Timeline:
        """Emotion over time: windows of ``window_s`` every ``hop_s``, smoothed into
        segments, with the share of the speech time each label holds.

        See :mod:`serkit.inference.timeline` for how windows are placed, smoothed and
        merged, and :mod:`serkit.inference.speech_activity` for the speech detector. Files
        and bytes are decoded as a stream and each window is computed when the stream
        reaches its end: memory holds one window and one hop of audio, however long the
        recording (and the windows, a few hundred bytes each). :meth:`stream` gives the
        same windows from audio that arrives in chunks.

        Args:
            smoothing, smooth_windows, switch_penalty, min_segment_s, vad: how windows
                become segments (:class:`~serkit.inference.timeline.Segmenting`;
                ``smoothing="none", min_segment_s=0, vad="none"`` is the raw merge).

        Raises:
            ConfigError: ``window_s`` under :data:`MIN_DURATION_S`, ``hop_s`` not in
                ``(0, window_s]``, or a bad segmenting option.
            AudioError: bad audio, as for :meth:`predict`.
        """
        check_windowing(window_s, hop_s, min_window_s=MIN_DURATION_S)
        segmenting = Segmenting(smoothing=smoothing, smooth_windows=smooth_windows,
                                switch_penalty=switch_penalty, min_segment_s=min_segment_s, vad=vad)
        stream = self._open(source, sample_rate, name)
        rate, label = self.sample_rate, name or _describe(source)
        window, hop = max(1, round(window_s * rate)), max(1, round(hop_s * rate))
        step = max(1, int(batch_size))
        detector = SpeechDetector(rate) if vad != "none" else None
        windows: list[TimelineWindow] = []
        bounds: list[tuple[int, int]] = []
        features: list[np.ndarray] = []
        shares: list[float] = []

        def flush() -> None:
            # Batches of `step` consecutive windows: the grouping predict on a list would use.
            windows.extend(self.window_results(bounds, features, shares, step))
            bounds.clear()
            features.clear()
            shares.clear()

        def heard(blocks):
            # The detector hears each block before the windows it completes are cut.
            for block in blocks:
                if detector is not None:
                    detector.feed(block)
                yield block

        n = 0
        for start, end, samples in sliding_windows(heard(stream.blocks()), window, hop):
            n = max(n, end)
            bounds.append((start, end))
            features.append(self.window_features(samples, start, end, label))
            shares.append(1.0 if detector is None else detector.share(start, end))
            if len(features) == step:
                flush()
        if features:
            flush()
        return build_timeline(windows, n / rate, window_s=window_s, hop_s=hop_s,
                              segmenting=segmenting, detector=detector)

    def stream(self, chunks: Iterable[Any], sample_rate: int, *, window_s: float = 3.0,
               hop_s: float = 1.0, **options) -> Iterator[TimelineWindow]:
        """The timeline windows of audio that arrives in chunks, each as soon as the audio
        reaches its end: the windows :meth:`timeline` gives for the whole recording.

        ``chunks``: numpy arrays of samples at ``sample_rate`` (float in [-1, 1] or int16,
        mono ``(n,)`` or ``(n, channels)``); a generator reading a microphone or a socket
        works. For the segments and the summary at the end, or to push chunks rather than
        hand over an iterable, use :meth:`open_stream`. ``options`` are those of
        :meth:`open_stream`.

        Example:
            >>> for window in rec.stream(mic_chunks(), sample_rate=16_000):  # doctest: +SKIP
            ...     print(window.start_s, window.label)
        """
        live = self.open_stream(sample_rate, window_s=window_s, hop_s=hop_s, **options)
        for chunk in chunks:
            yield from live.feed(chunk)
        yield from live.finish_windows()

    def open_stream(self, sample_rate: int, *, window_s: float = 3.0, hop_s: float = 1.0,
                    **options):
        """A :class:`~serkit.inference.stream.TimelineStream`: ``feed(chunk)`` returns the
        windows that chunk completes, ``finish()`` the whole :class:`Timeline`.
        ``options``: ``name``, ``batch_size``, ``max_duration_s`` and the segmenting options
        of :meth:`timeline`."""
        from serkit.inference.stream import TimelineStream

        return TimelineStream(self, sample_rate, window_s=window_s, hop_s=hop_s, **options)

    def window_features(self, samples: np.ndarray, start: int, end: int, label: str) -> np.ndarray:
        """The standardised features of one timeline window (samples ``start:end``)."""
        rate = self.sample_rate
        return self._standardize(self._features(samples, f"{label} [{start / rate:.2f}-{end / rate:.2f} s]"))

    def window_results(self, bounds: Sequence[tuple[int, int]], features: list[np.ndarray],
                       shares: Sequence[float], batch_size: int = BATCH_SIZE) -> list[TimelineWindow]:
        """The :class:`TimelineWindow` of each of ``bounds`` (sample indices) from its
        :meth:`window_features`, with its speech share."""
        return windows_from_probabilities(bounds, self._probabilities(features, batch_size),
                                          self._labels, self.sample_rate, shares)

    # --- pipeline ---------------------------------------------------------------------

    def _open(self, source: AudioSource, sample_rate: int | None, name: str | None) -> AudioStream:
        return open_source(source, sample_rate, rate=self.sample_rate, limits=self.limits, name=name)

    def _clip_features(self, source: AudioSource, sample_rate: int | None,
                       name: str | None) -> tuple[np.ndarray, int]:
        """The (raw) features of one clip and its length in samples.

        Up to :data:`LONG_CLIP_S` the clip is read whole and featurised in one piece; a
        longer one goes to :meth:`_long_features` (module docstring).
        """
        result = self._group_features([source], sample_rate, [name])[0]
        if isinstance(result, AudioError):
            raise result
        return result

    def _decoded(self, source: AudioSource, sample_rate: int | None,
                 label: str) -> np.ndarray | tuple[np.ndarray, int]:
        """A clip up to :data:`LONG_CLIP_S` as its float32 signal; a longer one already
        featurised in pieces (:meth:`_long_features`), with its length in samples.

        Raises:
            AudioError: bad audio.
        """
        stream = self._open(source, sample_rate, label)
        limit = round(LONG_CLIP_S * self.sample_rate)
        head: list[np.ndarray] = []
        count = 0
        blocks = stream.blocks()
        for block in blocks:
            head.append(block)
            count += block.size
            if count > limit:
                blocks.close()
                del head
                return self._long_features(stream, label)
        return np.concatenate(head).astype(np.float32, copy=False)

    def _group_features(self, sources: Sequence[AudioSource], sample_rate: int | None,
                        names: Sequence[str | None]) -> list[tuple[np.ndarray, int] | AudioError]:
        """:meth:`_clip_features` of each source, or the AudioError it raised (never raises one).

        The clips are decoded first and featurised together (:func:`features_of_many`):
        the voice encoder runs the partials of every clip in one LSTM call, which costs
        less than half as much CPU per clip as one call each (docs/speed.md).
        """
        labels = [n or _describe(s) for s, n in zip(sources, names)]
        results: list[Any] = [None] * len(sources)
        signals: dict[int, np.ndarray] = {}
        for i, (source, label) in enumerate(zip(sources, labels)):
            try:
                decoded = self._decoded(source, sample_rate, label)
            except AudioError as exc:
                results[i] = exc
                continue
            if isinstance(decoded, tuple):
                results[i] = decoded
            else:
                signals[i] = decoded
        order = list(signals)
        computed = features_of_many(self._extractor, [signals[i] for i in order], [labels[i] for i in order])
        for i, result in zip(order, computed):
            results[i] = result if isinstance(result, AudioError) else (result, signals[i].size)
        return results

    def _long_features(self, stream: AudioStream, label: str) -> tuple[np.ndarray, int]:
        with _naming_failures(self._extractor, label):
            features, n = long_clip_features(self._extractor, stream, chunk_s=CHUNK_S)
        return features, n

    def _features(self, signal: np.ndarray, label: str) -> np.ndarray:
        with _naming_failures(self._extractor, label):
            return self._extractor(signal)

    def _standardize(self, features: np.ndarray, standardizer=None) -> np.ndarray:
        standardizer = standardizer or self._standardizer
        if standardizer is not None:
            features = standardizer.transform(features)
        return np.asarray(features, dtype=np.float32)

    def _probabilities(self, features: list[np.ndarray], batch_size: int) -> np.ndarray:
        """``(n, classes)`` float64 softmax probabilities, batch by batch."""
        import torch

        from serkit.batching import collate

        if not features:
            return np.zeros((0, len(self._labels)))
        kind, step = self._extractor.spec.kind, max(1, int(batch_size))
        parts = []
        device = self._device
        with torch.inference_mode():
            for start in range(0, len(features), step):
                x, lengths = collate(features[start:start + step], kind)
                if device is not None:
                    x = x.to(device)
                    lengths = None if lengths is None else lengths.to(device)
                logits = self._model(x, lengths) if lengths is not None else self._model(x)
                parts.append(torch.softmax(logits.double() / self._temperature, dim=1).cpu().numpy())
        return np.concatenate(parts)

    def _prediction(self, probabilities: np.ndarray, duration_s: float,
                    top_k: int | None = None) -> Prediction:
        ranked = None
        if top_k is not None:
            # A stable sort: ties keep the labels' order, as argmax does for the label.
            order = np.argsort(-probabilities, kind="stable")[:top_k]
            ranked = tuple((self._labels[i], float(probabilities[i])) for i in order)
        return Prediction(label=self._labels[int(np.argmax(probabilities))],
                          probabilities={label: float(p) for label, p in zip(self._labels, probabilities)},
                          duration_s=float(duration_s), top_k=ranked)


_THREADS_LOCK = threading.Lock()
_THREADS_STATE = {"users": 0, "before": 1}


@contextlib.contextmanager
def one_torch_thread() -> Iterator[None]:
    """Run torch on one intra-op thread for the duration, then restore the count.

    One clip's work (a small LSTM or MLP over a few hundred frames) is too small to share
    between threads: a second thread gains nothing on an idle machine, and on a busy one
    OpenMP's barriers wait for a core each step, which made a first prediction take 3-10 s
    instead of 0.08 s on a loaded 2-core machine (docs/speed.md). The outputs are the same
    to the bit. Calls in several Python threads at once share one save/restore."""
    import torch

    with _THREADS_LOCK:
        if _THREADS_STATE["users"] == 0:
            _THREADS_STATE["before"] = torch.get_num_threads()
            if _THREADS_STATE["before"] != 1:
                torch.set_num_threads(1)
        _THREADS_STATE["users"] += 1
    try:
        yield
    finally:
        with _THREADS_LOCK:
            _THREADS_STATE["users"] -= 1
            if _THREADS_STATE["users"] == 0 and _THREADS_STATE["before"] != 1:
                torch.set_num_threads(_THREADS_STATE["before"])


def open_source(source: AudioSource, sample_rate: int | None, *, rate: int,
                limits: AudioLimits = DEFAULT_LIMITS, name: str | None = None) -> AudioStream:
    """:func:`serkit.audio.open_audio` of one input as a Recognizer takes it: ``sample_rate``
    is the rate of an array source (required for arrays), ``rate`` the one wanted.

    Raises:
        AudioError: an array without its sample rate, or bad audio (as :meth:`Recognizer.predict`).
    """
    source = as_array(source)  # a torch tensor: a numpy array like any other from here on
    if isinstance(source, np.ndarray) and sample_rate is None:
        raise AudioError(f"{name or '<array>'}: an audio array needs its sample rate; "
                         "pass sample_rate=... (e.g. sample_rate=16000)")
    return open_audio(source, sample_rate=rate, source_rate=sample_rate, limits=limits, name=name)


def source_names(sources: Sequence[AudioSource], names: Sequence[str] | None, *,
                 what: str) -> list[str | None]:
    """The error-message name of each source: ``names`` when given (one per source), else
    None for paths and single inputs, and "item <i> (...)" for bytes and arrays in a batch.

    Raises:
        ConfigError: ``names`` of another length than ``sources``.
    """
    if names is not None and len(names) != len(sources):
        raise ConfigError(f"{what} got {len(sources)} sources but {len(names)} names")
    return list(names) if names is not None else [
        _item_name(s, i, len(sources)) for i, s in enumerate(sources)]


def _with_minimum(limits: AudioLimits) -> AudioLimits:
    """``limits`` with a minimum duration of at least :data:`MIN_DURATION_S`."""
    if limits.min_duration_s is None or limits.min_duration_s < MIN_DURATION_S:
        return dataclasses.replace(limits, min_duration_s=MIN_DURATION_S)
    return limits


def _describe(source: Any) -> str:
    if isinstance(source, (str, Path)):
        return str(source)
    return "<uploaded audio>" if isinstance(source, (bytes, bytearray)) else "<array>"


def _item_name(source: Any, index: int, count: int) -> str | None:
    """Paths name themselves; bytes and arrays in a batch are named by their position."""
    if isinstance(source, (str, Path)) or count == 1:
        return None
    return f"item {index} ({_describe(source)})"


def features_of_many(extractor, signals: Sequence[np.ndarray],
                     labels: Sequence[str]) -> list[np.ndarray | AudioError]:
    """``extractor``'s features of each signal, or the AudioError naming the clip it
    failed on (never raises one).

    An extractor with ``embed_many`` (the voice encoder) featurises the clips in one
    batched call, whose values equal one call per clip up to float32 rounding (about
    1e-7); where that call fails, the clips are featurised one by one to find the bad one.

    Raises:
        ConfigError: the extractor's weights are missing or damaged (not about one clip).
    """
    many = getattr(extractor, "embed_many", None)
    if many is not None and len(signals) > 1:
        try:
            return list(many(list(signals)))
        except ConfigError:
            raise
        except Exception:  # noqa: BLE001, S110 - one clip is bad: found one by one below
            pass
    return [_features_or_error(extractor, signal, label) for signal, label in zip(signals, labels)]


def _features_or_error(extractor, signal: np.ndarray, label: str) -> np.ndarray | AudioError:
    try:
        with _naming_failures(extractor, label):
            return extractor(signal)
    except AudioError as exc:
        return exc


@contextlib.contextmanager
def _naming_failures(extractor, label: str) -> Iterator[None]:
    """A feature library failing on odd audio raises an AudioError naming the clip; a
    ConfigError (the extractor's weights missing or damaged) is not the clip's and passes."""
    try:
        yield
    except (AudioError, ConfigError):
        raise
    except Exception as exc:
        raise AudioError(f"{label}: {extractor.name} features failed "
                         f"({type(exc).__name__}: {exc})") from exc


# --- long clips in pieces -------------------------------------------------------------

# --- loading by name ------------------------------------------------------------------

_CACHE: dict[tuple, Recognizer] = {}
_CACHE_LOCK = threading.Lock()


def load_model(name_or_path: str | Path = "default", *, limits: AudioLimits | None = None,
               device: str = "cpu") -> Recognizer:
    """A :class:`Recognizer` for a bundled model name or a bundle folder.

    Recognizers are cached: loading the same unchanged bundle again returns the same
    (thread-safe) object without reading the weights again.

    Args:
        name_or_path: a name from :func:`list_models` (``"default"``: the bundled default
            model), or the path of a bundle folder.
        limits: the audio it accepts (default 0.25 s to one hour, not silent); a minimum
            under :data:`MIN_DURATION_S` is raised to it.
        device: where the model runs: ``"cpu"``, ``"cuda"`` or ``"cuda:N"``; features are
            computed on the CPU and each batch moves to the model's device.

    Raises:
        ConfigError: an unknown name (listing the bundled ones), the default model missing
            from this install, a folder that is not a valid, undamaged bundle, or a device
            that is not valid or not available.
    """
    target = str(resolve_device(device))
    folder = resolve_model(name_or_path)
    key = (str(folder.resolve()), _fingerprint(folder), limits or DEFAULT_LIMITS, target)
    with _CACHE_LOCK:
        if key not in _CACHE:
            _CACHE[key] = Recognizer.from_bundle(folder, limits=limits, device=target)
        return _CACHE[key]


def resolve_device(device) -> Any:
    """The ``torch.device`` of ``"cpu"``, ``"cuda"`` or ``"cuda:N"`` (or a torch.device).

    Raises:
        ConfigError: another kind of device, or a CUDA device torch says is not available.
    """
    import torch

    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError, ValueError):
        resolved = None
    if resolved is None or resolved.type not in ("cpu", "cuda"):
        raise ConfigError(f"device must be 'cpu', 'cuda' or 'cuda:N', not {device!r}")
    if resolved.type == "cuda":
        if not torch.cuda.is_available():
            raise ConfigError(f"device {str(device)!r} is not available: torch finds no CUDA GPU "
                              "here (no GPU, no driver, or a CPU-only torch build); use device='cpu'")
        count = torch.cuda.device_count()
        if resolved.index is not None and resolved.index >= count:
            raise ConfigError(f"device {str(device)!r} is not available: torch sees {count} CUDA "
                              f"device(s), cuda:0 to cuda:{count - 1}")
    return resolved


def list_models() -> list[dict]:
    """The bundled models: ``{"name", "labels", "sample_rate", "description"}`` each, by name."""
    out = []
    for folder in _bundled_folders():
        info = read_bundle(folder)
        out.append({"name": folder.name, "labels": info["labels"],
                    "sample_rate": info["sample_rate"], "description": info["description"]})
    return out


def _bundled_folders() -> list[Path]:
    if not PRETRAINED_DIR.is_dir():
        return []
    return sorted(d for d in PRETRAINED_DIR.iterdir() if (d / BUNDLE_FILE).is_file())


def resolve_model(name_or_path: str | Path) -> Path:
    """The bundle folder of a bundled model name or a path (the one place names resolve).

    Raises:
        ConfigError: an unknown name (listing the bundled ones) or the default model
            missing from this install.
    """
    if isinstance(name_or_path, Path) or _looks_like_path(str(name_or_path)):
        return Path(name_or_path).expanduser()
    name = str(name_or_path)
    bundled = {d.name: d for d in _bundled_folders()}
    if name in bundled:
        return bundled[name]
    if Path(name).is_dir():  # a bundle folder in the working directory, named bare
        return Path(name)
    if name == "default":
        raise ConfigError(
            f"the bundled default model is missing from this install ({PRETRAINED_DIR / 'default'}); "
            "`serkit release configs/default-model.yaml` trains it (then `serkit bundle RUN_DIR --out "
            f"{PRETRAINED_DIR / 'default'}`), or pass the path of a bundle folder"
        )
    known = ", ".join(bundled) or "none installed"
    raise ConfigError(f"unknown model {name!r}; bundled models: {known}. A path to a bundle "
                      "folder (one `serkit bundle` wrote) also works")


def _looks_like_path(text: str) -> bool:
    return os.sep in text or "/" in text or text.startswith((".", "~"))


def _fingerprint(folder: Path) -> tuple:
    """Changes whenever the bundle's files do, so a rebuilt bundle is not served stale."""
    stats = []
    for file in (folder / BUNDLE_FILE, *sorted(folder.glob("*.pt"))):
        try:
            st = file.stat()
            stats.append((file.name, st.st_mtime_ns, st.st_size))
        except OSError:
            stats.append((file.name, None, None))
    return tuple(stats)
