"""White-noise augmentation: measured SNR, seeding, the training side only."""

from __future__ import annotations

import numpy as np
import pytest

from serkit.augmentation import (AugmentedFeatures, WhiteNoise, augmented_extractors,
                                 make_augmentation, snr_db)
from serkit.errors import ConfigError
from serkit.features import make_features
from serkit.training.config import config_from_dict


def speechlike(seconds: float = 2.0, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * 16_000)) / 16_000
    envelope = 0.5 + 0.5 * np.sin(2 * np.pi * 3 * t)
    return (envelope * (0.3 * np.sin(2 * np.pi * 180 * t) + 0.02 * rng.standard_normal(t.size))).astype(np.float32)


@pytest.mark.parametrize("target", [15.0, 22.5, 30.0])
def test_measured_snr_is_the_drawn_snr_within_half_a_db(target):
    x = speechlike()
    y = WhiteNoise(snr_db=(target, target)).apply(x, np.random.default_rng(1))
    assert abs(snr_db(x, y - x) - target) < 0.5


def test_snrs_are_drawn_uniformly_from_the_range():
    x = speechlike(0.5)
    noise = WhiteNoise()
    rng = np.random.default_rng(0)
    measured = np.array([snr_db(x, noise.apply(x, rng) - x) for _ in range(400)])
    assert measured.min() >= 15 - 0.5 and measured.max() <= 30 + 0.5
    assert abs(measured.mean() - 22.5) < 0.6
    # Roughly uniform: each third of the range gets about a third of the draws.
    counts = np.histogram(measured, bins=[0, 20, 25, 99])[0]
    assert (counts > 100).all()


def test_copies_are_seeded_by_seed_copy_and_content_not_by_order():
    logmel = make_features("logmel")
    a, b = speechlike(seed=1), speechlike(seed=2)
    first, second = augmented_extractors(logmel, [WhiteNoise()], seed=7)
    assert first.copy == 0 and second.copy == 1
    assert np.array_equal(first(a), first(a))                    # same seed, copy, signal
    assert not np.array_equal(first(a), second(a))               # another copy
    assert not np.array_equal(first(a), AugmentedFeatures(logmel, WhiteNoise(), copy=0, seed=8)(a))
    first(b)                                                     # order does not matter
    assert np.array_equal(first(a), augmented_extractors(logmel, [WhiteNoise()], seed=7)[0](a))


def test_augmented_features_get_their_own_cache_key():
    logmel = make_features("logmel")
    wrapped = AugmentedFeatures(logmel, WhiteNoise(), copy=1, seed=3)
    assert wrapped.params["augment"] == {"name": "white_noise", "copies": 2, "snr_db": [15.0, 30.0],
                                         "copy": 1, "seed": 3}
    assert wrapped.name == logmel.name and wrapped.dim == logmel.dim and wrapped.spec == logmel.spec


def test_bad_augmentation_configs_are_config_errors():
    with pytest.raises(ConfigError, match="low <= high"):
        make_augmentation("white_noise", snr_db=[30, 15])
    with pytest.raises(ConfigError, match="white_noise"):
        make_augmentation("white_nosie")
    with pytest.raises(ConfigError, match="training.augment"):
        config_from_dict({"experiment": "x", "data": {"corpora": ["emodb"]},
                          "features": {"name": "logmel"}, "model": {"name": "cnn"},
                          "training": {"augment": [{"name": "white_noise", "params": {"copie": 2}}]}})


# --- recording channels ---------------------------------------------------------------------

def _band_db(x: np.ndarray, low: float, high: float) -> float:
    from scipy import signal as dsp

    f, p = dsp.welch(x, fs=16_000, nperseg=1024)
    return float(10 * np.log10(p[(f >= low) & (f < high)].mean()))


@pytest.mark.parametrize("tilt", [-6.0, 6.0])
def test_tilt_shelves_low_and_high_bands_by_half_the_tilt_each(tilt):
    from serkit.augmentation import _tilted

    x = np.random.default_rng(0).standard_normal(32_000)
    y = _tilted(x, tilt, 16_000)
    assert _band_db(y, 80, 150) - _band_db(x, 80, 150) == pytest.approx(-tilt / 2, abs=0.3)
    assert _band_db(y, 900, 1100) - _band_db(x, 900, 1100) == pytest.approx(0, abs=0.3)
    assert _band_db(y, 6000, 7500) - _band_db(x, 6000, 7500) == pytest.approx(tilt / 2, abs=0.3)


def test_each_channel_stage_does_what_it_says():
    from serkit.augmentation import RecordingChannel

    x = np.random.default_rng(1).standard_normal(32_000).astype(np.float32) * 0.1
    always = RecordingChannel(p=1.0, gain_db=(0, 0), tilt_db=(0, 0), snr_db=(60, 60), rt60_s=(0.3, 0.3))
    rng = np.random.default_rng(3)
    y = always.apply(x, rng)
    # band limiting always applies with p=1: little energy is left above 7.5 kHz
    assert _band_db(y, 7600, 8000) < _band_db(x, 7600, 8000) - 20
    assert y.dtype == np.float32 and y.shape == x.shape and np.abs(y).max() <= 1.0
    never = RecordingChannel(p=0.0, gain_db=(-6, -6))
    z = never.apply(x, np.random.default_rng(0))
    assert np.allclose(z, x * 10 ** (-6 / 20), atol=1e-6)  # only the gain is left
    loud = RecordingChannel(p=0.0, gain_db=(40, 40)).apply(x, np.random.default_rng(0))
    assert np.abs(loud).max() == pytest.approx(1.0)  # scaled into full scale, never wrapped


def test_channel_copies_differ_and_are_reproducible():
    from serkit.augmentation import RecordingChannel

    x = speechlike()
    channel = RecordingChannel()
    a1, a2 = channel.apply(x, np.random.default_rng(5)), channel.apply(x, np.random.default_rng(5))
    assert np.array_equal(a1, a2)
    assert not np.allclose(a1, channel.apply(x, np.random.default_rng(6)))
    with pytest.raises(ConfigError, match="recording_channel"):
        make_augmentation("recording_channel", tilt_db=[6, -6])
    with pytest.raises(ConfigError, match="recording_channel"):
        make_augmentation("recording_channel", p=1.5)
