"""The Recognizer on the tiny bundle: every input kind, every bad input, batches, threads."""

from __future__ import annotations

import io
import json
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from serkit.audio import AudioLimits
from serkit.errors import AudioError, ConfigError
from serkit.inference import MIN_DURATION_S, Prediction, Recognizer, load_model
from tests.conftest import TINY_LABELS, make_tiny_bundle, write_tone


@pytest.fixture(scope="module")
def rec(tiny_bundle) -> Recognizer:
    return load_model(tiny_bundle)


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("clips")
    return {
        "a": write_tone(root / "a.wav", seconds=0.8, freq=200.0, seed=1),
        "b": write_tone(root / "b.flac", seconds=0.6, freq=330.0, seed=2),
        "c": write_tone(root / "c.wav", seconds=0.7, freq=150.0, seed=3),
        "d": write_tone(root / "d.wav", seconds=0.5, freq=260.0, seed=4),
    }


def probabilities(p: Prediction) -> np.ndarray:
    return np.array([p.probabilities[label] for label in TINY_LABELS])


def assert_valid(p: Prediction, duration: float) -> None:
    assert list(p.probabilities) == TINY_LABELS
    assert sum(p.probabilities.values()) == pytest.approx(1.0, abs=1e-9)
    assert all(0.0 <= v <= 1.0 for v in p.probabilities.values())
    assert p.label == max(p.probabilities, key=p.probabilities.get)
    assert p.duration_s == pytest.approx(duration, abs=1e-3)


# --- description ----------------------------------------------------------------------

def test_describes_its_bundle(rec, tiny_bundle):
    assert rec.name == "tiny"
    assert rec.labels == TINY_LABELS
    assert rec.sample_rate == 16_000
    info = rec.info
    assert info["labels"] == TINY_LABELS and info["model"]["name"] == "cnn"
    info["labels"].append("boredom")  # a copy: the recognizer is unchanged
    assert rec.labels == TINY_LABELS
    assert rec.limits.min_duration_s == MIN_DURATION_S


# --- input kinds ----------------------------------------------------------------------

def test_path_bytes_and_array_give_the_same_prediction(rec, clips, one_torch_thread):
    from_path = rec.predict(clips["a"])
    assert_valid(from_path, 0.8)
    from_str = rec.predict(str(clips["a"]))
    from_bytes = rec.predict(clips["a"].read_bytes(), name="upload.wav")
    signal, rate = sf.read(clips["a"], dtype="float32")
    from_array = rec.predict(signal, sample_rate=rate)
    for other in (from_str, from_bytes, from_array):
        assert other == from_path
    assert from_path.to_dict() == {"label": from_path.label, "probabilities": from_path.probabilities,
                                   "duration_s": from_path.duration_s}
    json.dumps(from_path.to_dict())


def test_44k_audio_is_resampled(rec, tmp_path, one_torch_thread):
    path = write_tone(tmp_path / "hi.wav", seconds=0.9, rate=44_100, freq=200.0)
    from_file = rec.predict(path)
    assert_valid(from_file, 0.9)
    signal, rate = sf.read(path, dtype="float32")
    assert rate == 44_100
    from_array = rec.predict(signal, sample_rate=44_100)
    assert probabilities(from_array) == pytest.approx(probabilities(from_file), abs=1e-12)
    # The same tone recorded at 16 kHz gives (nearly) the same answer.
    native = rec.predict(write_tone(tmp_path / "lo.wav", seconds=0.9, rate=16_000, freq=200.0))
    assert native.label == from_file.label


def test_stereo_is_mixed_to_mono(rec, clips, tmp_path, one_torch_thread):
    mono, rate = sf.read(clips["a"], dtype="float32")
    stereo_path = tmp_path / "stereo.wav"
    sf.write(stereo_path, np.stack([mono, mono], axis=1), rate)
    reference = probabilities(rec.predict(clips["a"]))
    assert probabilities(rec.predict(stereo_path)) == pytest.approx(reference, abs=1e-6)
    channels_last = np.stack([mono, mono], axis=1)
    assert probabilities(rec.predict(channels_last, sample_rate=rate)) == pytest.approx(reference, abs=1e-6)
    channels_first = channels_last.T.copy()
    assert probabilities(rec.predict(channels_first, sample_rate=rate)) == pytest.approx(reference, abs=1e-6)


