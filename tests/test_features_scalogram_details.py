"""The scalogram's details, on fake signals with known answers: the mother wavelets against
PyWavelets' ``ContinuousWavelet(...).wavefun`` and their closed forms (Haar at the edges of
its two halves), the kernel supports and FFT block sizes computed by hand, pooling of a known
array, the dB mapping of known powers, the single-precision batches of scales per inverse
FFT, the column count (``n_frames``) against the real output, empty and one-sample clips,
every parameter check and its message.

Written against the survivors of a mutation run (docs/testing.md, "Mutation testing"): each
test pins a behaviour that a changed operator, constant or argument would move.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.fft

from serkit.errors import ConfigError
from serkit.features.scalogram import (
    Scalogram,
    _block_size,
    _pool,
    _psi,
    _support,
    _unit_db,
    _wavelet_shape,
    cwt_power,
)

RATE = 16_000


# --- the mother wavelets ------------------------------------------------------------------

@pytest.mark.parametrize("wavelet", ["cmor1.5-1.0", "cmor0.5-2.0", "cmor3-0.8"])
def test_complex_morlet_is_pywavelets_cmor(wavelet):
    pywt = pytest.importorskip("pywt")
    psi, x = pywt.ContinuousWavelet(wavelet).wavefun(10)
    # PyWavelets keeps B and C in single precision: 0.8 is 0.8 + 1.2e-8, 6e-7 rad of phase at t = 8.
    assert np.allclose(_psi(wavelet, x), psi, rtol=1e-6, atol=1e-12)
    # The closed form: exp(-t²/B) exp(2πiCt) / √(πB).
    _, bandwidth, centre = _wavelet_shape(wavelet)
    t = np.array([0.0, 0.3, -0.7, 1.25])
    expected = np.exp(-t ** 2 / bandwidth) * np.exp(2j * np.pi * centre * t) / np.sqrt(np.pi * bandwidth)
    assert np.allclose(_psi(wavelet, t), expected, rtol=1e-14, atol=0)
    assert _psi(wavelet, np.array([0.0]))[0] == pytest.approx(1 / math.sqrt(math.pi * bandwidth), rel=1e-14)
    # Phase turns counter-clockwise: the imaginary part is positive just after 0.
    assert _psi(wavelet, np.array([0.1 / centre]))[0].imag > 0


def test_real_morlet_is_pywavelets_morl():
    pywt = pytest.importorskip("pywt")
    psi, x = pywt.ContinuousWavelet("morl").wavefun(10)
    assert np.allclose(_psi("morl", x), psi, rtol=1e-12, atol=1e-15)
    t = np.array([0.0, 0.5, -1.0, 2.0])
    assert np.allclose(_psi("morl", t), np.exp(-t ** 2 / 2) * np.cos(5 * t), rtol=1e-14, atol=0)
    assert _psi("morl", np.array([0.0]))[0] == 1.0
    assert np.isrealobj(_psi("morl", t))


def test_haar_is_plus_one_on_the_first_half_minus_one_on_the_second_zero_elsewhere():
    t = np.array([-1.0, -1e-12, 0.0, 0.25, 0.5 - 1e-12, 0.5, 0.75, 1 - 1e-12, 1.0, 1.5])
    assert _psi("haar", t).tolist() == [0.0, 0.0, 1.0, 1.0, 1.0, -1.0, -1.0, -1.0, 0.0, 0.0]


# --- wavelet names ------------------------------------------------------------------------

@pytest.mark.parametrize(("wavelet", "shape"), [
    ("cmor1.5-1.0", ("cmor", 1.5, 1.0)),
    ("cmor0.5-2", ("cmor", 0.5, 2.0)),
    ("cmor10-0.25", ("cmor", 10.0, 0.25)),
    ("morl", ("morl",)),
    ("haar", ("haar",)),
])
def test_wavelet_shapes(wavelet, shape):
    assert _wavelet_shape(wavelet) == shape


@pytest.mark.parametrize("wavelet", ["db4", "cmor1.5-0", "cmor1.5-0.0", "cmor0-1", "cmor1.5", "cmor1.5-1.0x",
                                     "MORL", "Haar", "cmor-1-1"])
def test_unknown_wavelets_are_one_config_error_naming_the_choices(wavelet):
    message = ("scalogram: wavelet must be one of cmorB-C, morl, haar (e.g. 'cmor1.5-1.0', B and C > 0), "
               f"not {wavelet!r}")
    with pytest.raises(ConfigError) as error:
        _wavelet_shape(wavelet)
    assert str(error.value) == message
    with pytest.raises(ConfigError) as error:
        Scalogram(wavelet=wavelet)
    assert str(error.value) == message


# --- kernel supports and FFT block sizes ----------------------------------------------------

@pytest.mark.parametrize(("wavelet", "scale", "support"), [
    ("morl", 1.0, (-9, 8)),            # ψ on [-8a, 8a]: ceil(8) = 8 intervals each side, one more on the left
    ("morl", 2.3, (-20, 19)),          # ceil(18.4) = 19
    ("cmor1.5-1.0", 0.5, (-5, 4)),
    ("cmor1.5-1.0", 133.33, (-1068, 1067)),  # ceil(1066.64) = 1067
    ("haar", 1.0, (0, 1)),             # [0, a)
    ("haar", 2.3, (0, 3)),
    ("haar", 4.0, (0, 4)),
    ("haar", 197.9, (0, 198)),
])
def test_kernel_support_in_sample_intervals(wavelet, scale, support):
    assert _support(wavelet, scale) == support


@pytest.mark.parametrize(("span", "size"), [
    (0, 1 << 15), (1, 1 << 15), (12_000, 1 << 15), (16_383, 1 << 15),   # 2·span + 1 ≤ 32 767
    (16_384, 1 << 16), (24_000, 1 << 16), (32_767, 1 << 16),            # ≤ 65 535
    (32_768, 1 << 17), (100_000, 1 << 18),
])
def test_block_size_is_2_to_the_15_or_the_first_power_of_two_above_twice_the_span(span, size):
    assert _block_size(span) == size


# --- pooling and dB ----------------------------------------------------------------------------

def test_pool_averages_blocks_of_hop_samples_the_last_one_shorter():
    power = np.array([[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 10.0],
                      [0.0, 0.0, 3.0, 1.0, 1.0, 1.0, -2.0]], dtype=np.float32)
    pooled = _pool(power, 3)
    assert pooled.dtype == np.float64
    assert pooled.tolist() == [[2.0, 5.0, 10.0], [1.0, 1.0, -2.0]]
    assert _pool(power[:, :6], 3).tolist() == [[2.0, 5.0], [1.0, 1.0]]
    assert _pool(power[:, :5], 2).tolist() == [[1.5, 3.5, 5.0], [0.0, 2.0, 1.0]]


def test_pool_of_fewer_samples_than_a_hop_is_one_column():
    power = np.array([[1.0, 3.0], [4.0, 8.0]], dtype=np.float32)
    assert _pool(power, 5).tolist() == [[2.0], [6.0]]
    assert _pool(power, 2).tolist() == [[2.0], [6.0]]


def test_unit_db_maps_known_powers():
    power = np.array([[1.0, 0.1, 1e-3], [1e-9, 0.0, 0.5]])
    image = _unit_db(power, 80.0)
    assert image.dtype == np.float32 and image.shape == (2, 3)
    # dB re the maximum: 0, -10, -30 / below the -80 dB floor, 0 → the floor / -3.0103.
    expected = 1 + np.array([[0.0, -10.0, -30.0], [-80.0, -80.0, 10 * math.log10(0.5)]]) / 80
    assert np.allclose(image, expected, rtol=0, atol=1e-7)
    # The reference is the maximum, not 1; another top_db moves the floor and the scale.
    image = _unit_db(7.0 * power, 40.0)
    expected = 1 + np.array([[0.0, -10.0, -30.0], [-40.0, -40.0, 10 * math.log10(0.5)]]) / 40
    assert np.allclose(image, expected, rtol=0, atol=1e-7)
    # Just above and below the floor.
    image = _unit_db(np.array([1.0, 1.01e-4, 0.99e-4]), 40.0)
    assert np.allclose(image, [1.0, 1 + 10 * math.log10(1.01e-4) / 40, 0.0], rtol=0, atol=1e-7)


def test_unit_db_of_silence_is_zeros_of_the_same_shape():
    for power in (np.zeros((3, 4)), np.zeros((2, 1), dtype=np.float32)):
        image = _unit_db(power, 80.0)
        assert image.dtype == np.float32 and image.shape == power.shape and not image.any()


# --- the transform's batches ---------------------------------------------------------------------

def test_cwt_power_is_float32_a_few_scales_per_single_precision_inverse_fft(monkeypatch):
    """The module's promise: single precision, at most 8 scales per inverse FFT (memory)."""
    scalogram = Scalogram(n_scales=20, f_min=300.0, f_max=6000.0)
    x = np.random.default_rng(0).normal(size=3000).astype(np.float32)
    expected = cwt_power(x, scalogram.scales, scalogram.wavelet)
    calls = []
    ifft = scipy.fft.ifft

    def spy(values, *args, **kwargs):
        calls.append((values.shape, values.dtype))
        return ifft(values, *args, **kwargs)

    monkeypatch.setattr(scipy.fft, "ifft", spy)
    power = cwt_power(x, scalogram.scales, scalogram.wavelet)
    assert power.dtype == np.float32 and power.shape == (20, 3000)
    assert np.array_equal(power, expected)
    assert [shape[0] for shape, _ in calls] == [8, 8, 4]
    assert all(dtype == np.complex64 for _, dtype in calls)
    assert all(shape[1:] == (1, 1 << 15) for shape, _ in calls)  # 3000 samples: one block


