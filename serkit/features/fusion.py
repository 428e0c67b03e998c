"""SpeechNet's 107-dimensional fusion features (Zhang et al. 2025, section 4.2).

The paper lists the descriptors (MFCC with Δ and Δ², zero-crossing rate, chroma, spectral
contrast, centroid, roll-off, bandwidth, tonnetz, pitch) and their total, 107, but not how
the 107 dimensions split between them. serkit's split, with the defaults
(``n_mfcc=25``):

===========  ====  ==============================================  ==================================
block        dims  names                                           computed by
===========  ====  ==============================================  ==================================
mfcc           25  ``mfcc_01`` … ``mfcc_25``                       librosa mfcc of a 64-band log-mel
mfcc_delta     25  ``mfcc_delta_01`` … ``mfcc_delta_25``           paper eq. 17: c[t+1] − c[t−1]
mfcc_delta2    25  ``mfcc_delta2_01`` … ``mfcc_delta2_25``         paper eq. 18: Δ[t+1] − Δ[t−1]
zcr             1  ``zcr``                                         librosa zero_crossing_rate
chroma         12  ``chroma_C``, ``chroma_C#``, … ``chroma_B``     librosa chroma_stft, tuning 0
contrast        7  ``contrast_0_200hz``, ``contrast_200_400hz``,   librosa spectral_contrast, 6 octave
                   … ``contrast_6400_8000hz``                      bands from 200 Hz
centroid        1  ``spectral_centroid_hz``                        librosa spectral_centroid
rolloff         1  ``spectral_rolloff_hz``                         librosa spectral_rolloff, 85 %
bandwidth       1  ``spectral_bandwidth_hz``                       librosa spectral_bandwidth
tonnetz         6  ``tonnetz_fifth_x``, ``tonnetz_fifth_y``,       librosa tonnetz of the chroma block
                   ``tonnetz_minor3_x``, ``tonnetz_minor3_y``,
                   ``tonnetz_major3_x``, ``tonnetz_major3_y``
pitch           3  ``pitch_log_f0``, ``pitch_voiced``,             YIN over every frame (below)
                   ``pitch_periodicity``
===========  ====  ==============================================  ==================================

Total 75 + 1 + 12 + 7 + 1 + 1 + 1 + 6 + 3 = 107 (in general ``3 * n_mfcc + 32``).

One frame grid: every block is computed on the same frames, ``n_fft`` samples long
(64 ms at 16 kHz) every ``hop_length`` samples (16 ms), centred, so a signal of ``n``
samples has ``1 + n // hop_length`` frames. These are librosa's default time spans
(2048/512 at 22.05 kHz) scaled to 16 kHz, and 64 ms holds more than two periods of the
lowest pitch searched (60 Hz), which YIN needs.

Pitch: ``librosa.yin`` estimates f0 in every frame. YIN always returns a period, so
voicing comes from YIN's own criterion evaluated at that period: the cumulative mean
normalised difference d'(τ) ("aperiodicity", 0 for a perfectly periodic frame). A frame
is voiced when d'(τ) <= ``voicing_threshold`` (0.4) and its RMS is above -80 dBFS.
``pitch_log_f0`` is ln(f0 / Hz) in voiced frames and ln(fmin) in unvoiced ones (a floor,
never NaN), ``pitch_voiced`` is 0/1 and ``pitch_periodicity`` is 1 − d'(τ) clipped to
[0, 1] (0 in silent frames). pYIN was measured as the alternative: on a 3 s EmoDB clip
(16 kHz, 1024/256) pyin takes 480-660 ms and yin 8-12 ms (two runs on a shared 2-core
machine; ``benchmarks/bench_features.py --pitch-trackers``), so pyin alone would cost about
two minutes of the EmoDB extraction on two cores, yin a few seconds. The voicing threshold was set by comparing
with pyin's voicing on EmoDB files during development (exploratory, not a committed
benchmark).

Tonnetz: ``librosa.feature.tonnetz(y=...)`` would run a harmonic/percussive separation
and a CQT chroma (about 285 ms per 3 s clip); serkit passes the STFT chroma it already
has (``tonnetz(chroma=...)``, under 1 ms). The paper defines tonnetz on a harmonic pitch
class profile (its eq. 25), which the chroma is.

Frames or vector: the paper's information-encoding module takes one vector
``x ∈ R^m`` per utterance (its eq. 7), and the LSTM's "time intervals" t_1…t_{n_3} run
over its n_3 = 64 hidden units (the outputs of the following layers are sized
n_3 × …), not over signal frames: the paper feeds one 107-d vector per utterance, the
mean over frames (``pooling="mean"``, the default). ``pooling="none"`` returns the frame
sequence ``(frames, 107)`` for models that want the other reading; it costs nothing extra.

Signals shorter than ``n_fft`` are zero-padded to ``n_fft`` (5 frames with the defaults).
"""

