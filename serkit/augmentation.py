"""Waveform augmentation of the training side: noisy copies of each training utterance.

Wei et al. 2025 (section III.B.3) give every training utterance two copies with additive
white Gaussian noise at an SNR drawn uniformly from 15–30 dB; validation and test data
stay clean. :class:`WhiteNoise` is that augmentation, reusable by any model and corpus.

An augmented copy is computed like any other feature: :class:`AugmentedFeatures` wraps a
feature extractor so that it adds the noise before extracting. Its parameters (the
augmentation's, the copy number and the run seed) join the extractor's in the feature
cache key, so augmented features are cached, computed in parallel, and shared by every
fold of a seed. The noise of a copy is drawn from a generator seeded by the run seed, the
copy number and the signal's own bytes: the same utterance gets the same noise in every
fold and every rerun of a seed, whatever order the files are processed in.

Example:
    >>> import numpy as np
    >>> noise = WhiteNoise(snr_db=(20, 20))
    >>> x = np.sin(np.arange(16000) / 5).astype("float32")
    >>> y = noise.apply(x, np.random.default_rng(0))
    >>> round(float(snr_db(x, y - x)))
    20
"""

from __future__ import annotations

import zlib
from typing import Any

import numpy as np

from serkit.errors import ConfigError
from serkit.registry import Registry


def snr_db(signal: np.ndarray, noise: np.ndarray) -> float:
    """Signal-to-noise ratio in dB from the mean powers of ``signal`` and ``noise``."""
    return float(10 * np.log10(np.mean(np.square(signal, dtype=np.float64))
                               / np.mean(np.square(noise, dtype=np.float64))))


