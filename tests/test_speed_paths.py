"""fusion107's fast paths repeat librosa's arithmetic without its per-call overhead: each
must give exactly librosa's numbers (bit-identical, so that features, caches and the
byte-identical predictions of tests/test_behaviour_preserved.py do not move)."""

from __future__ import annotations

import librosa
import numpy as np
import pytest

from serkit.audio import load_audio
from serkit.features.fusion import _frame_rows, _stft, _yin, _zero_crossing_rate
from tests.conftest import corpus_root

RATE, N_FFT, HOP = 16_000, 1024, 256


def signals() -> list[np.ndarray]:
    """Tones with noise, a chirp, near-silence with exact zeros and tiny values, noise."""
    rng = np.random.default_rng(7)
    t = np.arange(RATE) / RATE
    tones = [0.3 * np.sin(2 * np.pi * f * t) + 0.01 * rng.standard_normal(t.size) for f in (95.0, 220.0, 480.0)]
    chirp = 0.2 * np.sin(2 * np.pi * (80 * t + 200 * t**2))
    quiet = np.zeros(RATE // 2)
    quiet[::7] = 1e-11  # inside ZCR's ±1e-10 band: counted as zeros
    quiet[::13] = -3e-5
    return [s.astype(np.float32) for s in [*tones, chirp, quiet, 0.1 * rng.standard_normal(3000)]]


def frames_of(y: np.ndarray) -> np.ndarray:
    return _frame_rows(np.pad(y, (N_FFT // 2, N_FFT // 2)), N_FFT, HOP)


def check_identical(y: np.ndarray) -> None:
    frames = frames_of(y)
    want_f0 = librosa.yin(y, fmin=60.0, fmax=600.0, sr=RATE, frame_length=N_FFT, hop_length=HOP,
                          center=True, pad_mode="constant")
    np.testing.assert_array_equal(_yin(frames, sr=RATE, fmin=60.0, fmax=600.0), want_f0)
    want_stft = librosa.stft(y, n_fft=N_FFT, hop_length=HOP, center=True, pad_mode="constant")
    got_stft = _stft(frames, N_FFT)
    assert got_stft.dtype == want_stft.dtype and got_stft.flags.f_contiguous
    np.testing.assert_array_equal(got_stft, want_stft)
    want_zcr = librosa.feature.zero_crossing_rate(y, frame_length=N_FFT, hop_length=HOP, center=True)
    np.testing.assert_array_equal(_zero_crossing_rate(y, N_FFT, HOP), want_zcr)


@pytest.mark.parametrize("index", range(6))
def test_fast_paths_equal_librosa_bit_for_bit_on_synthetic_signals(index):
    check_identical(signals()[index])


def test_yin_finds_the_pitch_of_a_tone():
    y = signals()[1]
    f0 = _yin(frames_of(y), sr=RATE, fmin=60.0, fmax=600.0)
    assert np.median(f0) == pytest.approx(220.0, rel=0.01)


@pytest.mark.data
def test_fast_paths_equal_librosa_bit_for_bit_on_real_clips():
    files = sorted((corpus_root("emodb") / "wav").glob("*.flac"))
    for path in files[:: len(files) // 4][:4]:
        check_identical(load_audio(path, sample_rate=RATE))


# --------------------------------------------------------------------------- lean predict


def test_mel_filters_equal_librosa_bit_for_bit():
    from serkit.features.filterbanks import mel_filters

    for rate, n_fft, n_mels in [(16_000, 400, 40), (16_000, 1024, 64), (16_000, 1024, 128),
                                (22_050, 2048, 128), (8_000, 256, 40)]:
        want = librosa.filters.mel(sr=rate, n_fft=n_fft, n_mels=n_mels)
        got = mel_filters(rate, n_fft, n_mels)
        assert got.dtype == want.dtype and not got.flags.writeable
        np.testing.assert_array_equal(got, want)


def test_a_fresh_prediction_imports_neither_librosa_numba_nor_scipy_signal():
    """librosa itself is a lazy module (under a millisecond); its submodules are not."""
    import subprocess
    import sys

    code = (
        "import sys, serkit\n"
        "p = serkit.load_model().predict('serkit/examples/happy.flac')\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('numba', 'matplotlib')\n"
        "               or m.startswith(('librosa.core', 'librosa.feature', 'librosa.filters',\n"
        "                                'scipy.signal')))\n"
        "print(p.label, heavy)\n"
    )
    root = __import__("pathlib").Path(__file__).resolve().parents[1]
    out = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True,
                         check=True, env={**__import__("os").environ, "OMP_NUM_THREADS": "1"})
    assert out.stdout.split()[-1] == "[]", out.stdout


def test_one_torch_thread_restores_the_count_and_nests():
    import torch

    from serkit.inference.recognizer import one_torch_thread

    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        with one_torch_thread():
            assert torch.get_num_threads() == 1
            with one_torch_thread():
                assert torch.get_num_threads() == 1
            assert torch.get_num_threads() == 1
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)


def test_logmel_equals_librosa_melspectrogram_bit_for_bit():
    from serkit.features import make_features

    extractor = make_features("logmel")
    for y in signals()[:4]:
        power = librosa.feature.melspectrogram(y=extractor.segment(y), sr=RATE, n_fft=1024,
                                               win_length=512, hop_length=256, n_mels=128, power=2.0)
        want = librosa.power_to_db(power, ref=np.max, top_db=80.0).T.astype(np.float32)
        np.testing.assert_array_equal(extractor(y), want)
