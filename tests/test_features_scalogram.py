"""The wavelet scalogram of the Sayed et al. paper: against PyWavelets, a direct sum, and its contract."""

from __future__ import annotations

import numpy as np
import pytest

from serkit.errors import ConfigError
from serkit.features import make_features
from serkit.features.scalogram import _pool, _psi, _unit_db, cwt_power

RATE = 16_000


def speechlike(seconds: float, seed: int = 0) -> np.ndarray:
    """Noise plus a gliding harmonic tone: energy at low and high scales, with changes over time."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * RATE)) / RATE
    f0 = 120 + 80 * t / seconds
    tone = sum(np.sin(2 * np.pi * k * np.cumsum(f0) / RATE) / k for k in range(1, 12))
    return (0.3 * tone * (1 + np.sin(2 * np.pi * 3 * t)) + 0.05 * rng.normal(size=t.size)).astype(np.float32)


def direct(x: np.ndarray, wavelet: str, a: float, b: int) -> complex:
    """c(a, b) = (1/a) Σ_t x(t) ψ*((t − b)/a), ψ averaged over each sample's interval, by a plain sum."""
    t = np.arange(len(x))
    within = (np.arange(16) + 0.5) / 16
    psi = _psi(wavelet, (t[:, None] - b + within) / a).mean(axis=1)
    return complex((x * np.conj(psi)).sum() / a)


def test_equal_to_pywavelets_cwt_within_the_stated_tolerance():
    """Tolerance (docs/models.md): per scale, the power pooled to the 256-sample hop differs
    from PyWavelets' ``cwt`` (same wavelet and scales, its 1/√a rescaled to the paper's 1/a,
    its integration at precision 16) by at most 1 % (relative L2 over time), and the dB image
    by at most 0.5 dB, away from the clip's edges (where the two pad differently)."""
    pywt = pytest.importorskip("pywt")
    scalogram = make_features("scalogram")
    x = speechlike(2.0)
    ours = cwt_power(x, scalogram.scales, scalogram.wavelet)
    coef, _ = pywt.cwt(x.astype(np.float64), scalogram.scales, scalogram.wavelet, precision=16, method="fft")
    theirs = np.abs(coef) ** 2 / scalogram.scales[:, None]
    edge = 256 * int(np.ceil(8 * scalogram.scales.max() / 256 + 1))
    ours_pooled, theirs_pooled = (_pool(p[:, edge:-edge], 256) for p in (ours, theirs))
    relative = np.linalg.norm(ours_pooled - theirs_pooled, axis=1) / np.linalg.norm(theirs_pooled, axis=1)
    assert relative.max() < 0.01, (relative.argmax(), relative.max())
    db = 80 * np.abs(_unit_db(ours_pooled, 80) - _unit_db(theirs_pooled, 80))
    assert db.max() < 0.5


@pytest.mark.parametrize("wavelet", ["cmor1.5-1.0", "morl", "haar"])
def test_fft_convolution_equals_the_direct_sum_at_every_scale_and_the_edges(wavelet):
    scalogram = make_features("scalogram", wavelet=wavelet, n_scales=6)
    x = speechlike(4.5, seed=1)  # longer than one 2^15 block: the block seams are checked too
    power = cwt_power(x, scalogram.scales, wavelet)
    for row in range(6):
        for b in (0, 17, 28_400, 28_500, 40_000, len(x) - 1):
            expected = abs(direct(x, wavelet, scalogram.scales[row], b)) ** 2
            assert power[row, b] == pytest.approx(expected, rel=2e-3, abs=1e-7 * power[row].max())


def test_shape_range_and_registration():
    scalogram = make_features("scalogram")
    assert scalogram.spec.kind == "image" and scalogram.spec.shape == (1, 64) and scalogram.spec.length is None
    assert scalogram.spec.rate == RATE / 256 and scalogram.dim == 64
    assert len(set(scalogram.feature_names)) == 64
    image = scalogram(speechlike(1.0))
    assert image.shape == (1, 64, 63) and image.dtype == np.float32  # ceil(16000 / 256) columns
    assert image.min() >= 0 and image.max() == pytest.approx(1.0)
    # Row 0 is the lowest frequency, as a spectrogram is drawn.
    assert scalogram.frequencies[0] == pytest.approx(60) and scalogram.frequencies[-1] == pytest.approx(7500)
    assert np.all(np.diff(scalogram.scales) < 0)


def test_the_scales_put_each_centre_frequency_where_it_says():
    """A pure tone is loudest in the row whose centre frequency is closest to it."""
    scalogram = make_features("scalogram", n_scales=32)
    t = np.arange(RATE) / RATE
    for hz in (150.0, 900.0, 3000.0):
        image = scalogram(np.sin(2 * np.pi * hz * t).astype(np.float32))
        loudest = image[0, :, 10:-10].mean(axis=1).argmax()
        assert loudest == np.abs(np.log(scalogram.frequencies / hz)).argmin()


def test_gain_does_not_matter_and_silence_is_zero():
    scalogram = make_features("scalogram", n_scales=16)
    x = speechlike(1.0)
    assert np.allclose(scalogram(x), scalogram(0.01 * x), atol=1e-4)
    assert not scalogram(np.zeros(8000, dtype=np.float32)).any()


def test_a_crop_of_the_scalogram_is_the_scalogram_of_the_crop_away_from_its_edges():
    """Why training may crop columns of the cached whole-clip image instead of transforming
    each epoch's audio window: they differ only within the largest wavelet's reach (8a ≈
    2,130 samples, 9 columns) of the window's edges. The dB reference (each image's max) is
    the other difference, so the power is compared."""
    scalogram = make_features("scalogram", n_scales=12)
    x = speechlike(3.0)
    start, width = 40 * 256, 100 * 256
    whole = _pool(scalogram.power(x), 256)[:, 40:140]
    window = _pool(scalogram.power(x[start:start + width]), 256)
    reach = int(np.ceil(8 * scalogram.scales.max() / 256)) + 1
    assert np.allclose(whole[:, reach:-reach], window[:, reach:-reach], rtol=1e-3)
    assert not np.allclose(whole[:, :2], window[:, :2], rtol=1e-2)  # the edges do differ


def test_rgb_rendering_has_three_channels_through_the_colour_map():
    matplotlib = pytest.importorskip("matplotlib")
    scalogram = make_features("scalogram", n_scales=8, rgb=True)
    image = scalogram(speechlike(0.5))
    assert image.shape == (3, 8, 32) and scalogram.spec.shape == (3, 8)
    grey = make_features("scalogram", n_scales=8)(speechlike(0.5))[0]
    expected = matplotlib.colormaps["viridis"](grey)[..., :3].transpose(2, 0, 1)
    assert np.allclose(image, expected, atol=1e-6)


@pytest.mark.parametrize(("params", "names"), [
    ({"wavelet": "db4"}, "wavelet"),
    ({"wavelet": "cmor0-1"}, "wavelet"),
    ({"f_max": 8000.0}, "f_max"),
    ({"f_min": 0.0}, "f_min"),
    ({"f_min": 500.0, "f_max": 400.0}, "f_min"),
    ({"n_scales": 0}, "n_scales"),
    ({"hop_length": 0}, "hop_length"),
    ({"rgb": True, "colormap": "no-such-map"}, "colormap"),
    ({"wavelet": "cmor1.5-0.4"}, "f_max"),
])
def test_bad_parameters_are_one_clear_config_error(params, names):
    with pytest.raises(ConfigError, match=names):
        make_features("scalogram", **params)