def test_power_is_float32_for_any_input_dtype():
    scalogram = Scalogram(n_scales=3, f_min=500.0, f_max=4000.0)
    x = np.random.default_rng(1).normal(size=700)
    power = scalogram.power(x)
    assert power.dtype == np.float32 and power.shape == (3, 700)
    assert np.array_equal(power, scalogram.power(x.astype(np.float32)))
    assert np.array_equal(power, cwt_power(x, scalogram.scales, scalogram.wavelet))


# --- columns, empty and one-sample clips -------------------------------------------------------

@pytest.mark.parametrize(("hop", "n", "frames"), [
    (256, 0, 1), (256, 1, 1), (256, 255, 1), (256, 256, 1), (256, 257, 2), (256, 1000, 4), (256, 16_000, 63),
    (100, 1000, 10), (100, 1001, 11), (1, 0, 1), (1, 1, 1), (1, 5, 5),
])
def test_n_frames_is_the_number_of_columns_of_the_real_output(hop, n, frames):
    scalogram = Scalogram(n_scales=2, f_min=1000.0, f_max=4000.0, hop_length=hop)
    assert scalogram.n_frames(n) == frames
    x = np.sin(np.arange(n) * 0.7).astype(np.float32)
    assert scalogram(x).shape == (1, 2, frames)


