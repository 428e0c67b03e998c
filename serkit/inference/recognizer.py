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
featurises a clip of up to :data:`LONG_CLIP_S` in one piece, as always; a longer one in
pieces of :data:`CHUNK_S` (:func:`_pooled_fusion`). fusion107 frames are local (a 64 ms
frame, and two neighbours each side for Δ²), so the frames of a piece computed with that
much context are the frames of the whole clip, and the pieces' means and variances
combine exactly. The only whole-clip quantities in fusion107 are its dB floors
(``top_db=80`` under the clip's loudest mel band, and under its highest spectral-contrast
peak and valley): a first pass over the stream finds the three frames that set them, and
a copy of each goes with every piece, so that every piece gets the clip's floors.
Without them a silent 30 s piece changes the default model's answer; with them the
pooled vector is bit-identical to the whole-clip one on every clip tried (speech with
silences, tones, square waves, clicks, noise bursts, chirps: tests/test_long_audio.py).
What could still differ: the frames where a piece or a copied frame is cut (faded in and
out over 128 ms, and discarded) count towards the piece's maxima too; one louder than
every real frame of the clip would raise that piece's floor. LogMel reads a fixed
segment, so only the head of a long clip is kept; other extractors get the whole signal.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import itertools
import math
import os
import threading
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from serkit.audio import AudioLimits, AudioSource, AudioStream, open_audio
from serkit.errors import AudioError, ConfigError
from serkit.inference.bundle import BUNDLE_FILE, load_parts, read_bundle
from serkit.inference.timeline import (
    Timeline,
    TimelineWindow,
    check_windowing,
    merge_segments,
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

#: The bundles shipped with serkit: serkit/pretrained/<name>/.
PRETRAINED_DIR = Path(__file__).resolve().parents[1] / "pretrained"


@dataclass(frozen=True)
class Prediction:
    """The model's answer for one clip; ``probabilities`` follow the Recognizer's labels."""

    label: str
    probabilities: dict[str, float]
    duration_s: float

    def to_dict(self) -> dict:
        return {"label": self.label, "probabilities": dict(self.probabilities),
                "duration_s": self.duration_s}


class Recognizer:
    """Predicts emotions with the model of one bundle; build it with :func:`load_model`.

    Thread-safe: the weights are loaded once and only read afterwards; each call works on
    its own arrays under ``torch.inference_mode()``.
    """

    def __init__(self, info: dict, extractor, standardizer, model, *, path: Path | None = None,
                 limits: AudioLimits | None = None):
        self._info = info
        self._extractor = extractor
        self._standardizer = standardizer
        self._model = model
        self._labels = tuple(info["labels"])
        self.path = path
        self.limits = _with_minimum(limits or DEFAULT_LIMITS)

    @classmethod
    def from_bundle(cls, path: str | Path, *, limits: AudioLimits | None = None) -> Recognizer:
        """Load the bundle folder at ``path`` (see :mod:`serkit.inference.bundle`)."""
        info, extractor, standardizer, model = load_parts(path)
        return cls(info, extractor, standardizer, model, path=Path(path), limits=limits)

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
    def info(self) -> dict:
        """The bundle.json dict (a copy: changing it changes nothing here)."""
        return copy.deepcopy(self._info)

    def __repr__(self) -> str:
        return f"Recognizer(name={self.name!r}, labels={self.labels}, sample_rate={self.sample_rate})"

    # --- prediction -------------------------------------------------------------------

    def predict(self, source: AudioSource, *, sample_rate: int | None = None,
                name: str | None = None) -> Prediction:
        """The emotion of one clip.

        Args:
            source: a file path, the bytes of an audio file, or an array ``(samples,)`` or
                ``(samples, channels)``.
            sample_rate: the rate of an array source (required for arrays; ignored for
                files, whose header says).
            name: how error messages call the source (e.g. an upload's file name).

        A clip longer than :data:`LONG_CLIP_S` is decoded as a stream and featurised in
        pieces, in memory that does not grow with its length (module docstring).

        Raises:
            AudioError: missing, empty, corrupt, non-audio, silent, too short (under
                :data:`MIN_DURATION_S`) or too long (over ``limits.max_duration_s``) audio.
        """
        return self.predict_batch([source], sample_rate=sample_rate,
                                  names=None if name is None else [name])[0]

    def predict_batch(self, sources: Sequence[AudioSource], sample_rate: int | None = None, *,
                      names: Sequence[str] | None = None,
                      batch_size: int = BATCH_SIZE) -> list[Prediction]:
        """:meth:`predict` for several clips, with batched model forward passes.

        Args:
            sources: as for :meth:`predict`; ``sample_rate`` applies to every array among them.
            names: error-message names, one per source.
            batch_size: clips per forward pass.

        Raises:
            AudioError: for the first bad clip, naming it.
        """
        if names is not None and len(names) != len(sources):
            raise ConfigError(f"predict_batch got {len(sources)} sources but {len(names)} names")
        names = list(names) if names is not None else [
            _item_name(s, i, len(sources)) for i, s in enumerate(sources)]
        features, durations = [], []
        for source, n in zip(sources, names):
            clip_features, samples = self._clip_features(source, sample_rate, n)
            features.append(clip_features)
            durations.append(samples / self.sample_rate)
        probabilities = self._probabilities(features, batch_size)
        return [self._prediction(p, duration) for p, duration in zip(probabilities, durations)]

    def timeline(self, source: AudioSource, window_s: float = 3.0, hop_s: float = 1.0,
                 sample_rate: int | None = None, *, name: str | None = None,
                 batch_size: int = BATCH_SIZE) -> Timeline:
        """Emotion over time: windows of ``window_s`` every ``hop_s``, merged into segments.

        See :mod:`serkit.inference.timeline` for how windows are placed and merged. Files
        and bytes are decoded as a stream and each window is computed when the stream
        reaches its end: memory holds one window and one hop of audio, however long the
        recording (and the windows, a few hundred bytes each).

        Raises:
            ConfigError: ``window_s`` under :data:`MIN_DURATION_S`, or ``hop_s`` not in
                ``(0, window_s]``.
            AudioError: bad audio, as for :meth:`predict`.
        """
        check_windowing(window_s, hop_s, min_window_s=MIN_DURATION_S)
        stream = self._open(source, sample_rate, name)
        rate, label = self.sample_rate, name or _describe(source)
        window, hop = max(1, round(window_s * rate)), max(1, round(hop_s * rate))
        step = max(1, int(batch_size))
        windows: list[TimelineWindow] = []
        bounds: list[tuple[int, int]] = []
        features: list[np.ndarray] = []

        def flush() -> None:
            # Batches of `step` consecutive windows: the grouping predict on a list would use.
            windows.extend(windows_from_probabilities(
                bounds, self._probabilities(features, step), self._labels, rate))
            bounds.clear()
            features.clear()

        def add(start: int, end: int, samples: np.ndarray) -> None:
            bounds.append((start, end))
            features.append(self._features(samples, f"{label} [{start / rate:.2f}-{end / rate:.2f} s]"))
            if len(features) == step:
                flush()

        n = 0
        for start, end, samples in sliding_windows(stream.blocks(), window, hop):
            n = max(n, end)
            add(start, end, samples)
        if features:
            flush()
        duration = n / rate
        return Timeline(windows, merge_segments(windows, duration), duration,
                        window_s=float(window_s), hop_s=float(hop_s))

    # --- pipeline ---------------------------------------------------------------------

    def _open(self, source: AudioSource, sample_rate: int | None, name: str | None) -> AudioStream:
        if isinstance(source, np.ndarray) and sample_rate is None:
            raise AudioError(f"{name or '<array>'}: an audio array needs its sample rate; "
                             "pass sample_rate=... (e.g. sample_rate=16000)")
        return open_audio(source, sample_rate=self.sample_rate, source_rate=sample_rate,
                          limits=self.limits, name=name)

    def _clip_features(self, source: AudioSource, sample_rate: int | None,
                       name: str | None) -> tuple[np.ndarray, int]:
        """The (standardised) features of one clip and its length in samples.

        Up to :data:`LONG_CLIP_S` the clip is read whole and featurised in one piece; a
        longer one goes to :meth:`_long_features` (module docstring).
        """
        stream = self._open(source, sample_rate, name)
        label = name or _describe(source)
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
        signal = np.concatenate(head).astype(np.float32, copy=False)
        return self._features(signal, label), signal.size

    def _long_features(self, stream: AudioStream, label: str) -> tuple[np.ndarray, int]:
        from serkit.features.fusion import Fusion107
        from serkit.features.logmel import LogMel

        extractor = self._extractor
        with self._naming_failures(label):
            if isinstance(extractor, Fusion107):
                features, n = _pooled_fusion(extractor, stream,
                                             round(CHUNK_S * extractor.sample_rate))
            elif isinstance(extractor, LogMel):
                # LogMel keeps offset_s + duration_s from the start of a clip this long:
                # only that head needs keeping.
                head, n = _head(stream.blocks(), extractor.segment_samples
                                + round(extractor.offset_s * extractor.sample_rate))
                features = extractor(head)
            else:  # an extractor serkit cannot cut: the whole signal, as before
                signal = stream.read()
                features, n = extractor(signal), signal.size
        return self._standardize(features), n

    def _features(self, signal: np.ndarray, label: str) -> np.ndarray:
        with self._naming_failures(label):
            features = self._extractor(signal)
        return self._standardize(features)

    def _standardize(self, features: np.ndarray) -> np.ndarray:
        if self._standardizer is not None:
            features = self._standardizer.transform(features)
        return np.asarray(features, dtype=np.float32)

    @contextlib.contextmanager
    def _naming_failures(self, label: str) -> Iterator[None]:
        """A feature library failing on odd audio raises an AudioError naming the clip."""
        try:
            yield
        except AudioError:
            raise
        except Exception as exc:
            raise AudioError(f"{label}: {self._extractor.name} features failed "
                             f"({type(exc).__name__}: {exc})") from exc

    def _probabilities(self, features: list[np.ndarray], batch_size: int) -> np.ndarray:
        """``(n, classes)`` float64 softmax probabilities, batch by batch."""
        import torch

        from serkit.batching import collate

        if not features:
            return np.zeros((0, len(self._labels)))
        kind, step = self._extractor.spec.kind, max(1, int(batch_size))
        parts = []
        with torch.inference_mode():
            for start in range(0, len(features), step):
                x, lengths = collate(features[start:start + step], kind)
                logits = self._model(x, lengths) if lengths is not None else self._model(x)
                parts.append(torch.softmax(logits.double(), dim=1).numpy())
        return np.concatenate(parts)

    def _prediction(self, probabilities: np.ndarray, duration_s: float) -> Prediction:
        return Prediction(label=self._labels[int(np.argmax(probabilities))],
                          probabilities={label: float(p) for label, p in zip(self._labels, probabilities)},
                          duration_s=float(duration_s))


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


# --- long clips in pieces -------------------------------------------------------------

def _head(blocks: Iterable[np.ndarray], length: int) -> tuple[np.ndarray, int]:
    """The first ``length`` samples of a stream (all of it if shorter) and its total length;
    the rest is read (the stream's checks run) but not kept."""
    kept: list[np.ndarray] = []
    have = total = 0
    for block in blocks:
        total += block.size
        if have < length:
            kept.append(block[:length - have])
            have += kept[-1].size
    return np.concatenate(kept).astype(np.float32, copy=False), total


def _chunk_segments(blocks: Iterable[np.ndarray], *, hop: int, chunk_frames: int,
                    context: int) -> Iterator[tuple[int, int, int, np.ndarray, bool]]:
    """A stream cut into overlapping segments, one per run of ``chunk_frames`` frames.

    Frame ``t`` is centred on sample ``t * hop``; a signal of ``n`` samples has
    ``1 + n // hop`` frames (a centred STFT's count). Yields ``(f0, f1, s0, segment, last)``:
    ``segment`` is samples ``[s0, s1)`` of the signal, holding frames ``[f0, f1)`` with
    ``context`` samples either side (``s0 = max(0, f0 * hop - context)``, a multiple of
    ``hop``; ``s1 = min(n, f1 * hop + context)``); ``last`` when ``s1 = n``. Holds about one
    segment and one block.
    """
    buffer = np.zeros(0, dtype=np.float32)
    start = 0          # the signal index of buffer[0]
    pending: list[np.ndarray] = []
    total = 0          # samples seen
    f0 = 0

    def take(s0: int, s1: int) -> np.ndarray:
        nonlocal buffer
        if pending:
            buffer = np.concatenate([buffer, *pending])
            pending.clear()
        return buffer[s0 - start:s1 - start]

    def drop_before(s0: int) -> None:
        nonlocal buffer, start
        if s0 > start:
            buffer = buffer[s0 - start:].copy()
            start = s0

    for block in blocks:
        if block.size:
            pending.append(block)
            total += block.size
        while (f0 + chunk_frames) * hop + context < total:
            f1 = f0 + chunk_frames
            s0 = max(0, f0 * hop - context)
            yield f0, f1, s0, take(s0, f1 * hop + context), False
            f0 = f1
            drop_before(max(0, f0 * hop - context))
    n_frames = 1 + total // hop
    while f0 < n_frames:
        f1 = min(f0 + chunk_frames, n_frames)
        s0, s1 = max(0, f0 * hop - context), min(total, f1 * hop + context)
        yield f0, f1, s0, take(s0, s1), s1 == total
        f0 = f1
        drop_before(max(0, f0 * hop - context))


def _pooled_fusion(extractor, stream: AudioStream, chunk_samples: int) -> tuple[np.ndarray, int]:
    """fusion107 features of a long stream, computed a piece at a time (module docstring).

    Pass 1 reads the stream for its length, its checks and the frames that set the
    clip's dB floors (:func:`_floor_frames`); pass 2 computes the frames of each piece
    with ``context`` samples around it and those floor-setting frames beside it (each
    after a silent gap, so no frame sees two of them), keeps the piece's own frames, and
    combines their means and variances (Chan et al.'s pairwise update, in float64). Cut
    edges are faded over ``fade`` samples, outside every frame that is kept, so that the
    discarded frames across a cut see no step (its broadband splatter would otherwise
    top the clip's highest spectral-contrast valley and raise the piece's floor).
    Equal to ``extractor(whole_signal)`` up to float rounding (module docstring).

    Returns:
        The features as ``extractor(signal)`` returns them, and the length in samples.
    """
    hop, n_fft = extractor.hop_length, extractor.n_fft
    half = hop * math.ceil(n_fft / 2 / hop)          # a frame's reach, in whole hops
    fade = hop * math.ceil(2 * n_fft / hop)
    # Δ² at frame t reads the MFCCs of t ± 2; one hop more for safety; then the fade.
    context = half + 3 * hop + fade
    gap = hop * math.ceil(n_fft / hop)               # no frame spans a gap this long
    chunk_frames = max(1, chunk_samples // hop)
    segments = {"hop": hop, "chunk_frames": chunk_frames, "context": context}
    ramp = (0.5 - 0.5 * np.cos(np.pi * (np.arange(fade) + 0.5) / fade)).astype(np.float32)

    excerpts, n = _floor_frames(extractor, _chunk_segments(stream.blocks(), **segments),
                                half + fade)
    pilot = np.concatenate([np.zeros(0, np.float32)] + [
        part for excerpt in excerpts
        for part in (_faded(excerpt, ramp, True, True), np.zeros(gap, np.float32))])

    pooled = extractor.pooling in ("mean", "meanstd")
    count, mean, m2, rows = 0, None, None, []
    seen = 0
    for f0, f1, s0, segment, last in _chunk_segments(stream.blocks(), **segments):
        seen = max(seen, s0 + segment.size)
        segment = _faded(segment, ramp, s0 > 0, not last)
        if s0 == 0 and last:            # the whole clip in one piece: nothing to borrow
            signal, first = segment, f0
        elif s0 == 0:                   # the clip's start must stay the signal's start
            tail = (-segment.size) % hop + gap
            signal = np.concatenate([segment, np.zeros(tail, np.float32), pilot])
            first = f0
        else:
            signal = np.concatenate([pilot, segment])
            first = (pilot.size + f0 * hop - s0) // hop
        frames = extractor.frames(signal)[first:first + (f1 - f0)]
        if not pooled:
            rows.append(frames)
            continue
        # Chan et al.: merge (count, mean, M2) of this piece into the running ones.
        m = frames.shape[0]
        piece_mean = frames.mean(axis=0, dtype=np.float64)
        piece_m2 = np.square(frames - piece_mean).sum(axis=0, dtype=np.float64)
        if mean is None:
            count, mean, m2 = m, piece_mean, piece_m2
        else:
            delta = piece_mean - mean
            total = count + m
            mean = mean + delta * (m / total)
            m2 = m2 + piece_m2 + np.square(delta) * (count * m / total)
            count = total
    if seen != n:
        raise AudioError(f"{stream.label}: the audio changed while it was read "
                         f"({n} samples, then {seen})")
    if not pooled:
        return np.concatenate(rows), n
    if extractor.pooling == "mean":
        return mean.astype(np.float32), n
    return np.concatenate([mean, np.sqrt(m2 / count)]).astype(np.float32), n


def _faded(x: np.ndarray, ramp: np.ndarray, start: bool, end: bool) -> np.ndarray:
    """``x`` faded in over ``ramp`` at its start and out at its end (a copy), so that the
    frames that straddle a cut see no step."""
    if not (start or end):
        return x
    x = x.copy()
    if start:
        x[:ramp.size] *= ramp
    if end:
        x[-ramp.size:] *= ramp[::-1]
    return x


def _floor_frames(extractor, segments: Iterable[tuple[int, int, int, np.ndarray, bool]],
                  reach: int) -> tuple[list[np.ndarray], int]:
    """The audio around the frames that set fusion107's dB floors, and the stream's length.

    fusion107 takes ``power_to_db(..., top_db=80)`` of its mel spectrogram (for the MFCCs)
    and of its spectral-contrast peaks and valleys: each is floored 80 dB under its maximum
    over the clip. This finds the frame holding each maximum and returns, per distinct
    frame, the ``2 * reach`` samples centred on it (zeros beyond the clip, like the
    STFT's padding; ``reach`` at least half a frame): a frame computed from them is that
    frame of the whole clip.
    """
    import librosa

    from serkit.features.fusion import _CONTRAST_BANDS, _CONTRAST_FMIN, _bases

    sr, n_fft, hop = extractor.sample_rate, extractor.n_fft, extractor.hop_length
    mel_basis = _bases(sr, n_fft, extractor.n_mels)[0]
    best = [(-np.inf, 0, None)] * 3   # (value, frame, excerpt) per floor: mel, peak, valley
    n = 0
    for f0, f1, s0, segment, last in segments:
        n = s0 + segment.size if last else n
        y = segment if segment.size >= n_fft else np.pad(segment, (0, n_fft - segment.size))
        k0 = (f0 * hop - s0) // hop
        magnitude = np.abs(librosa.stft(y, n_fft=n_fft, hop_length=hop, center=True,
                                        pad_mode="constant"))[:, k0:k0 + (f1 - f0)]
        mel = np.einsum("mf,ft->mt", mel_basis, magnitude**2).max(axis=0)
        peak, valley = _contrast_extremes(magnitude, sr, n_fft, _CONTRAST_FMIN, _CONTRAST_BANDS)
        for i, values in enumerate((mel, peak, valley)):
            k = int(np.argmax(values))
            if values[k] > best[i][0]:
                centre = (f0 + k) * hop - s0      # the frame's centre in the segment
                lo, hi = centre - reach, centre + reach
                excerpt = np.zeros(2 * reach, np.float32)
                excerpt[max(0, -lo):2 * reach - max(0, hi - segment.size)] = \
                    segment[max(0, lo):min(segment.size, hi)]
                best[i] = (float(values[k]), f0 + k, excerpt)
    unique: dict[int, np.ndarray] = {}
    for _, frame, excerpt in best:
        if excerpt is not None:
            unique.setdefault(frame, excerpt)
    return list(unique.values()), n


def _contrast_extremes(magnitude: np.ndarray, sr: int, n_fft: int, fmin: float, n_bands: int,
                       quantile: float = 0.02) -> tuple[np.ndarray, np.ndarray]:
    """Per frame, the largest peak and the largest valley over the octave bands of
    ``librosa.feature.spectral_contrast(S=magnitude, ...)`` (its band split, reproduced)."""
    import librosa

    freq = librosa.fft_frequencies(sr=sr, n_fft=n_fft)
    octa = np.zeros(n_bands + 2)
    octa[1:] = fmin * (2.0 ** np.arange(0, n_bands + 1))
    peak = np.full(magnitude.shape[1], -np.inf)
    valley = np.full(magnitude.shape[1], -np.inf)
    for k, (f_low, f_high) in enumerate(itertools.pairwise(octa)):
        band = np.logical_and(freq >= f_low, freq <= f_high)
        idx = np.flatnonzero(band)
        if k > 0:
            band[idx[0] - 1] = True
        if k == n_bands:
            band[idx[-1] + 1:] = True
        sub_band = magnitude[band, :]
        if k < n_bands:
            sub_band = sub_band[:-1, :]
        q = int(np.maximum(np.rint(quantile * np.sum(band)), 1))
        ordered = np.sort(sub_band, axis=0)
        valley = np.maximum(valley, np.mean(ordered[:q, :], axis=0))
        peak = np.maximum(peak, np.mean(ordered[-q:, :], axis=0))
    return peak, valley


# --- loading by name ------------------------------------------------------------------

_CACHE: dict[tuple, Recognizer] = {}
_CACHE_LOCK = threading.Lock()


def load_model(name_or_path: str | Path = "default", *, limits: AudioLimits | None = None) -> Recognizer:
    """A :class:`Recognizer` for a bundled model name or a bundle folder.

    Recognizers are cached: loading the same unchanged bundle again returns the same
    (thread-safe) object without reading the weights again.

    Args:
        name_or_path: a name from :func:`list_models` (``"default"``: the bundled default
            model), or the path of a bundle folder.
        limits: the audio it accepts (default 0.25 s to one hour, not silent); a minimum
            under :data:`MIN_DURATION_S` is raised to it.

    Raises:
        ConfigError: an unknown name (listing the bundled ones), the default model missing
            from this install, or a folder that is not a valid, undamaged bundle.
    """
    folder = resolve_model(name_or_path)
    key = (str(folder.resolve()), _fingerprint(folder), limits or DEFAULT_LIMITS)
    with _CACHE_LOCK:
        if key not in _CACHE:
            _CACHE[key] = Recognizer.from_bundle(folder, limits=limits)
        return _CACHE[key]


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
