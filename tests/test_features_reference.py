"""fusion107 and log-mel against a plain librosa/numpy computation of the same definition
(the module docstrings), column by column, on real clips and on tones of known pitch.

Tolerances: log-mel 1e-3 dB (float32 rounding of values down to -80 dB); fusion107 blocks
computed here with librosa's own functions (not serkit's cached bases) 1e-3 relative or
1e-3 absolute on float32; pitch within 2 % of the tone's frequency on voiced frames.
"""

from __future__ import annotations

import math

import librosa
import numpy as np
import pytest

from serkit.audio import load_audio
from serkit.features import make_features
from tests.conftest import corpus_root

RATE = 16_000


def tone(freq: float, seconds: float = 1.0, amplitude: float = 0.3) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    return (amplitude * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def emodb_clips(n: int = 3) -> list[np.ndarray]:
    files = sorted((corpus_root("emodb") / "wav").glob("*.flac"))
    return [load_audio(p, sample_rate=RATE) for p in files[:: len(files) // n][:n]]


def logmel_reference(y: np.ndarray) -> np.ndarray:
    """The 3 s segment from 0.5 s (zero-padded), power mel spectrogram, dB re max, 80 dB floor."""
    start = min(int(round(0.5 * RATE)), max(0, len(y) - 3 * RATE))
    segment = np.zeros(3 * RATE, dtype=np.float32)
    piece = y[start:start + 3 * RATE]
    segment[:len(piece)] = piece
    power = librosa.feature.melspectrogram(y=segment, sr=RATE, n_fft=1024, win_length=512, hop_length=256,
                                           n_mels=128, power=2.0)
    return librosa.power_to_db(power, ref=np.max, top_db=80.0).T


def check_logmel(y: np.ndarray) -> None:
    got = make_features("logmel")(y)
    want = logmel_reference(y)
    assert got.shape == want.shape == (1 + 3 * RATE // 256, 128)
    np.testing.assert_allclose(got, want, atol=1e-3, rtol=0)
    assert got.max() == pytest.approx(0.0, abs=1e-6) and got.min() >= -80.0 - 1e-4  # dB re max, floor


def test_logmel_of_tones_equals_librosa_and_peaks_in_the_tone_band():
    for freq in (220.0, 1000.0):
        y = tone(freq, seconds=4.0)
        check_logmel(y)
        got = make_features("logmel")(y)
        centres = librosa.mel_frequencies(n_mels=128, fmax=RATE / 2)
        peak = centres[int(np.argmax(got[50]))]
        assert abs(peak - freq) / freq < 0.1, (freq, peak)


def test_logmel_of_a_short_clip_is_zero_padded_at_the_end():
    check_logmel(tone(440.0, seconds=1.2))


@pytest.mark.data
def test_logmel_of_real_clips_equals_librosa():
    for y in emodb_clips():
        check_logmel(y)


# --------------------------------------------------------------------------- fusion107


def fusion_reference(y: np.ndarray) -> dict[str, np.ndarray]:
    """The blocks of fusion107's table with librosa's own feature functions, (frames, n)."""
    n_fft, hop = 1024, 256
    stft = librosa.stft(y, n_fft=n_fft, hop_length=hop, center=True, pad_mode="constant")
    magnitude = np.abs(stft)
    power = magnitude ** 2
    mel = librosa.feature.melspectrogram(S=power, sr=RATE, n_mels=64)
    mfcc = librosa.feature.mfcc(S=librosa.power_to_db(mel), n_mfcc=25)
    padded = np.pad(mfcc, ((0, 0), (1, 1)), mode="edge")
    delta = padded[:, 2:] - padded[:, :-2]  # paper eq. 17: c[t+1] - c[t-1]
    chroma = librosa.feature.chroma_stft(S=power, sr=RATE, tuning=0.0)
    return {
        "mfcc": mfcc.T,
        "mfcc_delta": delta.T,
        "zcr": librosa.feature.zero_crossing_rate(y, frame_length=n_fft, hop_length=hop).T,
        "chroma": chroma.T,
        "contrast": librosa.feature.spectral_contrast(S=magnitude, sr=RATE, fmin=200.0, n_bands=6).T,
        "centroid": librosa.feature.spectral_centroid(S=magnitude, sr=RATE).T,
        "rolloff": librosa.feature.spectral_rolloff(S=magnitude, sr=RATE, roll_percent=0.85).T,
        "bandwidth": librosa.feature.spectral_bandwidth(S=magnitude, sr=RATE).T,
        "tonnetz": librosa.feature.tonnetz(chroma=chroma).T,
    }


def check_fusion(y: np.ndarray) -> np.ndarray:
    extractor = make_features("fusion107", pooling="none")
    got = extractor(y)
    names = extractor.feature_names
    assert got.shape == (1 + len(y) // 256, 107) and len(names) == 107
    want = fusion_reference(y)
    for block, columns in extractor.blocks.items():
        if block not in want:
            continue
        index = [names.index(c) for c in columns]
        np.testing.assert_allclose(got[:, index], want[block][: len(got)], rtol=1e-3, atol=1e-3,
                                   err_msg=block)
    return got


def test_fusion_names_and_order_follow_the_documented_table():
    extractor = make_features("fusion107")
    names = extractor.feature_names
    assert names[:3] == ["mfcc_01", "mfcc_02", "mfcc_03"] and names[24] == "mfcc_25"
    assert names[25] == "mfcc_delta_01" and names[50] == "mfcc_delta2_01" and names[75] == "zcr"
    assert names[76:88] == [f"chroma_{c}" for c in ["C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B"]]
    assert names[88] == "contrast_0_200hz" and names[94] == "contrast_6400_8000hz"
    assert names[95:98] == ["spectral_centroid_hz", "spectral_rolloff_hz", "spectral_bandwidth_hz"]
    assert names[98] == "tonnetz_fifth_x" and names[103] == "tonnetz_major3_y"
    assert names[104:] == ["pitch_log_f0", "pitch_voiced", "pitch_periodicity"]


@pytest.mark.parametrize("freq", [110.0, 220.0, 330.0])
def test_fusion_of_a_tone_gives_its_pitch_in_hz_and_its_spectrum(freq):
    y = tone(freq)
    got = check_fusion(y)
    names = make_features("fusion107").feature_names
    col = {n: got[:, names.index(n)] for n in names}
    inner = slice(5, -5)  # away from the zero-padded edges
    voiced = col["pitch_voiced"][inner]
    assert voiced.mean() == 1.0
    f0 = np.exp(col["pitch_log_f0"][inner])
    assert np.abs(f0 - freq).max() / freq < 0.02
    assert col["pitch_periodicity"][inner].min() > 0.9
    # A pure tone: the centroid and roll-off sit at the tone (Hz), zcr = 2 f / rate.
    assert np.median(col["spectral_centroid_hz"][inner]) == pytest.approx(freq, rel=0.1)
    assert np.median(col["zcr"][inner]) == pytest.approx(2 * freq / RATE, rel=0.05)
    # Its pitch class dominates the chroma.
    pitch_class = round(12 * math.log2(freq / 440.0)) % 12
    chroma = got[:, names.index("chroma_A"):names.index("chroma_A") + 1]
    assert np.argmax(got[10, 76:88]) == (9 + pitch_class) % 12, chroma[10]


def test_fusion_of_silence_is_unvoiced_and_finite():
    got = make_features("fusion107", pooling="none")(np.zeros(RATE, dtype=np.float32))
    names = make_features("fusion107").feature_names
    assert np.isfinite(got).all()
    assert (got[:, names.index("pitch_voiced")] == 0).all()
    assert np.allclose(got[:, names.index("pitch_log_f0")], math.log(make_features("fusion107").fmin))


def test_the_delta_sign_follows_a_rising_level():
    # A tone whose level rises: mfcc_01 (log energy) grows, so its delta is positive inside.
    y = tone(220.0, seconds=1.0) * np.linspace(0.05, 1.0, RATE, dtype=np.float32)
    got = make_features("fusion107", pooling="none")(y)
    names = make_features("fusion107").feature_names
    assert (got[3:-3, names.index("mfcc_delta_01")] > 0).all()
    assert np.diff(got[3:-3, names.index("mfcc_01")]).min() > 0


@pytest.mark.data
def test_fusion_of_real_clips_equals_librosa_block_by_block():
    for y in emodb_clips(2):
        got = check_fusion(y)
        names = make_features("fusion107").feature_names
        f0 = np.exp(got[:, names.index("pitch_log_f0")])[got[:, names.index("pitch_voiced")] == 1]
        fusion = make_features("fusion107")
        # Pitch in Hz within the searched range, a speaking voice's in the middle.
        # YIN's lags are whole samples from floor(rate / fmax) to ceil(rate / fmin): 615 to
        # 59.9 Hz for the 600 and 60 Hz asked.
        highest, lowest = RATE / math.floor(RATE / fusion.fmax), RATE / math.ceil(RATE / fusion.fmin)
        assert len(f0) > 10 and lowest - 1e-3 <= f0.min() and f0.max() <= highest + 1e-3
        assert 80 <= np.median(f0) <= 300