@pytest.mark.parametrize("hop", [1, 256])
def test_an_empty_clip_is_one_silent_column(hop):
    scalogram = Scalogram(n_scales=3, f_min=1000.0, f_max=4000.0, hop_length=hop)
    for empty in (np.zeros(0, dtype=np.float32), np.zeros(0), []):
        image = scalogram(empty)
        assert image.shape == (1, 3, 1) and image.dtype == np.float32 and not image.any()


def test_a_one_sample_clip_is_not_taken_for_an_empty_one():
    scalogram = Scalogram(n_scales=3, f_min=1000.0, f_max=4000.0)
    image = scalogram(np.array([0.5], dtype=np.float32))
    assert image.shape == (1, 3, 1) and image.dtype == np.float32
    assert image.max() == 1.0 and image.min() > 0


def test_float64_and_int_input_give_the_float32_image_of_the_float32_signal():
    scalogram = Scalogram(n_scales=4, f_min=300.0, f_max=5000.0)
    x = np.random.default_rng(2).normal(size=1500)
    image = scalogram(x)
    assert image.dtype == np.float32 and np.array_equal(image, scalogram(x.astype(np.float32)))
    ints = (1000 * x).astype(np.int16)
    assert np.array_equal(scalogram(ints), scalogram(ints.astype(np.float32)))


