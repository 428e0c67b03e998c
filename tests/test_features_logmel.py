"""The log-mel front end of the CNN–Transformer paper: segment, shape, cropping, padding."""

from __future__ import annotations

import numpy as np
import pytest

from serkit.errors import ConfigError
from serkit.features import make_features

RATE = 16_000


def noise(seconds: float, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(scale=0.1, size=int(seconds * RATE)).astype(np.float32)


def test_shape_follows_the_frame_arithmetic():
    logmel = make_features("logmel")
    assert logmel.spec.kind == "frames" and logmel.spec.length == logmel.n_frames and logmel.dim == 128 and logmel.n_frames == 1 + 48_000 // 256
    assert logmel(noise(4.0)).shape == (188, 128)
    assert len(logmel.feature_names) == 128 == len(set(logmel.feature_names))


def test_paper_rate_and_frames_are_configurable():
    paper = make_features("logmel", sample_rate=48_000)
    assert paper.n_frames == 1 + 144_000 // 256 == 563


def test_long_clip_is_cut_at_the_offset():
    logmel = make_features("logmel")
    x = noise(5.0)
    assert np.array_equal(logmel.segment(x), x[8_000:56_000])


def test_short_clip_is_zero_padded_and_keeps_its_start():
    logmel = make_features("logmel")
    x = noise(1.0)
    seg = logmel.segment(x)
    assert len(seg) == 48_000
    assert np.array_equal(seg[:16_000], x) and not seg[16_000:].any()
    # The padded tail is at the floor: 80 dB under the clip's maximum.
    spec = logmel(x)
    assert spec.shape == (188, 128)
    assert np.allclose(spec[-20:], -80.0)


def test_clip_between_three_and_three_and_a_half_seconds_starts_early_to_fill_the_segment():
    logmel = make_features("logmel")
    x = noise(3.2)
    assert np.array_equal(logmel.segment(x), x[-48_000:])


def test_the_gain_of_a_recording_does_not_change_its_spectrogram():
    logmel = make_features("logmel")
    x = noise(3.0)
    assert np.allclose(logmel(x), logmel(0.1 * x), atol=1e-3)


def test_whole_clip_mode_gives_as_many_frames_as_the_clip_lasts():
    whole = make_features("logmel", duration_s=None, offset_s=0.5, n_mels=64)
    assert whole.spec.kind == "frames" and whole.spec.length is None and whole.n_frames is None
    x = noise(2.5)
    # From the offset on: 2 s of a 2.5 s clip, as a fixed 2 s segment at that offset gives it.
    assert whole(x).shape == (1 + 32_000 // 256, 64)
    assert np.array_equal(whole(x), make_features("logmel", duration_s=2.0, offset_s=0.5, n_mels=64)(x))
    # A clip shorter than the offset keeps its last sample rather than nothing.
    assert whole(noise(0.2)).shape == (1, 64)
    assert np.array_equal(whole.segment(noise(0.2)), noise(0.2)[-1:])


def test_bad_parameters_are_config_errors():
    with pytest.raises(ConfigError, match="win_length"):
        make_features("logmel", win_length=2048, n_fft=1024)
    with pytest.raises(ConfigError, match="valid parameters"):
        make_features("logmel", hop=256)


# --- boundaries and values the mutation run showed untested (docs/testing.md) ----------

def test_the_parameter_bounds_are_inclusive_where_they_say_so():
    # win_length may equal n_fft, and the segment may start at 0 s.
    assert make_features("logmel", win_length=1024, n_fft=1024, offset_s=0.0)(noise(1.0)).shape == (188, 128)
    # The smallest hop and band count are 1 (a 10 ms segment keeps the hop-1 STFT small).
    assert make_features("logmel", hop_length=1, duration_s=0.01, offset_s=0.0)(noise(0.1)).shape == (161, 128)
    assert make_features("logmel", n_mels=1, offset_s=0.0)(noise(1.0)).shape == (188, 1)
    for bad in ({"hop_length": 0}, {"n_mels": 0}, {"duration_s": 0.0}, {"offset_s": -0.1}):
        with pytest.raises(ConfigError, match="^logmel needs"):
            make_features("logmel", **bad)


def test_top_db_sets_the_floor_below_the_maximum():
    # A tone and its silence: the range is exactly top_db when the quiet part is below it.
    tone = np.zeros(3 * RATE, np.float32)
    tone[: RATE] = 0.5 * np.sin(2 * np.pi * 440 * np.arange(RATE) / RATE)
    for top_db in (40.0, 80.0):
        db = make_features("logmel", offset_s=0.0, top_db=top_db)(tone)
        assert db.max() == pytest.approx(0.0, abs=1e-5)
        assert db.min() == pytest.approx(-top_db, abs=1e-4)


def test_a_very_quiet_recording_is_not_taken_for_silence():
    # Its mel power is far below 1 everywhere (about 1e-4 at most), yet it has a spectrum:
    # librosa's, not the silent floor.
    import librosa

    quiet = 1e-2 * noise(3.0)
    mel = librosa.feature.melspectrogram(y=quiet, sr=RATE, n_fft=1024, win_length=512, hop_length=256,
                                         n_mels=128, power=2.0, center=True, pad_mode="constant")
    assert mel.max() < 1e-3
    expected = librosa.power_to_db(mel, ref=np.max, top_db=80.0).T
    np.testing.assert_allclose(make_features("logmel", offset_s=0.0)(quiet), expected, atol=1e-4)


def test_a_silent_segment_is_the_floor_everywhere():
    db = make_features("logmel", top_db=60.0)(np.zeros(4 * RATE, np.float32))
    assert db.shape == (188, 128) and db.dtype == np.float32 and np.all(db == -60.0)


def test_the_segment_is_float32_whatever_the_input():
    logmel = make_features("logmel", offset_s=0.0)
    segment = logmel.segment(np.ones(3 * RATE, dtype=np.float64))
    assert segment.dtype == np.float32 and segment.shape == (3 * RATE,)


def test_values_equal_librosa_melspectrogram_in_db():
    import librosa

    x = noise(3.5, seed=3)
    logmel = make_features("logmel", offset_s=0.5, top_db=70.0)
    segment = x[RATE // 2: RATE // 2 + 3 * RATE]
    mel = librosa.feature.melspectrogram(y=segment, sr=RATE, n_fft=1024, win_length=512, hop_length=256,
                                         n_mels=128, power=2.0, center=True, pad_mode="constant")
    expected = librosa.power_to_db(mel, ref=np.max, top_db=70.0).T
    np.testing.assert_allclose(logmel(x), expected, atol=1e-4)
