"""Wavelet scalograms: log power of a continuous wavelet transform over time × scale.

Sayed et al. 2025 ("Wavelet-Scaled Spectrogram", section 3.1): the CWT
``c(a, b) = (1/a) ∫ x(t) ψ*((t − b)/a) dt`` with any mother wavelet (Morlet and Haar are
named), the power ``|c(a, b)|²`` and its logarithm plotted over time and scale, rendered
as an RGB image. The paper gives no scales, frequency range, hop, image size or colour
map; ours (docs/models.md, "which reading"):

- a complex Morlet (PyWavelets' ``cmor1.5-1.0``) by default; ``morl`` (real Morlet) and
  ``haar`` too. Haar is not a PyWavelets CWT wavelet (it is a discrete one), so it is
  written out here: +1 on [0, ½), −1 on [½, 1).
- ``n_scales`` log-spaced scales whose centre frequencies run from ``f_min`` to ``f_max``
  (60 Hz–7.5 kHz: the speech band below 16 kHz's Nyquist), row 0 the lowest frequency,
  as a spectrogram is drawn;
- the paper's 1/a normalisation (PyWavelets' ``cwt`` uses 1/√a: ours = theirs / √a);
- the power averaged over blocks of ``hop_length`` samples (one column per block), so the
  image has a frame rate like a spectrogram's, not one column per sample;
- dB relative to the clip's own maximum with a ``top_db`` floor, mapped to [0, 1]
  (0 = the floor, 1 = the clip's maximum): the recording gain drops out, as the paper's
  RMS normalisation intends, and the zero a batch pads with reads as silence;
- one channel by default; ``rgb: true`` renders the [0, 1] image through a colour map
  (``viridis``), the paper's "2D RGB image".

The whole clip is transformed (the training loop crops a random window of columns each
epoch, the model a centred one at evaluation), by FFT: the signal's spectrum once, each
scale's sampled wavelet spectrum once per FFT size (cached), single precision, a few
scales per inverse FFT to bound the memory. ``tests/test_features_scalogram.py`` checks
it against ``pywt.cwt``; ``benchmarks/bench_scalogram.py`` times both.
"""

from __future__ import annotations

import math
import re
from functools import lru_cache
from typing import Any

import numpy as np

from serkit.errors import ConfigError
from serkit.inputs import InputSpec

#: Wavelets by family; ``cmorB-C`` takes a bandwidth B and a centre frequency C.
WAVELETS = ("cmorB-C", "morl", "haar")
_CMOR = re.compile(r"^cmor(\d+(?:\.\d+)?)-(\d+(?:\.\d+)?)$")
#: Scales per inverse FFT: 8 × the blocks of a 9 s clip (6 × 2^15) in complex64 is ~12 MB.
_SCALE_CHUNK = 8
#: Points per sample interval when a kernel is averaged over it.
_SUBSAMPLES = 16


