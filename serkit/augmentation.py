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


#: Augmentations by name, configured as ``training.augment: [{name, params}]``.
AUGMENTATIONS: Registry[type] = Registry("augmentation")
AUGMENTATIONS.register("white_noise")(WhiteNoise)


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
