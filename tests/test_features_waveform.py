"""The `waveform` feature (SERCT's input): normalisation, cap, the thesis's fixed length."""

from __future__ import annotations

import numpy as np
import pytest

from serkit.errors import ConfigError
from serkit.features import make_features


def test_waveform_zscore_is_zero_mean_unit_variance_and_capped():
    wave = make_features("waveform", max_seconds=0.5)
    signal = (3.0 + 0.2 * np.random.default_rng(0).normal(size=16_000)).astype(np.float32)
    x = wave(signal)
    assert x.shape == (8_000,) and x.dtype == np.float32
    assert abs(float(x.mean())) < 1e-5 and float(x.std()) == pytest.approx(1.0, abs=1e-4)
    # The start is kept (the thesis cuts at the end), normalised on the kept part only.
    kept = signal[:8_000]
    np.testing.assert_allclose(x, (kept - kept.mean()) / kept.std(), atol=1e-4)


def test_waveform_peak_and_none_and_silence():
    signal = np.array([0.1, -0.4, 0.2], dtype=np.float32)
    np.testing.assert_allclose(make_features("waveform", normalize="peak")(signal), [0.25, -1.0, 0.5])
    np.testing.assert_array_equal(make_features("waveform", normalize="none")(signal), signal)
    silent = np.zeros(400, np.float32)
    for how in ("zscore", "peak", "none"):
        assert not np.any(make_features("waveform", normalize=how)(silent))
    assert not np.any(make_features("waveform")(np.full(400, 0.3, np.float32)))  # constant: no signal


def test_waveform_fixed_length_pads_and_crops_like_the_thesis():
    wave = make_features("waveform", fixed_samples=1000, normalize="none")
    assert wave.spec.length == 1000 and wave.spec.kind == "waveform"
    short = wave(np.ones(300, np.float32))
    assert short.shape == (1000,) and short[:300].sum() == 300 and not short[300:].any()
    np.testing.assert_array_equal(wave(np.arange(1500, dtype=np.float32)), np.arange(1000, dtype=np.float32))
    assert make_features("waveform").spec.length is None


@pytest.mark.parametrize("params, match", [
    ({"normalize": "rms"}, "normalize must be one of zscore, peak, none"),
    ({"max_seconds": 0}, "max_seconds must be > 0"),
    ({"fixed_samples": 0}, "fixed_samples must be a positive"),
])
def test_waveform_bad_params(params, match):
    with pytest.raises(ConfigError, match=match):
        make_features("waveform", **params)


def test_fixed_length_normalises_the_clip_before_padding():
    signal = np.random.default_rng(1).normal(2.0, 0.5, size=600).astype(np.float32)
    x = make_features("waveform", fixed_samples=1000)(signal)
    assert abs(float(x[:600].mean())) < 1e-5 and float(x[:600].std()) == pytest.approx(1.0, abs=1e-4)
    assert not x[600:].any()  # the padding stays silence, not a shifted mean


def test_max_samples_and_an_empty_signal():
    assert make_features("waveform", max_seconds=0.25).max_samples == 4000
    assert make_features("waveform", max_seconds=0.25, fixed_samples=123).max_samples == 123
    assert make_features("waveform", max_seconds=1e-6).max_samples == 1  # never an empty cap
    with np.errstate(all="raise"):
        assert make_features("waveform")(np.zeros(0, np.float32)).shape == (0,)
        assert not make_features("waveform", fixed_samples=10)(np.zeros(0, np.float32)).any()


def test_params_round_trip_and_spec():
    wave = make_features("waveform", max_seconds=2.0, fixed_samples=None, normalize="peak")
    assert wave.params == {"sample_rate": 16000, "max_seconds": 2.0, "fixed_samples": None, "normalize": "peak"}
    assert make_features("waveform", **wave.params).params == wave.params
    assert wave.spec.rate == 16000.0 and wave.dim == 1 and wave.feature_names == ["sample"]


def test_a_tiny_but_real_signal_is_scaled_not_zeroed():
    quiet = (1e-6 * np.sin(np.arange(800) / 5)).astype(np.float32)
    assert float(make_features("waveform")(quiet).std()) == pytest.approx(1.0, abs=1e-3)


def test_the_default_cap_is_six_seconds_and_one_sample_is_a_valid_fixed_length():
    assert make_features("waveform").max_samples == 96_000
    assert make_features("waveform").max_seconds == 6.0
    one = make_features("waveform", fixed_samples=1, normalize="none")
    np.testing.assert_array_equal(one(np.array([0.5, 0.7], np.float32)), [0.5])


def test_a_multichannel_shaped_array_is_read_as_one_run_of_samples():
    column = np.arange(1, 7, dtype=np.float32).reshape(3, 2)
    out = make_features("waveform", normalize="none")(column)
    assert out.shape == (6,)
    np.testing.assert_array_equal(out, np.arange(1, 7, dtype=np.float32))


def test_silence_keeps_its_length():
    for how in ("zscore", "peak", "none"):
        out = make_features("waveform", normalize=how)(np.zeros(400, np.float32))
        assert out.shape == (400,) and out.dtype == np.float32 and not out.any()


def test_statistics_in_float64_on_a_large_offset():
    # 7777.7 + a small tone: a float32 mean is off by ~7e-4, a tenth of the tone's std.
    x = (7777.7 + 0.01 * np.sin(np.arange(999) / 3.0)).astype(np.float32)
    wide = x.astype(np.float64)
    expected = (wide - wide.mean()) / (wide - wide.mean()).std()
    np.testing.assert_allclose(make_features("waveform")(x), expected, rtol=0, atol=1e-5)


def test_float64_input_is_computed_as_float32_input():
    rng = np.random.default_rng(4)
    x64 = rng.normal(0.0, 0.3, size=4_000)
    x32 = x64.astype(np.float32)
    for how in ("zscore", "peak", "none"):
        wave = make_features("waveform", normalize=how)
        np.testing.assert_array_equal(wave(x64), wave(x32))
    expected_peak = x32 / np.float32(np.max(np.abs(x32)))
    np.testing.assert_array_equal(make_features("waveform", normalize="peak")(x64), expected_peak)