class Scalogram:
    """``(channels, n_scales, frames)`` log wavelet power of a whole clip, in [0, 1].

    Args:
        sample_rate: the rate the signal must have.
        wavelet: ``cmorB-C`` (complex Morlet, PyWavelets' definition), ``morl`` or ``haar``.
        n_scales: rows of the image (scales).
        f_min, f_max: centre frequencies (Hz) of the largest and smallest scale.
        hop_length: samples per column; the power is averaged over each block.
        top_db: dynamic range kept below the clip's maximum.
        rgb: three channels through ``colormap`` instead of one.
        colormap: a matplotlib colour map name (only with ``rgb``).

    Example:
        >>> import numpy as np
        >>> s = Scalogram(n_scales=16)
        >>> s(np.random.default_rng(0).normal(size=16000).astype("float32")).shape
        (1, 16, 63)
    """

    name = "scalogram"

    def __init__(self, *, sample_rate: int = 16_000, wavelet: str = "cmor1.5-1.0", n_scales: int = 64,
                 f_min: float = 60.0, f_max: float = 7500.0, hop_length: int = 256, top_db: float = 80.0,
                 rgb: bool = False, colormap: str = "viridis"):
        self.sample_rate = int(sample_rate)
        self.wavelet = str(wavelet)
        _wavelet_shape(self.wavelet)  # an unknown name fails here, not at the first clip
        self.n_scales, self.hop_length = int(n_scales), int(hop_length)
        self.f_min, self.f_max, self.top_db = float(f_min), float(f_max), float(top_db)
        self.rgb, self.colormap = bool(rgb), str(colormap)
        self._check()

    def _check(self) -> None:
        nyquist = self.sample_rate / 2
        if self.n_scales < 1 or self.hop_length < 1 or self.top_db <= 0:
            raise ConfigError(f"scalogram needs n_scales ≥ 1, hop_length ≥ 1 and top_db > 0 (got n_scales="
                              f"{self.n_scales}, hop_length={self.hop_length}, top_db={self.top_db})")
        if not 0 < self.f_min <= self.f_max < nyquist:
            raise ConfigError(f"scalogram needs 0 < f_min ≤ f_max < {nyquist:g} Hz (the Nyquist frequency of "
                              f"sample_rate {self.sample_rate}); got f_min={self.f_min:g}, f_max={self.f_max:g}")
        if min(self.scales) < 1:
            raise ConfigError(f"scalogram: f_max={self.f_max:g} Hz needs a scale below 1 sample for wavelet "
                              f"{self.wavelet!r} (centre frequency {_centre_frequency(self.wavelet):.3f} "
                              "cycles/scale); lower f_max")
        if self.rgb:
            _colormap(self.colormap)

    @property
    def params(self) -> dict[str, Any]:
        return {"sample_rate": self.sample_rate, "wavelet": self.wavelet, "n_scales": self.n_scales,
                "f_min": self.f_min, "f_max": self.f_max, "hop_length": self.hop_length,
                "top_db": self.top_db, "rgb": self.rgb, "colormap": self.colormap}

    @property
    def channels(self) -> int:
        return 3 if self.rgb else 1

    @property
    def spec(self) -> InputSpec:
        """An image of ``channels × n_scales`` rows; its width varies with the clip."""
        return InputSpec("image", (self.channels, self.n_scales), rate=self.sample_rate / self.hop_length)

    @property
    def dim(self) -> int:
        return self.channels * self.n_scales

    @property
    def feature_names(self) -> list[str]:
        bands = [f"{f:.0f}Hz" for f in self.frequencies]
        return [f"scalogram_{c}_{b}" for c in (("r", "g", "b") if self.rgb else ("p",)) for b in bands]

    @property
    def frequencies(self) -> np.ndarray:
        """Centre frequency (Hz) of each row, lowest first."""
        return np.geomspace(self.f_min, self.f_max, self.n_scales)

    @property
    def scales(self) -> np.ndarray:
        """The scale a (in samples) of each row: centre frequency C·rate/a = the row's frequency."""
        return _centre_frequency(self.wavelet) * self.sample_rate / self.frequencies

    def n_frames(self, n_samples: int) -> int:
        return max(1, math.ceil(n_samples / self.hop_length))

    def power(self, signal: np.ndarray) -> np.ndarray:
        """``(n_scales, n_samples)`` float32 |c(a, b)|² with the paper's 1/a normalisation."""
        return cwt_power(np.asarray(signal, dtype=np.float32), self.scales, self.wavelet)

    def __call__(self, signal: np.ndarray) -> np.ndarray:
        signal = np.asarray(signal, dtype=np.float32)
        if signal.size == 0:
            signal = np.zeros(1, dtype=np.float32)
        pooled = _pool(self.power(signal), self.hop_length)
        image = _unit_db(pooled, self.top_db)
        if self.rgb:
            return np.ascontiguousarray(_colormap(self.colormap)(image)[..., :3].transpose(2, 0, 1), dtype=np.float32)
        return image[None].astype(np.float32)


