"""fusion107's details, on fake signals with known answers: its hand-written YIN against
``librosa.yin`` bit for bit (the module promises librosa's numbers) and against tones of
known pitch, the zero-crossing rate of signals with a known number of crossings, YIN's
aperiodicity d'(τ) against its definition summed by hand, the pitch block's voicing rules,
pooling, every parameter check and its message, ``repr``.

Written against the survivors of a mutation run (docs/testing.md, "Mutation testing"): each
test pins a behaviour that a changed operator, constant or argument would move.
"""

from __future__ import annotations

import math

import librosa
import numpy as np
import pytest

from serkit.errors import AudioError, ConfigError
from serkit.features import fusion as fusion_module
from serkit.features.fusion import (
    Fusion107,
    _check_signal,
    _cmnd_at,
    _frame_rows,
    _paper_delta,
    _parabolic_shifts,
    _yin,
    _zero_crossing_rate,
)

RATE = 16_000


def tone(freq: float, seconds: float = 0.5, amplitude: float = 0.3) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    return (amplitude * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def framed(y: np.ndarray, n: int, hop: int) -> np.ndarray:
    """The centred, zero-padded frames that fusion107 (and librosa, center=True) reads."""
    return _frame_rows(np.pad(y, (n // 2, n // 2)), n, hop)


# --------------------------------------------------------------------------------- YIN


def yin_signals() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(23)
    t = np.arange(RATE // 2) / RATE
    harmonic = sum(np.sin(2 * np.pi * 120.0 * k * t) / k for k in range(1, 8))
    return {
        # 615.4 and 592.6 Hz: periods of exactly 26 and 27 samples, the first two lags searched
        **{f"tone_{f:g}": tone(f) for f in (59.5, 100.0, 220.0, 330.3, RATE / 27, 599.25, RATE / 26)},
        "noisy_tone": (tone(150.0) + 0.05 * rng.standard_normal(t.size)).astype(np.float32),
        "harmonic": (0.1 * harmonic).astype(np.float32),
        "chirp": (0.2 * np.sin(2 * np.pi * (80 * t + 500 * t**2))).astype(np.float32),
        "noise": (0.1 * rng.standard_normal(t.size)).astype(np.float32),
        "silence": np.zeros(t.size, dtype=np.float32),
        # squares and sums below float32's smallest normal number
        "subnormal_tone": tone(220.0, amplitude=1e-21),
    }


#: (frame length, hop, fmin, fmax): fusion107's own; frames of 65 samples whose longest lag
#: is the longest librosa allows, n - 1 = 64 = ceil(16000 / 252) (and 2n - 1 = 129 rounds
#: up to an FFT size of 135, not 128); frames of 111 samples (2n - 1 = 221 → an odd FFT
#: size, 225, where a complex FFT would take 224).
YIN_SETTINGS = [(1024, 256, 60.0, 600.0), (65, 16, 252.0, 1000.0), (111, 37, 150.0, 1000.0)]


@pytest.mark.filterwarnings("ignore:With fmin=")  # librosa: fewer than two periods per frame
@pytest.mark.parametrize(("n", "hop", "fmin", "fmax"), YIN_SETTINGS)
def test_yin_equals_librosa_yin_bit_for_bit(n, hop, fmin, fmax):
    for name, y in yin_signals().items():
        want = librosa.yin(y, fmin=fmin, fmax=fmax, sr=RATE, frame_length=n, hop_length=hop,
                           center=True, pad_mode="constant")
        got = _yin(framed(y, n, hop), sr=RATE, fmin=fmin, fmax=fmax)
        assert got.shape == want.shape, name
        np.testing.assert_array_equal(got, want, err_msg=name)


@pytest.mark.parametrize("freq", [100.0, 220.0, 330.3, 450.0])
def test_yin_reads_the_pitch_of_a_tone_within_a_percent(freq):
    # Whole frames inside the tone; parabolic interpolation puts the period between lags.
    f0 = _yin(framed(tone(freq), 1024, 256)[4:-4], sr=RATE, fmin=60.0, fmax=600.0)
    np.testing.assert_allclose(f0, freq, rtol=1e-2)


def test_yin_of_silence_is_the_shortest_period_searched():
    # d'(τ) is 0 at every lag: no trough, the global minimum is the first lag, 26 samples.
    f0 = _yin(np.zeros((3, 1024), dtype=np.float32), sr=RATE, fmin=60.0, fmax=600.0)
    np.testing.assert_array_equal(f0, RATE / 26)


def test_parabolic_shifts_are_the_vertex_offsets_and_zero_beyond_one_bin():
    # A parabola with its vertex at 2.3: the shift at its lowest sample (2) is +0.3.
    x = (np.arange(6.0) - 2.3) ** 2
    shifts = _parabolic_shifts(x[None, :])
    assert shifts.shape == (1, 6)
    assert shifts[0, 2] == pytest.approx(0.3, abs=1e-12)
    # Every interior point of a parabola sees the same vertex, (2.3 - i), where within a bin.
    assert shifts[0, 3] == pytest.approx(-0.7, abs=1e-12)
    assert shifts[0, 1] == 0.0 and shifts[0, 4] == 0.0  # 1.3 and -1.7 bins away: 0
    assert shifts[0, 0] == 0.0 and shifts[0, -1] == 0.0  # the ends
    # A vertex exactly one bin away, |b| == |a|, is refused as librosa refuses it; a flat
    # stretch (a == 0) gives 0, not a division by zero.
    edge = _parabolic_shifts(np.array([[0.0, 1.0, 4.0, 4.0, 4.0]]))
    np.testing.assert_array_equal(edge, [[0.0, 0.0, 0.5, 0.0, 0.0]])


def test_parabolic_shifts_equal_librosas_interpolation():
    from librosa.core.pitch import _parabolic_interpolation

    # float64: librosa's numba stencil computes float32 input in float64 (2 * x is an int
    # times a float32 there) where numpy stays in float32, so float32 shifts can differ in
    # the last bit (YIN's f0 still equals librosa's on every signal above).
    x = np.random.default_rng(5).random((4, 50))
    # librosa interpolates along axis -2 (lags down, frames across), as librosa.yin calls it
    np.testing.assert_array_equal(_parabolic_shifts(x), _parabolic_interpolation(x.T).T)


def test_yin_takes_the_first_dip_under_the_threshold_not_the_deepest():
    # A 220 Hz tone with a weak 110 Hz undertone: d'(τ) dips under 0.1 at 72.7 samples and
    # dips deeper at twice that; YIN's absolute threshold keeps the first (220 Hz).
    t = np.arange(RATE // 2) / RATE
    y = (0.3 * np.sin(2 * np.pi * 220.0 * t) + 0.05 * np.sin(2 * np.pi * 110.0 * t)).astype(np.float32)
    f0 = _yin(framed(y, 1024, 256)[4:-4], sr=RATE, fmin=60.0, fmax=600.0)
    np.testing.assert_allclose(f0, 220.0, rtol=1e-2)
    np.testing.assert_array_equal(
        f0, librosa.yin(y, fmin=60.0, fmax=600.0, sr=RATE, frame_length=1024, hop_length=256)[4:-4])


def test_yin_of_a_tone_just_below_fmin_is_the_longest_lag_searched():
    # fmin 100 Hz: lags up to 160 samples. A 99.07 Hz tone (161.5 samples) keeps d'(τ)
    # falling, under the threshold, to the end of the range: the last lag is the first (and
    # only) dip, 16000 / 160 = 100 Hz, without a parabolic shift at the end.
    y = tone(RATE / 161.5)
    f0 = _yin(framed(y, 1024, 256)[4:-4], sr=RATE, fmin=100.0, fmax=600.0)
    np.testing.assert_array_equal(f0, 100.0)
    np.testing.assert_array_equal(
        f0, librosa.yin(y, fmin=100.0, fmax=600.0, sr=RATE, frame_length=1024, hop_length=256)[4:-4])


# -------------------------------------------------------------------------- d'(τ)


def cmnd_by_hand(frames: np.ndarray, period: np.ndarray) -> np.ndarray:
    """YIN's d'(τ) from its definition: d(τ) = Σ_j (x[j] − x[j+τ])² over the overlap,
    d'(τ) = d(τ) / mean(d(1) … d(τ)); 1 where that mean is 0."""
    n = frames.shape[1]
    out = np.empty(len(frames))
    for i, (x, tau) in enumerate(zip(frames, period)):
        d = np.array([np.sum((x[: n - k] - x[k:]) ** 2) for k in range(1, tau + 1)])
        out[i] = d[-1] / d.mean() if d.mean() > 0 else 1.0
    return out


@pytest.mark.parametrize(
    ("scale", "period"),
    [
        (1.0, [1, 2, 26, 100, 477]),  # 1024 + 477 - 1 = 1500 is itself an FFT size: one short
        (1e-3, [3, 50, 180, 120, 7]),  # 1024 + 180 + 1 rounds up to 1215, an odd FFT size
        (0.3, [267, 33, 5, 511, 64]),  # the longest lag allowed, n / 2 - 1
    ],
)
def test_cmnd_at_equals_its_definition(scale, period):
    frames = scale * np.random.default_rng(len(period) + int(1 / scale)).standard_normal((5, 1024))
    period = np.array(period)
    np.testing.assert_allclose(_cmnd_at(frames, period), cmnd_by_hand(frames, period), rtol=1e-9)


def test_cmnd_at_of_a_periodic_frame_is_near_zero_and_of_silence_exactly_one():
    t = np.arange(1024)
    frames = np.stack([np.sin(2 * np.pi * t / 50), np.zeros(1024), 1e-4 * np.sin(2 * np.pi * t / 50)])
    got = _cmnd_at(frames, np.array([50, 50, 50]))
    assert got[0] < 1e-12 and got[2] < 1e-12  # tiny d(τ): the ratio is still 0
    assert got[1] == 1.0


# ---------------------------------------------------------------------- zero crossings


def test_zero_crossing_rate_counts_sign_changes_inside_each_frame():
    # -1, +1, -1, ...: a crossing between every two neighbours. librosa pads the ends with
    # the edge value (no crossing there), and a frame's first sample starts no crossing.
    y = np.tile(np.array([-1.0, 1.0], dtype=np.float32), 2048)
    zcr = _zero_crossing_rate(y, 1024, 256)
    assert zcr.shape == (1, 17)  # 1 + 4096 // 256
    want = np.array([511, 767] + [1023] * 13 + [767, 511]) / 1024
    np.testing.assert_array_equal(zcr[0], want)
    np.testing.assert_array_equal(zcr, librosa.feature.zero_crossing_rate(y, frame_length=1024,
                                                                          hop_length=256))


def test_zero_crossing_rate_of_a_constant_negative_signal_is_zero():
    # Edge padding: -0.5 continues into the padding, no crossing at the ends.
    zcr = _zero_crossing_rate(np.full(3000, -0.5, dtype=np.float32), 1024, 256)
    np.testing.assert_array_equal(zcr, np.zeros((1, 12)))


def test_zero_crossing_rate_takes_values_within_1e_10_for_zero():
    tiny = np.float32(1e-10)
    for values in ([1e-11, -1e-11], [tiny, -tiny], [-tiny, 0.0], [-0.0, 0.3]):
        y = np.tile(np.array(values, dtype=np.float32), 1500)
        zcr = _zero_crossing_rate(y, 1024, 256)
        np.testing.assert_array_equal(zcr, np.zeros_like(zcr), err_msg=str(values))
    # Just outside the band they are signs again: -2e-10, +2e-10 alternate.
    y = np.tile(np.array([-2e-10, 2e-10], dtype=np.float32), 1500)
    assert _zero_crossing_rate(y, 1024, 256)[0, 5] == 1023 / 1024


def test_zero_crossing_rate_equals_librosa_on_the_yin_signals():
    for name, y in yin_signals().items():
        np.testing.assert_array_equal(
            _zero_crossing_rate(y, 1024, 256),
            librosa.feature.zero_crossing_rate(y, frame_length=1024, hop_length=256), err_msg=name)


# ----------------------------------------------------------------------- the pitch block


def pitch_by_hand(y: np.ndarray, fusion: Fusion107) -> np.ndarray:
    """``(frames, 3)``: ln f0 (ln fmin unvoiced), voiced, periodicity, from librosa.yin's f0
    and d'(τ) summed by hand, by the rules of fusion's module docstring."""
    f0 = librosa.yin(y, fmin=fusion.fmin, fmax=fusion.fmax, sr=fusion.sample_rate,
                     frame_length=fusion.n_fft, hop_length=fusion.hop_length)
    frames = framed(y, fusion.n_fft, fusion.hop_length).astype(np.float64)
    aperiodicity = cmnd_by_hand(frames, np.rint(fusion.sample_rate / f0).astype(int))
    loud = np.sqrt(np.mean(frames**2, axis=1)) >= 1e-4  # -80 dBFS
    voiced = (aperiodicity <= fusion.voicing_threshold) & loud
    return np.stack([np.where(voiced, np.log(f0), math.log(fusion.fmin)), voiced,
                     np.where(loud, np.clip(1 - aperiodicity, 0, 1), 0.0)], axis=1)


def pitch_signals() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(11)
    t = np.arange(RATE // 2) / RATE
    return {
        "noisy_tone": (tone(150.0) + 0.05 * rng.standard_normal(t.size)).astype(np.float32),
        "chirp": (0.2 * np.sin(2 * np.pi * (80 * t + 500 * t**2))).astype(np.float32),
        # brown noise: d(τ) grows with τ, so d'(τ) > 1 in most frames (periodicity 0 there)
        "brown_noise": (0.003 * np.cumsum(rng.standard_normal(t.size))).astype(np.float32),
        "noise": (0.1 * rng.standard_normal(t.size)).astype(np.float32),
        # a periodic stretch at -100 dBFS, then a loud one
        "quiet_then_loud": np.concatenate([tone(220.0, amplitude=1e-5), tone(220.0)]),
    }


@pytest.mark.parametrize("params", [{}, {"fmin": 35.0, "voicing_threshold": 0.6}])
def test_pitch_block_follows_its_definition(params):
    fusion = Fusion107(pooling="none", **params)
    for name, y in pitch_signals().items():
        got = fusion(y)[:, -3:]
        want = pitch_by_hand(y, fusion)
        np.testing.assert_array_equal(got[:, 1], want[:, 1], err_msg=name)
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6, err_msg=name)


def test_pitch_of_a_quiet_periodic_stretch_is_unvoiced_with_periodicity_zero():
    fusion = Fusion107(pooling="none")
    y = np.concatenate([tone(220.0, seconds=1.0, amplitude=1e-5), tone(220.0, seconds=1.0)])
    pitch = fusion(y)[:, -3:]
    quiet, loud = pitch[:58], pitch[67:-4]  # frames wholly inside each half
    np.testing.assert_array_equal(quiet, np.tile([math.log(60.0), 0.0, 0.0], (58, 1)).astype(np.float32))
    assert (loud[:, 1] == 1).all() and (loud[:, 2] > 0.99).all()
    np.testing.assert_allclose(np.exp(loud[:, 0]), 220.0, rtol=1e-2)


def test_pitch_of_silence_is_unvoiced_with_periodicity_zero():
    pitch = Fusion107(pooling="none")(np.zeros(4000, dtype=np.float32))[:, -3:]
    np.testing.assert_array_equal(pitch, np.tile([math.log(60.0), 0.0, 0.0], (16, 1)).astype(np.float32))


def test_a_tone_below_fmin_is_aperiodic_everywhere():
    # 20 Hz: the lags searched (up to 267 samples) reach less than half its period, d(τ) only
    # grows, d'(τ) > 1 at YIN's pick: periodicity clipped to 0, every frame unvoiced.
    pitch = Fusion107(pooling="none")(tone(20.0, seconds=1.0))[:, -3:]
    np.testing.assert_array_equal(pitch[:, 1:], np.zeros((63, 2)))


def test_a_tone_under_the_default_fmin_is_voiced_with_a_lower_fmin():
    # fmin 35 Hz: lags up to 458 samples; a 40 Hz tone (400 samples) is found and periodic.
    # (librosa's YIN reads long periods a little short: up to 2.4 % high here.)
    pitch = Fusion107(pooling="none", fmin=35.0)(tone(40.0, seconds=1.0))[:, -3:]
    inner = pitch[4:-4]
    assert (inner[:, 1] == 1).all() and (inner[:, 2] > 0.95).all()
    np.testing.assert_allclose(np.exp(inner[:, 0]), 40.0, rtol=3e-2)


def test_voicing_threshold_and_loudness_floor_are_inclusive(monkeypatch):
    # A frame whose d'(τ) equals the threshold is voiced; one whose RMS equals the floor
    # counts as loud (voiced, with its periodicity). Just past either: unvoiced.
    y = pitch_signals()["noisy_tone"]
    frames = framed(y, 1024, 256)
    period = np.rint(RATE / _yin(frames, sr=RATE, fmin=60.0, fmax=600.0)).astype(int)
    frames64 = frames.astype(np.float64)
    aperiodicity = _cmnd_at(frames64, period)
    k = 10
    at = Fusion107(pooling="none", voicing_threshold=float(aperiodicity[k]))(y)
    below = Fusion107(pooling="none", voicing_threshold=float(np.nextafter(aperiodicity[k], 0)))(y)
    assert at[k, -2] == 1 and below[k, -2] == 0

    rms = np.sqrt(np.mean(frames64**2, axis=1))
    monkeypatch.setattr(fusion_module, "VOICING_RMS_FLOOR", float(rms[k]))
    at = Fusion107(pooling="none")(y)
    assert at[k, -2] == 1 and at[k, -1] == np.float32(1 - aperiodicity[k])
    monkeypatch.setattr(fusion_module, "VOICING_RMS_FLOOR", float(np.nextafter(rms[k], 1)))
    above = Fusion107(pooling="none")(y)
    assert above[k, -2] == 0 and above[k, -1] == 0


# ------------------------------------------------------------------------------- the rest


def test_paper_delta_is_next_minus_previous_with_the_edges_repeated():
    c = np.array([[1.0, 4.0, 9.0, 16.0], [2.0, 2.0, 0.0, 5.0]])
    np.testing.assert_array_equal(_paper_delta(c), [[3.0, 8.0, 12.0, 7.0], [0.0, -2.0, 3.0, 5.0]])


def test_pooling_is_the_float64_mean_and_std_of_the_frames_rounded_once():
    y = (0.1 * np.random.default_rng(3).standard_normal(2 * RATE)).astype(np.float32)
    frames = Fusion107(pooling="none")(y).astype(np.float64)
    np.testing.assert_array_equal(Fusion107()(y), frames.mean(axis=0).astype(np.float32))
    np.testing.assert_array_equal(
        Fusion107(pooling="meanstd")(y),
        np.concatenate([frames.mean(axis=0), frames.std(axis=0)]).astype(np.float32))


def test_features_raise_no_warning():
    import warnings

    fusion = Fusion107(pooling="none")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for y in (tone(220.0), np.zeros(RATE // 2, dtype=np.float32), pitch_signals()["noise"]):
            fusion(y)


# ---------------------------------------------------------------------------- the input


def test_signals_of_other_dtypes_are_rounded_to_float32_first():
    y64 = 0.3 * np.sin(2 * np.pi * 220.0 * np.arange(RATE // 2) / RATE) + 1e-9
    fusion = Fusion107(pooling="none")
    want = fusion(y64.astype(np.float32))
    np.testing.assert_array_equal(fusion(y64), want)  # not computed in float64
    np.testing.assert_array_equal(fusion(np.array(y64.tolist(), dtype=object)), want)
    pcm = (y64 * 32767).astype(np.int16)  # integers are taken as they are, not rescaled
    np.testing.assert_array_equal(fusion(pcm), fusion(pcm.astype(np.float32)))
    assert _check_signal(pcm, 1024).dtype == np.float32


@pytest.mark.parametrize("length", [1, 200, 700, 1023])
def test_a_short_signal_is_zero_padded_at_the_end_to_one_frame(length):
    y = tone(220.0)[:length] + np.float32(0.01)
    fusion = Fusion107(pooling="none")
    got = fusion(y)
    assert got.shape == (5, 107)
    np.testing.assert_array_equal(got, fusion(np.concatenate([y, np.zeros(1024 - length, np.float32)])))
    np.testing.assert_array_equal(_check_signal(y, 1024), np.pad(y, (0, 1024 - length)))


def test_a_float32_signal_of_a_frame_or_more_is_used_as_it_is():
    # Neither padded nor copied: a long clip is not held twice in memory.
    y = tone(220.0)[:1024]
    assert _check_signal(y, 1024) is y


@pytest.mark.parametrize(
    ("signal", "message"),
    [
        (np.zeros((2, 100), dtype=np.float32), r"features need a mono signal \(samples,\), not shape \(2, 100\)"),
        (np.zeros(0, dtype=np.float32), "features need a signal of at least one sample, not an empty one"),
        (np.array([0.0, np.inf], dtype=np.float32), "the signal contains NaN or infinite samples"),
        (np.array([np.nan, 0.0]), "the signal contains NaN or infinite samples"),
    ],
)
def test_bad_signals_are_audio_errors_saying_what_is_wrong(signal, message):
    with pytest.raises(AudioError, match=f"^{message}$"):
        Fusion107()(signal)


# ----------------------------------------------------------------------- the parameters


def test_repr_names_every_parameter_with_its_default():
    assert repr(Fusion107()) == (
        "Fusion107(sample_rate=16000, n_fft=1024, hop_length=256, n_mfcc=25, n_mels=64, "
        "fmin=60.0, fmax=600.0, voicing_threshold=0.4, pooling='mean')")
    assert repr(Fusion107(n_mfcc=13, pooling="none")).startswith(
        "Fusion107(sample_rate=16000, n_fft=1024, hop_length=256, n_mfcc=13, ")


@pytest.mark.parametrize(
    "params",
    [
        {"n_mfcc": 1, "hop_length": 1},  # one is a positive integer
        {"hop_length": 1024},  # a hop of a whole frame
        {"n_mfcc": 64, "n_mels": 64},  # as many MFCCs as mel bands
        {"n_fft": 65536, "fmin": 1.0, "fmax": 7999.0},  # fmin 1 Hz fits in half of 65536 samples
        {"fmin": 31.4},  # longest lag ceil(16000 / 31.4) = 510 < 1024 / 2 - 1
        {"fmin": 45.0},
        {"sample_rate": 12801, "fmax": 600.0},  # the 6400 Hz contrast band edge under Nyquist
        {"voicing_threshold": 1.0},
        {"n_fft": np.int64(2048), "sample_rate": np.int32(16000)},  # numpy integers are integers
    ],
)
def test_parameters_at_their_limits_are_accepted(params):
    fusion = Fusion107(**params)
    for key, value in params.items():
        assert getattr(fusion, key) == value


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"n_fft": 1024.0}, "fusion107 n_fft must be a positive integer, not 1024.0"),
        ({"hop_length": True}, "fusion107 hop_length must be a positive integer, not True"),
        ({"sample_rate": 0}, "fusion107 sample_rate must be a positive integer, not 0"),
        ({"n_mfcc": -3}, "fusion107 n_mfcc must be a positive integer, not -3"),
        ({"n_mels": "64"}, "fusion107 n_mels must be a positive integer, not '64'"),
        ({"pooling": "max"}, "fusion107 pooling must be one of 'mean', 'meanstd', 'none', not 'max'"),
        ({"hop_length": 1025}, r"fusion107 hop_length \(1025\) must not exceed n_fft \(1024\)"),
        ({"n_mfcc": 65}, r"fusion107 n_mfcc \(65\) must not exceed n_mels \(64\)"),
        ({"fmin": 0.0}, "fusion107 needs 0 < fmin < fmax < sample_rate/2 = 8000 Hz, not fmin=0.0, fmax=600.0"),
        ({"fmin": 300.0, "fmax": 300.0},
         "fusion107 needs 0 < fmin < fmax < sample_rate/2 = 8000 Hz, not fmin=300.0, fmax=300.0"),
        ({"fmax": 8000.0},
         "fusion107 needs 0 < fmin < fmax < sample_rate/2 = 8000 Hz, not fmin=60.0, fmax=8000.0"),
        ({"fmax": 9000.0},
         "fusion107 needs 0 < fmin < fmax < sample_rate/2 = 8000 Hz, not fmin=60.0, fmax=9000.0"),
        # ceil(16000 / 31.35) = 511 = 1024 / 2 - 1: one lag too long
        ({"fmin": 31.35}, "fusion107 n_fft=1024 is too short for fmin=31.35 Hz: it must exceed "
                          r"2 \* sample_rate / fmin \+ 2 = 1024 samples; raise n_fft or fmin"),
        ({"n_fft": 1025, "fmin": 31.35}, "fusion107 n_fft=1025 is too short for fmin=31.35 Hz"),
        ({"fmin": 20.0}, r"fusion107 n_fft=1024 is too short for fmin=20 Hz: it must exceed "
                         r"2 \* sample_rate / fmin \+ 2 = 1602 samples; raise n_fft or fmin$"),
        ({"sample_rate": 12800}, "fusion107 needs sample_rate above 12800 Hz for its spectral-contrast "
                                 "bands, not 12800"),
        ({"voicing_threshold": 0.0}, r"fusion107 voicing_threshold must be in \(0, 1\], not 0.0"),
        ({"voicing_threshold": 1.5}, r"fusion107 voicing_threshold must be in \(0, 1\], not 1.5"),
    ],
)
def test_parameters_out_of_range_are_config_errors_saying_which_and_why(params, message):
    with pytest.raises(ConfigError, match=f"^{message}"):
        Fusion107(**params)
