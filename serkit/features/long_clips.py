"""Features of a long clip computed in bounded pieces, equal to the whole clip's.

:func:`long_clip_features` reads an :class:`~serkit.audio.AudioStream` piece by piece.
fusion107 frames are local (a 64 ms
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
segment and Waveform its first ``max_samples``, so only the head of a long clip is kept;
other extractors get the whole signal.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Iterator

import numpy as np

from serkit.audio import AudioStream, SampleBuffer
from serkit.errors import AudioError


def long_clip_features(extractor, stream: AudioStream, *, chunk_s: float) -> tuple[np.ndarray, int]:
    """``(features, samples)`` of the clip ``stream`` delivers, without holding all of it.

    fusion107 is computed in pieces of ``chunk_s`` seconds (the module docstring); log-mel
    and waveform keep the head they read; other extractors get the whole signal.
    """
    from serkit.features.fusion import Fusion107
    from serkit.features.logmel import LogMel
    from serkit.features.waveform import Waveform

    if isinstance(extractor, Fusion107):
        return _pooled_fusion(extractor, stream, round(chunk_s * extractor.sample_rate))
    if isinstance(extractor, LogMel):
        # LogMel keeps offset_s + duration_s from the start of a clip this long.
        head, n = _head(stream.blocks(), extractor.segment_samples
                        + round(extractor.offset_s * extractor.sample_rate))
        return extractor(head), n
    if isinstance(extractor, Waveform):
        head, n = _head(stream.blocks(), extractor.max_samples)  # it keeps the first max_samples
        return extractor(head), n
    signal = stream.read()  # an extractor serkit cannot cut: the whole signal, as before
    return extractor(signal), signal.size


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
    buffer = SampleBuffer()
    f0 = 0
    for block in blocks:
        buffer.append(block)
        while (f0 + chunk_frames) * hop + context < buffer.total:
            f1 = f0 + chunk_frames
            s0 = max(0, f0 * hop - context)
            yield f0, f1, s0, buffer.take(s0, f1 * hop + context), False
            f0 = f1
            buffer.drop_before(max(0, f0 * hop - context))
    total = buffer.total
    n_frames = 1 + total // hop
    while f0 < n_frames:
        f1 = min(f0 + chunk_frames, n_frames)
        s0, s1 = max(0, f0 * hop - context), min(total, f1 * hop + context)
        yield f0, f1, s0, buffer.take(s0, s1), s1 == total
        f0 = f1
        buffer.drop_before(max(0, f0 * hop - context))


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