def cwt_power(signal: np.ndarray, scales: np.ndarray, wavelet: str) -> np.ndarray:
    """|c(a, b)|², ``c(a, b) = (1/a) Σ_t x(t) ψ*((t − b)/a)``, for every b of ``signal``.

    Overlap-save over blocks of a fixed FFT size: every clip length reuses the same kernel
    spectra (built once per process), and the blocks of a clip and a few scales at a time
    go through one batched inverse FFT.
    """
    import scipy.fft

    signal = np.asarray(signal, dtype=np.float32)
    n = signal.shape[-1]
    key = tuple(float(a) for a in scales)
    lows, highs = zip(*(_support(wavelet, a) for a in key))
    low, span = min(lows), max(highs) - min(lows)
    size = _block_size(span)
    valid = size - span
    n_blocks = math.ceil(n / valid)
    # Block k holds x[k·valid + low : k·valid + low + size] (zeros outside the clip).
    padded = np.zeros(n_blocks * valid + size, dtype=np.float32)
    padded[-low : -low + n] = signal
    starts = np.arange(n_blocks) * valid
    blocks = padded[starts[:, None] + np.arange(size)]
    spectra = scipy.fft.rfft(blocks, axis=-1)
    spectra = np.concatenate([spectra, np.conj(spectra[:, 1 : (size + 1) // 2][:, ::-1])], axis=-1)
    kernels = _kernel_spectra(wavelet, key, size, low)
    out = np.empty((len(key), n_blocks * valid), dtype=np.float32)
    for first in range(0, len(key), _SCALE_CHUNK):
        rows = slice(first, first + _SCALE_CHUNK)
        coef = scipy.fft.ifft(spectra[None] * kernels[rows, None], axis=-1, overwrite_x=True)[..., :valid]
        out[rows] = (coef.real ** 2 + coef.imag ** 2).reshape(coef.shape[0], -1)
    return out[:, :n]


def _block_size(span: int) -> int:
    """The FFT size: 2^15, or the first power of two that leaves at least as many outputs per
    block as the widest kernel spans (a very low ``f_min``), so no block is mostly overlap."""
    size = 1 << 15
    while size < 2 * span + 1:
        size <<= 1
    return size


@lru_cache(maxsize=4)
def _kernel_spectra(wavelet: str, scales: tuple[float, ...], size: int, low: int) -> np.ndarray:
    """Spectra K_a such that ``ifft(D · K_a)[j] = c(a, j + s)`` for a block D starting at s + ``low``.

    ``Σ_u d(j + u − low) h(u)`` is ``ifft(D · conj(FFT(conj h′)))`` with h′(v) = h(v + low);
    here h(u) = (1/a) ψ*(u/a), so conj h = (1/a) ψ(u/a) is what is sampled.
    """
    out = np.zeros((len(scales), size), dtype=np.complex64)
    # Each sample stands for the interval [u, u + 1): ψ is averaged over it (midpoint rule),
    # the integral for a signal held constant over a sample, as PyWavelets' integrate-and-
    # difference does. Point samples would differ from it by up to ~2× at the smallest scales,
    # where ψ turns half a cycle per sample.
    within = (np.arange(_SUBSAMPLES) + 0.5) / _SUBSAMPLES
    for row, a in enumerate(scales):
        lo, hi = _support(wavelet, a)
        u = np.arange(lo, hi + 1)
        kernel = np.zeros(size, dtype=np.complex128)
        kernel[u - low] = _psi(wavelet, (u[:, None] + within) / a).mean(axis=1) / a
        out[row] = np.conj(np.fft.fft(kernel))
    return out


def _psi(wavelet: str, t: np.ndarray) -> np.ndarray:
    """The mother wavelet at times t (PyWavelets' definitions for the Morlets)."""
    shape = _wavelet_shape(wavelet)
    if shape[0] == "cmor":
        bandwidth, centre = shape[1], shape[2]
        return np.exp(-t ** 2 / bandwidth) * np.exp(2j * np.pi * centre * t) / np.sqrt(np.pi * bandwidth)
    if shape[0] == "morl":
        return np.exp(-t ** 2 / 2) * np.cos(5 * t)
    return np.where((t >= 0) & (t < 0.5), 1.0, np.where((t >= 0.5) & (t < 1), -1.0, 0.0))


def _support(wavelet: str, scale: float) -> tuple[int, int]:
    """Sample intervals [u, u + 1) kept: ψ on [-8a, 8a] for the Morlets (PyWavelets' range), [0, a) for Haar."""
    if _wavelet_shape(wavelet)[0] == "haar":
        return 0, math.ceil(scale)
    half = math.ceil(8 * scale)
    return -half - 1, half


@lru_cache(maxsize=16)
def _centre_frequency(wavelet: str) -> float:
    """Cycles per unit scale at the wavelet's spectral peak (cmor: C; morl: 5/2π; haar: numeric)."""
    shape = _wavelet_shape(wavelet)
    if shape[0] == "cmor":
        return shape[2]
    if shape[0] == "morl":
        return 5 / (2 * math.pi)
    f = np.linspace(0.01, 2, 20_000)  # |Ψ̂(f)| of Haar ∝ sin²(πf/2)/f
    return float(f[np.argmax(np.sin(np.pi * f / 2) ** 2 / f)])


def _wavelet_shape(wavelet: str) -> tuple:
    match = _CMOR.match(wavelet)
    if match:
        bandwidth, centre = float(match.group(1)), float(match.group(2))
        if bandwidth > 0 and centre > 0:
            return "cmor", bandwidth, centre
    if wavelet in ("morl", "haar"):
        return (wavelet,)
    raise ConfigError(f"scalogram: wavelet must be one of {', '.join(WAVELETS)} (e.g. 'cmor1.5-1.0', "
                      f"B and C > 0), not {wavelet!r}")


def _pool(power: np.ndarray, hop: int) -> np.ndarray:
    """Mean power over consecutive blocks of ``hop`` samples; the last block may be shorter."""
    n_scales, n = power.shape
    frames = max(1, math.ceil(n / hop))
    full = n // hop
    out = np.empty((n_scales, frames), dtype=np.float64)
    out[:, :full] = power[:, : full * hop].reshape(n_scales, full, hop).mean(axis=2)
    if frames > full:
        out[:, full] = power[:, full * hop:].mean(axis=1)
    return out


def _unit_db(power: np.ndarray, top_db: float) -> np.ndarray:
    """dB relative to the maximum, floored at -top_db, mapped to [0, 1]; silence is all 0."""
    peak = float(power.max())
    if not peak > 0:
        return np.zeros_like(power, dtype=np.float32)
    db = 10 * np.log10(np.maximum(power, peak * 10 ** (-top_db / 10)) / peak)
    return (1 + db / top_db).astype(np.float32)


def _colormap(name: str):
    try:
        import matplotlib

        return matplotlib.colormaps[name]
    except KeyError:
        raise ConfigError(f"scalogram: unknown colormap {name!r}; use a matplotlib name such as 'viridis'") from None