# --- bad input ------------------------------------------------------------------------

def bad_files(root: Path) -> dict[str, tuple[Path, str]]:
    root.mkdir(parents=True, exist_ok=True)
    empty = root / "empty.wav"
    empty.write_bytes(b"")
    corrupt = root / "corrupt.wav"
    good = io.BytesIO()
    sf.write(good, np.zeros(4000, np.float32) + 0.1, 16_000, format="WAV")
    corrupt.write_bytes(good.getvalue()[:12] + b"\xff" * 40 + good.getvalue()[52:])  # fmt chunk gone
    text = root / "notes.wav"
    text.write_text("these are my notes, not audio\n" * 20)
    silent = root / "silent.wav"
    sf.write(silent, np.zeros(16_000, np.float32), 16_000)
    short = write_tone(root / "short.wav", seconds=0.1)
    return {
        "missing": (root / "nope.wav", "not found"),
        "empty": (empty, "empty"),
        "corrupt": (corrupt, "corrupt"),
        "non-audio": (text, "not audio"),
        "silent": (silent, "silent"),
        "too short": (short, "shorter than the 0.25 s"),
        "folder": (root, "folder"),
    }


@pytest.mark.parametrize("case", ["missing", "empty", "corrupt", "non-audio", "silent", "too short", "folder"])
def test_bad_files_raise_one_clear_audio_error(rec, tmp_path, case):
    path, message = bad_files(tmp_path / "bad")[case]
    with pytest.raises(AudioError, match=message) as error:
        rec.predict(path)
    assert path.name in str(error.value)


@pytest.mark.parametrize("case", ["empty", "corrupt", "non-audio", "silent", "too short"])
def test_bad_bytes_are_named_by_the_name_given(rec, tmp_path, case):
    path, message = bad_files(tmp_path / "bad")[case]
    with pytest.raises(AudioError, match=message) as error:
        rec.predict(path.read_bytes(), name="upload-123.wav")
    assert "upload-123.wav" in str(error.value)


def test_bad_arrays(rec):
    with pytest.raises(AudioError, match=r"sample_rate=") as error:
        rec.predict(np.ones(16_000, np.float32) * 0.1)
    assert "source_rate" not in str(error.value)  # the Recognizer's keyword, not load_audio's
    with pytest.raises(AudioError, match="empty"):
        rec.predict(np.zeros(0, np.float32), sample_rate=16_000)
    with pytest.raises(AudioError, match="silent"):
        rec.predict(np.zeros(16_000, np.float32), sample_rate=16_000)
    with pytest.raises(AudioError, match="NaN"):
        rec.predict(np.full(16_000, np.nan, np.float32), sample_rate=16_000)
    with pytest.raises(AudioError, match="shorter"):
        rec.predict(np.ones(1000, np.float32) * 0.1, sample_rate=16_000)
    with pytest.raises(AudioError, match="expected a path"):
        rec.predict(12345)


def test_too_long_audio_is_refused_by_the_limits(tiny_bundle, clips):
    strict = load_model(tiny_bundle, limits=AudioLimits(max_duration_s=0.5))
    with pytest.raises(AudioError, match="longer than the 0.5 s cap"):
        strict.predict(clips["a"])  # 0.8 s
    with pytest.raises(AudioError, match="longer than the 0.5 s cap"):
        strict.predict(np.ones(16_000, np.float32) * 0.1, sample_rate=16_000)
    # A limit without a minimum still gets the model's minimum.
    assert strict.limits.min_duration_s == MIN_DURATION_S


# --- batches and threads --------------------------------------------------------------

def test_batch_equals_one_by_one(rec, clips, one_torch_thread):
    signal, rate = sf.read(clips["c"], dtype="float32")
    sources = [clips["a"], clips["b"].read_bytes(), signal, clips["d"]]
    batch = rec.predict_batch(sources, sample_rate=rate, batch_size=3)
    single = [rec.predict(clips["a"]), rec.predict(clips["b"]), rec.predict(signal, sample_rate=rate),
              rec.predict(clips["d"])]
    assert len(batch) == 4
    for b, s in zip(batch, single):
        assert b.label == s.label and b.duration_s == s.duration_s
        assert probabilities(b) == pytest.approx(probabilities(s), abs=1e-6)
    assert rec.predict_batch([]) == []