class WhiteNoise:
    """Additive white Gaussian noise at an SNR drawn uniformly from ``snr_db``.

    The noise is scaled from the powers of this signal and this noise draw, so the SNR of
    each copy is exactly the drawn value (the paper: "both the original signal and the
    noise are first normalized, after which a noise scaling factor is computed").

    Args:
        copies: noisy copies per training utterance (the paper: 2).
        snr_db: ``(low, high)`` dB range of the uniform SNR draw (the paper: 15–30).
    """

    name = "white_noise"

    def __init__(self, *, copies: int = 2, snr_db: tuple[float, float] | list[float] = (15.0, 30.0)):
        low, high = (float(v) for v in snr_db)
        if copies < 1 or low > high:
            raise ConfigError(f"white_noise needs copies >= 1 and snr_db [low, high] with low <= high; "
                              f"got copies={copies}, snr_db={list(snr_db)}")
        self.copies, self.snr_range = int(copies), (low, high)

    @property
    def params(self) -> dict[str, Any]:
        return {"copies": self.copies, "snr_db": list(self.snr_range)}

    def apply(self, signal: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """``signal`` plus white noise at an SNR drawn from the range."""
        target = rng.uniform(*self.snr_range)
        noise = rng.standard_normal(len(signal))
        signal_power = np.mean(np.square(signal, dtype=np.float64))
        noise_power = np.mean(np.square(noise))
        scale = np.sqrt(signal_power / (noise_power * 10 ** (target / 10)))
        return (signal + scale * noise).astype(np.float32)


class RecordingChannel:
    """A random recording set-up: gain, band limits, spectral tilt, noise, room, clipping.

    A model trained on a few corpora learns their microphones and rooms along with the
    voices; each copy of a training clip passes through a different simulated channel, so
    what stays constant across copies is the speaker's emotion, not the set-up. Each stage
    is applied with probability ``p``:

    - band limits: a telephone band (300–3400 Hz, 4th-order Butterworth) or a low-pass at a
      cut-off drawn from 3.4–7.5 kHz (as resampling to 8–16 kHz and back leaves);
    - tilt: a first-order shelf around 1 kHz tilting the spectrum by ``tilt_db`` (a
      brighter or duller microphone);
    - noise: white or pink (1/f) noise at an SNR drawn from ``snr_db``;
    - room: convolution with an exponentially decaying noise tail of RT60 drawn from
      ``rt60_s``, mixed at a direct-to-reverberant ratio from 0 to 10 dB;
    - clipping: hard clipping at a level drawn from 0.3–0.8 of the peak;
    - gain: a level change drawn from ``gain_db`` (always applied).

    Args:
        copies: channel copies per training clip.
        p: probability of each optional stage.
        tilt_db, snr_db, rt60_s, gain_db: ``(low, high)`` ranges of the uniform draws.
    """

    name = "recording_channel"

    def __init__(self, *, copies: int = 2, p: float = 0.5, tilt_db: tuple[float, float] | list[float] = (-6.0, 6.0),
                 snr_db: tuple[float, float] | list[float] = (10.0, 35.0),
                 rt60_s: tuple[float, float] | list[float] = (0.2, 0.8),
                 gain_db: tuple[float, float] | list[float] = (-12.0, 6.0), sample_rate: int = 16_000):
        ranges = {"tilt_db": tilt_db, "snr_db": snr_db, "rt60_s": rt60_s, "gain_db": gain_db}
        bad = [k for k, v in ranges.items() if len(v) != 2 or float(v[0]) > float(v[1])]
        if copies < 1 or not 0 <= p <= 1 or bad or float(rt60_s[0]) <= 0:
            raise ConfigError(f"recording_channel needs copies >= 1, 0 <= p <= 1 and [low, high] ranges "
                              f"with low <= high (rt60_s > 0); got copies={copies}, p={p}, "
                              + ", ".join(f"{k}={list(v)}" for k, v in ranges.items()))
        self.copies, self.p, self.sample_rate = int(copies), float(p), int(sample_rate)
        self.ranges = {k: (float(v[0]), float(v[1])) for k, v in ranges.items()}

    @property
    def params(self) -> dict[str, Any]:
        return {"copies": self.copies, "p": self.p, **{k: list(v) for k, v in self.ranges.items()},
                "sample_rate": self.sample_rate}

    def apply(self, signal: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """``signal`` through one random channel (float32, same length)."""
        from scipy import signal as dsp

        x = np.asarray(signal, dtype=np.float64)
        rate = self.sample_rate
        if rng.random() < self.p:
            if rng.random() < 0.3:
                sos = dsp.butter(4, [300, 3400], btype="bandpass", fs=rate, output="sos")
            else:
                sos = dsp.butter(6, rng.uniform(3400, min(7500, 0.47 * rate)), fs=rate, output="sos")
            x = dsp.sosfilt(sos, x)
        if rng.random() < self.p:
            x = _tilted(x, rng.uniform(*self.ranges["tilt_db"]), rate)
        if rng.random() < self.p:
            x = self._room(x, rng)
        if rng.random() < self.p:
            noise = rng.standard_normal(len(x))
            if rng.random() < 0.5:  # pink: 1/f power, by filtering white noise in the frequency domain
                spectrum = np.fft.rfft(noise)
                spectrum[1:] /= np.sqrt(np.arange(1, len(spectrum)))
                noise = np.fft.irfft(spectrum, n=len(x))
            power = np.mean(x ** 2) or 1e-12
            target = rng.uniform(*self.ranges["snr_db"])
            x = x + noise * np.sqrt(power / (np.mean(noise ** 2) * 10 ** (target / 10)))
        if rng.random() < self.p * 0.5:
            level = rng.uniform(0.3, 0.8) * np.max(np.abs(x))
            x = np.clip(x, -level, level)
        x *= 10 ** (rng.uniform(*self.ranges["gain_db"]) / 20)
        # Keep the copy a valid signal: scale down rather than wrap when it would exceed full scale.
        top = np.max(np.abs(x))
        if top > 1.0:
            x /= top
        return x.astype(np.float32)

    def _room(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        from scipy import signal as dsp

        rate = self.sample_rate
        rt60 = rng.uniform(*self.ranges["rt60_s"])
        t = np.arange(int(rt60 * rate)) / rate
        tail = rng.standard_normal(t.size) * np.exp(-6.9 * t / rt60)  # -60 dB at rt60
        tail /= np.sqrt(np.sum(tail ** 2)) or 1.0
        wet = dsp.fftconvolve(x, tail)[: len(x)]
        ratio = 10 ** (rng.uniform(0, 10) / 20)  # direct-to-reverberant amplitude ratio
        direct = np.sqrt(np.mean(x ** 2)) or 1e-12
        return x + wet * direct / ((np.sqrt(np.mean(wet ** 2)) or 1e-12) * ratio)


def _tilted(x: np.ndarray, tilt_db: float, rate: int) -> np.ndarray:
    """``x`` with a first-order shelf: ``-tilt/2`` dB well below 1 kHz, ``+tilt/2`` well above."""
    from scipy import signal as dsp

    # A bilinear-transformed first-order shelf H(s) = (s + w0/g) / (s + w0*g): its corners
    # sit a factor g below and above 1 kHz, its high-to-low gain ratio is g**2.
    g = 10 ** (tilt_db / 40)
    w0 = 2 * np.pi * 1000.0
    b, a = dsp.bilinear([1.0, w0 / g], [1.0, w0 * g], fs=rate)
    # Normalised so that 1 kHz, the shelf's centre, keeps its level.
    _, response = dsp.freqz(b, a, worN=[1000.0], fs=rate)
    return dsp.lfilter(b, a, x) / np.abs(response[0])


#: Augmentations by name, configured as ``training.augment: [{name, params}]``.
AUGMENTATIONS: Registry[type] = Registry("augmentation")
AUGMENTATIONS.register("white_noise")(WhiteNoise)
AUGMENTATIONS.register("recording_channel")(RecordingChannel)


def make_augmentation(name: str, **params: Any):
    """Build the augmentation registered as ``name`` (ConfigError on unknown names/params)."""
    return AUGMENTATIONS.create(name, **params)


class AugmentedFeatures:
    """A feature extractor that first applies copy ``copy`` of ``augmentation``.

    Picklable and with its own ``params``, so :func:`serkit.features.extract_corpus`
    caches and parallelises it like any extractor.
    """

    def __init__(self, extractor: Any, augmentation: Any, *, copy: int, seed: int):
        self.extractor, self.augmentation = extractor, augmentation
        self.copy, self.seed = int(copy), int(seed)
        self.name = extractor.name
        self.sample_rate = extractor.sample_rate
        self.spec = extractor.spec

    @property
    def params(self) -> dict[str, Any]:
        return {**self.extractor.params,
                "augment": {"name": self.augmentation.name, **self.augmentation.params,
                            "copy": self.copy, "seed": self.seed}}

    @property
    def dim(self) -> int:
        return self.extractor.dim

    @property
    def feature_names(self) -> list[str]:
        return self.extractor.feature_names

    def rng(self, signal: np.ndarray) -> np.random.Generator:
        """The generator of this copy of this signal (see the module docstring)."""
        content = zlib.crc32(np.ascontiguousarray(signal, dtype=np.float32).tobytes())
        return np.random.default_rng([self.seed, self.copy, content])

    def __call__(self, signal: np.ndarray) -> np.ndarray:
        return self.extractor(self.augmentation.apply(signal, self.rng(signal)))


def augmented_extractors(extractor: Any, augmentations: list[Any], *, seed: int) -> list[AugmentedFeatures]:
    """One wrapped extractor per copy of every augmentation (the paper's config: two)."""
    return [AugmentedFeatures(extractor, aug, copy=k, seed=seed)
            for aug in augmentations for k in range(aug.copies)]