from __future__ import annotations

import functools
import math
from typing import Any, Literal

import numpy as np

from serkit.errors import AudioError, ConfigError
from serkit.inputs import InputSpec

#: Frames quieter than this RMS (-80 dBFS) are unvoiced whatever their periodicity.
VOICING_RMS_FLOOR = 1e-4
_CHROMA_NAMES = ["C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B"]
_TONNETZ_NAMES = ["fifth_x", "fifth_y", "minor3_x", "minor3_y", "major3_x", "major3_y"]
_CONTRAST_FMIN = 200.0
_CONTRAST_BANDS = 6
_POOLINGS = ("mean", "meanstd", "none")


class Fusion107:
    """SpeechNet's 107-d fusion features: MFCC ±Δ±Δ², ZCR, chroma, contrast, spectral
    shape, tonnetz and YIN pitch on one frame grid (table in the module docstring).

    Args:
        sample_rate: rate of the input signal in Hz.
        n_fft: frame (and FFT) length in samples, shared by every block.
        hop_length: frame step in samples.
        n_mfcc: MFCCs per frame; the Δ and Δ² blocks have as many (dim = 3·n_mfcc + 32).
        n_mels: mel bands under the MFCCs.
        fmin: lowest f0 searched, Hz.
        fmax: highest f0 searched, Hz.
        voicing_threshold: largest YIN aperiodicity d'(τ) of a voiced frame, in (0, 1].
        pooling: ``"mean"`` → one ``(dim,)`` vector per signal (the paper's reading);
            ``"meanstd"`` → the mean and the standard deviation over frames (214 values:
            how much each descriptor moves carries emotion too); ``"none"`` →
            ``(frames, dim)``.

    Raises:
        ConfigError: a parameter out of range.

    Example:
        >>> import numpy as np
        >>> x = np.zeros(16000, dtype="float32")
        >>> Fusion107(pooling="none")(x).shape
        (63, 107)
    """

    name = "fusion107"

    def __init__(
        self,
        *,
        sample_rate: int = 16_000,
        n_fft: int = 1024,
        hop_length: int = 256,
        n_mfcc: int = 25,
        n_mels: int = 64,
        fmin: float = 60.0,
        fmax: float = 600.0,
        voicing_threshold: float = 0.4,
        pooling: Literal["mean", "meanstd", "none"] = "mean",
    ):
        self.sample_rate = sample_rate
        self.n_fft = n_fft
        self.hop_length = hop_length
        self.n_mfcc = n_mfcc
        self.n_mels = n_mels
        self.fmin = fmin
        self.fmax = fmax
        self.voicing_threshold = voicing_threshold
        self.pooling = pooling
        # Checking values is cheap and catches a bad config before a corpus-long run.
        self._check()

    # --- description -------------------------------------------------------------------

    @property
    def params(self) -> dict[str, Any]:
        return {
            "sample_rate": int(self.sample_rate),
            "n_fft": int(self.n_fft),
            "hop_length": int(self.hop_length),
            "n_mfcc": int(self.n_mfcc),
            "n_mels": int(self.n_mels),
            "fmin": float(self.fmin),
            "fmax": float(self.fmax),
            "voicing_threshold": float(self.voicing_threshold),
            "pooling": self.pooling,
        }

    @property
    def spec(self) -> InputSpec:
        """Frames of ``dim`` values at sample_rate / hop_length a second, or one vector."""
        if self.pooling == "none":
            return InputSpec("frames", (self.dim,), rate=self.sample_rate / self.hop_length)
        return InputSpec("vector", (self.dim,))

    @property
    def blocks(self) -> dict[str, list[str]]:
        """Feature names by block, in output order."""
        width = len(str(self.n_mfcc))
        coef = [f"{i:0{width}d}" for i in range(1, self.n_mfcc + 1)]
        nyquist = self.sample_rate // 2
        edges = [0.0] + [_CONTRAST_FMIN * 2**k for k in range(_CONTRAST_BANDS)] + [nyquist]
        return {
            "mfcc": [f"mfcc_{c}" for c in coef],
            "mfcc_delta": [f"mfcc_delta_{c}" for c in coef],
            "mfcc_delta2": [f"mfcc_delta2_{c}" for c in coef],
            "zcr": ["zcr"],
            "chroma": [f"chroma_{p}" for p in _CHROMA_NAMES],
            "contrast": [
                f"contrast_{lo:g}_{hi:g}hz" for lo, hi in zip(edges[:-1], edges[1:])
            ],
            "centroid": ["spectral_centroid_hz"],
            "rolloff": ["spectral_rolloff_hz"],
            "bandwidth": ["spectral_bandwidth_hz"],
            "tonnetz": [f"tonnetz_{t}" for t in _TONNETZ_NAMES],
            "pitch": ["pitch_log_f0", "pitch_voiced", "pitch_periodicity"],
        }

    @property
    def frame_feature_names(self) -> list[str]:
        """The 107 names of one frame's features (``pooling="none"``/``"mean"``)."""
        return [n for names in self.blocks.values() for n in names]

    @property
    def feature_names(self) -> list[str]:
        names = self.frame_feature_names
        if self.pooling == "meanstd":
            return [f"{n}_mean" for n in names] + [f"{n}_std" for n in names]
        return names

    @property
    def dim(self) -> int:
        return (3 * self.n_mfcc + 32) * (2 if self.pooling == "meanstd" else 1)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.params.items())
        return f"Fusion107({args})"

    # --- computation -------------------------------------------------------------------

    def __call__(self, signal: np.ndarray) -> np.ndarray:
        """Features of one mono signal at ``sample_rate``.

        Args:
            signal: ``(samples,)`` float, as :func:`serkit.audio.load_audio` returns.

        Returns:
            float32 ``(dim,)`` with ``pooling="mean"``, else ``(frames, dim)`` with
            ``frames = 1 + max(samples, n_fft) // hop_length``.

        Raises:
            AudioError: not 1-D, empty, or with NaN/infinite samples.
        """
        frames = self.frames(signal)
        if self.pooling == "mean":
            return frames.mean(axis=0, dtype=np.float64).astype(np.float32)
        if self.pooling == "meanstd":
            return np.concatenate([frames.mean(axis=0, dtype=np.float64),
                                   frames.std(axis=0, dtype=np.float64)]).astype(np.float32)
        return frames

    def frames(self, signal: np.ndarray) -> np.ndarray:
        """The frame-level features ``(frames, dim)`` float32, whatever ``pooling`` says."""
        import librosa  # imported here: importing serkit should not pay for librosa

        y = _check_signal(signal, self.n_fft)
        sr, n_fft, hop = self.sample_rate, self.n_fft, self.hop_length

        # One framing of the zero-padded signal serves the STFT, YIN and the voicing test.
        frames = _frame_rows(np.pad(y, (n_fft // 2, n_fft // 2)), n_fft, hop)
        stft = _stft(frames, n_fft)
        magnitude = np.abs(stft)
        power = magnitude**2

        # Projections use plain einsum, not BLAS: a multi-threaded BLAS sums in an order
        # that depends on the thread count, and features must be bit-identical whether
        # computed here, in a worker process or on another core count.
        mel_basis, chroma_basis, tonnetz_basis = _bases(sr, n_fft, self.n_mels)
        mel = np.einsum("mf,ft->mt", mel_basis, power)
        mfcc = librosa.feature.mfcc(S=librosa.power_to_db(mel), n_mfcc=self.n_mfcc)
        delta = _paper_delta(mfcc)
        delta2 = _paper_delta(delta)
        zcr = _zero_crossing_rate(y, n_fft, hop)
        # librosa.feature.chroma_stft(S=power, tuning=0.0): speech has no tuning, and
        # estimating one would cost a pitch track per signal.
        chroma = librosa.util.normalize(
            np.einsum("cf,ft->ct", chroma_basis, power), norm=np.inf, axis=0
        )
        contrast = librosa.feature.spectral_contrast(
            S=magnitude, sr=sr, fmin=_CONTRAST_FMIN, n_bands=_CONTRAST_BANDS
        )
        centroid = librosa.feature.spectral_centroid(S=magnitude, sr=sr)
        rolloff = librosa.feature.spectral_rolloff(S=magnitude, sr=sr, roll_percent=0.85)
        # The centroid passed in: librosa would compute the same one again.
        bandwidth = librosa.feature.spectral_bandwidth(S=magnitude, sr=sr, centroid=centroid)
        # librosa.feature.tonnetz(chroma=chroma), without HPSS and CQT (module docstring).
        tonnetz = np.einsum(
            "pc,ct->pt", tonnetz_basis, librosa.util.normalize(chroma, norm=1, axis=0)
        )
        pitch = self._pitch(frames)

        blocks = [mfcc, delta, delta2, zcr, chroma, contrast, centroid, rolloff, bandwidth,
                  tonnetz, pitch]
        n_frames = min(b.shape[-1] for b in blocks)
        out = np.concatenate([b[:, :n_frames] for b in blocks], axis=0).T
        # Silent stretches make some librosa ratios 0/0; they mean "no energy", i.e. 0.
        out = np.nan_to_num(out, nan=0.0, posinf=0.0, neginf=0.0)
        return np.ascontiguousarray(out, dtype=np.float32)

    def _pitch(self, frames: np.ndarray) -> np.ndarray:
        """``(3, frames)``: ln f0 (floor ln fmin when unvoiced), voiced 0/1, periodicity.

        ``frames``: the centred, zero-padded float32 frames ``(frames, n_fft)``."""
        sr, n_fft = self.sample_rate, self.n_fft
        f0 = _yin(frames, sr=sr, fmin=self.fmin, fmax=self.fmax)
        frames = frames.astype(np.float64)
        period = np.clip(np.rint(sr / f0).astype(int), 1, n_fft // 2 - 1)
        aperiodicity = _cmnd_at(frames, period)
        rms = np.sqrt(np.mean(frames**2, axis=1))
        voiced = (aperiodicity <= self.voicing_threshold) & (rms >= VOICING_RMS_FLOOR)
        log_f0 = np.where(voiced, np.log(f0), math.log(self.fmin))
        periodicity = np.where(rms >= VOICING_RMS_FLOOR, np.clip(1 - aperiodicity, 0, 1), 0.0)
        return np.stack([log_f0, voiced.astype(np.float64), periodicity])

    def _check(self) -> None:
        def positive_int(key: str, value: Any) -> None:
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
                raise ConfigError(f"fusion107 {key} must be a positive integer, not {value!r}")

        for key in ("sample_rate", "n_fft", "hop_length", "n_mfcc", "n_mels"):
            positive_int(key, getattr(self, key))
        if self.pooling not in _POOLINGS:
            raise ConfigError(
                f"fusion107 pooling must be one of {', '.join(map(repr, _POOLINGS))}, "
                f"not {self.pooling!r}"
            )
        if self.hop_length > self.n_fft:
            raise ConfigError(
                f"fusion107 hop_length ({self.hop_length}) must not exceed n_fft ({self.n_fft})"
            )
        if self.n_mfcc > self.n_mels:
            raise ConfigError(
                f"fusion107 n_mfcc ({self.n_mfcc}) must not exceed n_mels ({self.n_mels})"
            )
        nyquist = self.sample_rate / 2
        if not (0 < self.fmin < self.fmax < nyquist):
            raise ConfigError(
                f"fusion107 needs 0 < fmin < fmax < sample_rate/2 = {nyquist:g} Hz, "
                f"not fmin={self.fmin!r}, fmax={self.fmax!r}"
            )
        # YIN compares a frame's first half with lagged copies: the longest period searched
        # (sample_rate / fmin) must fit in half a frame.
        longest = math.ceil(self.sample_rate / self.fmin)
        if longest >= self.n_fft // 2 - 1:
            raise ConfigError(
                f"fusion107 n_fft={self.n_fft} is too short for fmin={self.fmin:g} Hz: it must "
                f"exceed 2 * sample_rate / fmin + 2 = {2 * longest + 2} samples; raise n_fft "
                "or fmin"
            )
        if _CONTRAST_FMIN * 2 ** (_CONTRAST_BANDS - 1) >= nyquist:
            raise ConfigError(
                f"fusion107 needs sample_rate above {int(2 * _CONTRAST_FMIN * 2 ** (_CONTRAST_BANDS - 1))} "
                f"Hz for its spectral-contrast bands, not {self.sample_rate}"
            )
        if not (0 < self.voicing_threshold <= 1):
            raise ConfigError(
                f"fusion107 voicing_threshold must be in (0, 1], not {self.voicing_threshold!r}"
            )


def _check_signal(signal: np.ndarray, n_fft: int) -> np.ndarray:
    y = np.asarray(signal)
    if y.ndim != 1:
        raise AudioError(f"features need a mono signal (samples,), not shape {y.shape}")
    if y.size == 0:
        raise AudioError("features need a signal of at least one sample, not an empty one")
    if not np.issubdtype(y.dtype, np.floating):
        y = y.astype(np.float32)
    if not np.all(np.isfinite(y)):
        raise AudioError("the signal contains NaN or infinite samples")
    y = y.astype(np.float32, copy=False)
    if y.size < n_fft:
        # One full frame at least; librosa warns (and YIN fails) on shorter input.
        y = np.pad(y, (0, n_fft - y.size))
    return y


@functools.lru_cache(maxsize=8)
def _bases(sample_rate: int, n_fft: int, n_mels: int) -> tuple[np.ndarray, ...]:
    """librosa's mel ``(n_mels, bins)``, chroma ``(12, bins)`` and tonnetz ``(6, 12)``
    matrices, built once per setting (librosa rebuilds them on every call, slowly)."""
    import librosa

    mel = librosa.filters.mel(sr=sample_rate, n_fft=n_fft, n_mels=n_mels)
    chroma = librosa.filters.chroma(sr=sample_rate, n_fft=n_fft, tuning=0.0)
    # tonnetz of the identity chromagram is its transform matrix, exactly (x·1 + 0s).
    tonnetz = librosa.feature.tonnetz(chroma=np.eye(12))
    for basis in (mel, chroma, tonnetz):
        basis.setflags(write=False)
    return mel, chroma, tonnetz


def _paper_delta(c: np.ndarray) -> np.ndarray:
    """Paper eq. 17/18: ``d[t] = c[t+1] - c[t-1]``, edges repeated. ``(n, frames)``."""
    padded = np.pad(c, ((0, 0), (1, 1)), mode="edge")
    return padded[:, 2:] - padded[:, :-2]


def _cmnd_at(frames: np.ndarray, period: np.ndarray) -> np.ndarray:
    """YIN's cumulative mean normalised difference d'(τ) at one lag τ per frame.

    Args:
        frames: ``(frames, n)`` float64.
        period: ``(frames,)`` int lags in ``[1, n // 2 - 1]``.

    Returns:
        ``(frames,)``; 0 for a periodic frame, about 1 for noise, 1 for an all-zero frame.
    """
    n = frames.shape[1]
    max_lag = int(period.max())
    import scipy.fft

    # Zero-padding to n + max_lag is enough for the lags needed to be free of wrap-around.
    size = scipy.fft.next_fast_len(n + max_lag + 1, real=True)
    spectrum = scipy.fft.rfft(frames, n=size, axis=1)
    power = spectrum.real**2 + spectrum.imag**2
    autocorr = scipy.fft.irfft(power, n=size, axis=1)[:, 1 : max_lag + 1]
    energy = np.cumsum(frames**2, axis=1)
    total = energy[:, -1:]
    lags = np.arange(1, max_lag + 1)
    # d(τ) = Σ (x[j] - x[j+τ])² over the overlap = head energy + tail energy - 2 r(τ).
    head = energy[:, n - lags - 1]
    tail = total - energy[:, lags - 1]
    diff = np.maximum(head + tail - 2 * autocorr, 0.0)
    cumulative = np.cumsum(diff, axis=1)
    idx = (period - 1)[:, None]
    d_tau = np.take_along_axis(diff, idx, axis=1)[:, 0]
    mean_d = np.take_along_axis(cumulative, idx, axis=1)[:, 0] / period
    return np.where(mean_d > 0, d_tau / np.where(mean_d > 0, mean_d, 1.0), 1.0)


# --- librosa's computations without its per-call overhead -------------------------------
# Each helper below repeats librosa 0.11's arithmetic operation for operation (the same
# dtypes, FFT sizes and reduction order), so that fusion107's values stay bit-identical to
# those computed with librosa's functions (tests/test_speed_paths.py checks it);
# what they drop is librosa's re-framing, validation and numba dispatch on every call.


def _frame_rows(padded: np.ndarray, n_fft: int, hop: int) -> np.ndarray:
    """``(frames, n_fft)`` read-only view of ``padded``, one frame a row."""
    return np.lib.stride_tricks.sliding_window_view(padded, n_fft)[::hop]


@functools.lru_cache(maxsize=8)
def _hann(n_fft: int) -> np.ndarray:
    """librosa's periodic Hann window, from scipy as librosa takes it (a closed-form
    cosine differs in the last bit)."""
    import scipy.signal

    window = scipy.signal.get_window("hann", n_fft, fftbins=True)
    window.setflags(write=False)
    return window


def _stft(frames: np.ndarray, n_fft: int) -> np.ndarray:
    """librosa.stft(y, n_fft, hop, center=True, pad_mode="constant") of the padded frames:
    a float64 windowed FFT stored as complex64, ``(bins, frames)`` in Fortran order."""
    import scipy.fft

    spectrum = scipy.fft.rfft(_hann(n_fft) * frames, axis=-1)
    return spectrum.astype(np.complex64).T


def _zero_crossing_rate(y: np.ndarray, n_fft: int, hop: int) -> np.ndarray:
    """librosa.feature.zero_crossing_rate(y, frame_length=n_fft, hop_length=hop):
    ``(1, frames)``. A crossing is a sign-bit change between neighbours, values within
    ±1e-10 counting as +0; the first sample of a frame never counts. Counted once over
    the edge-padded signal and summed per frame with a running total."""
    padded = np.pad(y, (n_fft // 2, n_fft // 2), mode="edge")
    threshold = np.float32(1e-10)
    cleaned = np.where((padded >= -threshold) & (padded <= threshold), np.float32(0), padded)
    sign = np.signbit(cleaned)
    crossing = np.concatenate([[0], np.cumsum(sign[1:] != sign[:-1])])
    starts = np.arange(1 + (len(padded) - n_fft) // hop) * hop
    # Crossings between samples (start, start+1) … (start+n-2, start+n-1) of a frame.
    counts = crossing[starts + n_fft - 1] - crossing[starts]
    return (counts / n_fft)[None, :]


def _yin(frames: np.ndarray, *, sr: int, fmin: float, fmax: float,
         trough_threshold: float = 0.1) -> np.ndarray:
    """librosa.yin of already framed audio ``(frames, n)`` float32 → f0 ``(frames,)`` Hz:
    the cumulative mean normalised difference from one FFT autocorrelation, the first
    trough under ``trough_threshold`` (else the global minimum), refined by parabolic
    interpolation."""
    import scipy.fft

    n = frames.shape[-1]
    min_period = int(np.floor(sr / fmax))
    max_period = min(int(np.ceil(sr / fmin)), n - 1)
    size = scipy.fft.next_fast_len(2 * n - 1, real=True)
    spectrum = scipy.fft.rfft(frames, n=size, axis=-1)
    acf = scipy.fft.irfft(spectrum.real**2 + spectrum.imag**2, n=size, axis=-1)
    energy = np.cumsum(np.square(frames), axis=-1)[:, :max_period]
    # d(k) = 2 (r(0) - r(k)) - Σ_{m<k} y(m)², librosa's difference function, whose
    # energy term at k = 1 is 0, not y(0)² (librosa zeroes the row before reading it).
    energy[:, 0] = 0
    diff = np.empty((len(frames), max_period + 1), dtype=energy.dtype)
    diff[:, 0] = 0
    diff[:, 1:] = 2 * (acf[:, 0:1] - acf[:, 1:max_period + 1]) - energy
    cumulative_mean = np.cumsum(diff[:, 1:], axis=-1) / np.arange(1, max_period + 1)
    denominator = cumulative_mean[:, min_period - 1:max_period]
    cmnd = diff[:, min_period:] / (denominator + np.finfo(denominator.dtype).tiny)

    shifts = _parabolic_shifts(cmnd)
    trough = np.empty(cmnd.shape, dtype=bool)
    trough[:, 1:-1] = (cmnd[:, 1:-1] < cmnd[:, :-2]) & (cmnd[:, 1:-1] <= cmnd[:, 2:])
    trough[:, 0] = cmnd[:, 0] < cmnd[:, 1]
    trough[:, -1] = cmnd[:, -1] < cmnd[:, -2]
    below = trough & (cmnd < trough_threshold)
    index = np.where(below.any(axis=-1), np.argmax(below, axis=-1), np.argmin(cmnd, axis=-1))
    shift = np.take_along_axis(shifts, index[:, None], axis=-1)[:, 0]
    return sr / (min_period + index + shift)


def _parabolic_shifts(x: np.ndarray) -> np.ndarray:
    """librosa's parabolic interpolation along the last axis: the offset of the vertex
    through each point and its neighbours, 0 where it would leave [-1, 1] and at the ends."""
    a = x[:, 2:] + x[:, :-2] - 2 * x[:, 1:-1]
    b = (x[:, 2:] - x[:, :-2]) / 2
    inside = np.abs(b) < np.abs(a)
    shifts = np.zeros_like(x)
    np.divide(-b, a, out=shifts[:, 1:-1], where=inside)
    return shifts