def test_batch_names_bad_items(rec, clips):
    with pytest.raises(AudioError, match=r"item 1 \(<array>\)"):
        rec.predict_batch([clips["a"], np.zeros(8000, np.float32)], sample_rate=16_000)
    with pytest.raises(AudioError, match="second.wav"):
        rec.predict_batch([clips["a"], b""], names=["first.wav", "second.wav"])
    with pytest.raises(ConfigError, match="names"):
        rec.predict_batch([clips["a"]], names=["x", "y"])


def test_eight_threads_give_the_serial_results(rec, clips, one_torch_thread):
    jobs = [clips[k] for k in "abcd"] * 4
    serial = [rec.predict(path) for path in jobs]
    with ThreadPoolExecutor(max_workers=8) as pool:
        threaded = list(pool.map(rec.predict, jobs))
    assert threaded == serial


# --- loading --------------------------------------------------------------------------

def test_load_model_caches_until_the_bundle_changes(tmp_path):
    folder = make_tiny_bundle(tmp_path / "b")
    first = load_model(folder)
    assert load_model(str(folder)) is first
    assert load_model(folder, limits=AudioLimits(max_duration_s=10)) is not first
    make_tiny_bundle(folder, seed=1)  # rebuilt in place: new weights
    assert load_model(folder) is not first


def test_unknown_names_and_folders(tmp_path, monkeypatch, tiny_bundle):
    from serkit.inference import recognizer

    monkeypatch.setattr(recognizer, "PRETRAINED_DIR", tmp_path / "pretrained")
    with pytest.raises(ConfigError, match=r"bundled default model is missing.*configs/default-model.yaml"):
        load_model()
    shutil.copytree(tiny_bundle, tmp_path / "pretrained" / "demo")
    with pytest.raises(ConfigError, match=r"unknown model 'demi'; bundled models: demo\. A path"):
        load_model("demi")
    assert load_model("demo").labels == TINY_LABELS
    (tmp_path / "plain").mkdir()
    with pytest.raises(ConfigError, match="not a model bundle"):
        load_model(tmp_path / "plain")
    with pytest.raises(ConfigError, match="not found"):
        load_model(str(tmp_path / "nowhere"))


# --- long clips -----------------------------------------------------------------------

def test_long_clips_are_checked_before_their_features(rec, monkeypatch):
    """A long clip is read once for its checks before any piece is featurised."""
    def no_features(signal):
        raise AssertionError("features computed before the clip was checked")

    monkeypatch.setattr(rec._extractor, "frames", no_features)
    long_silence = np.zeros(61 * 16_000, np.float32)
    with pytest.raises(AudioError, match="silent"):
        rec.predict(long_silence, sample_rate=16_000)
    long_silence[16_000:] = 0.1
    long_silence[-5] = np.nan
    with pytest.raises(AudioError, match="NaN"):
        rec.predict(long_silence, sample_rate=16_000)


def test_batch_with_a_long_clip_equals_one_by_one(rec, clips, one_torch_thread):
    rate = 16_000
    t = np.arange(int(62 * rate)) / rate
    long = (0.3 * np.sin(2 * np.pi * 170 * t * (1 + 0.01 * t))).astype(np.float32)
    batch = rec.predict_batch([clips["a"], long], sample_rate=rate)
    single = [rec.predict(clips["a"]), rec.predict(long, sample_rate=rate)]
    assert batch[1].duration_s == pytest.approx(62.0)
    for b, s in zip(batch, single):
        assert b.label == s.label and b.duration_s == s.duration_s
        assert probabilities(b) == pytest.approx(probabilities(s), abs=1e-6)


def test_truncated_wav_is_predicted_with_a_warning(rec, tmp_path, caplog, one_torch_thread):
    whole = write_tone(tmp_path / "whole.wav", seconds=2.0)
    cut = tmp_path / "cut.wav"
    cut.write_bytes(whole.read_bytes()[: 44 + 2 * 16_000])  # header + 1 s of 16-bit samples
    with caplog.at_level("WARNING", logger="serkit.audio"):
        prediction = rec.predict(cut)
    assert prediction.duration_s == pytest.approx(1.0, abs=0.01)
    assert "cut.wav" in caplog.text and "truncated" in caplog.text and "50%" in caplog.text