# --- parameters ------------------------------------------------------------------------------------

def test_defaults():
    assert Scalogram().params == {"sample_rate": 16_000, "wavelet": "cmor1.5-1.0", "n_scales": 64, "f_min": 60.0,
                                  "f_max": 7500.0, "hop_length": 256, "top_db": 80.0, "rgb": False,
                                  "colormap": "viridis"}


@pytest.mark.parametrize("params", [
    {"n_scales": 1},
    {"hop_length": 1},
    {"top_db": 0.5},
    {"top_db": 1.0},
    {"f_min": 0.5},
    {"f_min": 1.0},
    {"f_min": 1000.0, "f_max": 1000.0},
    {"f_min": 1000.0, "f_max": 1000.0, "n_scales": 1},
    {"wavelet": "cmor0.5-1.0"},
    {"wavelet": "cmor1.5-0.25", "f_max": 4000.0},  # the smallest scale exactly 1 sample
    {"wavelet": "cmor1.5-1.0", "f_max": 7999.0},
])
def test_parameters_at_the_edges_are_accepted(params):
    scalogram = Scalogram(**params)
    for key, value in params.items():
        assert scalogram.params[key] == value
    assert min(scalogram.scales) >= 1


def test_the_smallest_scale_may_be_exactly_one_sample():
    scalogram = Scalogram(wavelet="cmor1.5-0.25", f_max=4000.0, n_scales=4)
    assert min(scalogram.scales) == 1.0


def _range_message(n_scales=64, hop_length=256, top_db=80.0):
    return (f"scalogram needs n_scales ≥ 1, hop_length ≥ 1 and top_db > 0 (got n_scales={n_scales}, "
            f"hop_length={hop_length}, top_db={top_db})")


def _band_message(f_min, f_max, rate=16_000):
    return (f"scalogram needs 0 < f_min ≤ f_max < {rate / 2:g} Hz (the Nyquist frequency of sample_rate {rate}); "
            f"got f_min={f_min:g}, f_max={f_max:g}")


@pytest.mark.parametrize(("params", "message"), [
    ({"n_scales": 0}, _range_message(n_scales=0)),
    ({"n_scales": -3}, _range_message(n_scales=-3)),
    ({"hop_length": 0}, _range_message(hop_length=0)),
    ({"top_db": 0.0}, _range_message(top_db=0.0)),
    ({"top_db": -10.0}, _range_message(top_db=-10.0)),
    ({"f_min": 0.0}, _band_message(0, 7500)),
    ({"f_min": -5.0}, _band_message(-5, 7500)),
    ({"f_min": 500.0, "f_max": 499.5}, _band_message(500, 499.5)),
    ({"f_max": 8000.0}, _band_message(60, 8000)),
    ({"sample_rate": 8000, "f_max": 4000.0}, _band_message(60, 4000, 8000)),
    ({"wavelet": "cmor1.5-0.25", "f_max": 4000.5},
     "scalogram: f_max=4000.5 Hz needs a scale below 1 sample for wavelet 'cmor1.5-0.25' (centre frequency "
     "0.250 cycles/scale); lower f_max"),
    ({"wavelet": "cmor1-0.3", "f_max": 5000.0, "n_scales": 1, "f_min": 5000.0},
     "scalogram: f_max=5000 Hz needs a scale below 1 sample for wavelet 'cmor1-0.3' (centre frequency "
     "0.300 cycles/scale); lower f_max"),
    ({"rgb": True, "colormap": "no-such-map"},
     "scalogram: unknown colormap 'no-such-map'; use a matplotlib name such as 'viridis'"),
])
def test_parameters_out_of_range_are_config_errors_saying_which_and_why(params, message):
    with pytest.raises(ConfigError) as error:
        Scalogram(**params)
    assert str(error.value) == message
