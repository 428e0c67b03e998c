"""Clips predicted together: one batched feature call, the same answers as one by one,
and a bad clip costs only its own line (Recognizer.predict_batch, serkit predict's chunks)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from serkit.errors import AudioError, ConfigError
from serkit.inference import batch, load_model
from serkit.inference.recognizer import features_of_many
from tests.conftest import write_tone

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def default():
    return load_model("default")


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> list[Path]:
    root = tmp_path_factory.mktemp("batched")
    return [write_tone(root / f"c{i}.wav", seconds=1.0 + 0.4 * i, freq=140.0 + 45 * i, seed=i) for i in range(5)]


@pytest.fixture
def calls(default, monkeypatch) -> list[int]:
    """The number of clips of each ``embed_many`` call of the default model's extractor."""
    seen: list[int] = []
    extractor = default._extractor
    original = type(extractor).embed_many

    def spy(signals):
        seen.append(len(signals))
        return original(extractor, signals)

    monkeypatch.setattr(extractor, "embed_many", spy, raising=False)
    return seen


def matrix(model, predictions) -> np.ndarray:
    return np.array([[p.probabilities[label] for label in model.labels] for p in predictions])


def test_predict_batch_featurises_its_clips_in_one_call_with_the_answers_of_one_by_one(default, clips, calls):
    together = default.predict_batch(clips)
    assert calls == [5]
    alone = [default.predict(c) for c in clips]
    # float32 rounding of the batched LSTM (about 1e-7) is all that differs.
    np.testing.assert_allclose(matrix(default, together), matrix(default, alone), atol=1e-5)
    assert [p.label for p in together] == [p.label for p in alone]
    assert [p.duration_s for p in together] == [p.duration_s for p in alone]


def test_predict_batch_groups_clips_by_batch_size(default, clips, calls):
    default.predict_batch(clips, batch_size=2)
    assert calls == [2, 2, 1]


def test_a_bad_clip_among_good_ones_gets_its_own_error_and_the_others_their_answers(default, clips, calls):
    sources = [clips[0], b"", clips[1], clips[0].with_name("missing.wav")]
    results = default.predict_batch(sources, names=["a", "empty", "b", "missing"], errors="return")
    assert isinstance(results[1], AudioError) and "empty" in str(results[1])
    assert isinstance(results[3], AudioError) and "missing" in str(results[3])
    assert calls == [2]
    np.testing.assert_allclose(matrix(default, [results[0], results[2]]),
                               matrix(default, [default.predict(clips[0]), default.predict(clips[1])]), atol=1e-5)
    with pytest.raises(AudioError, match="empty"):  # the first bad one, by position
        default.predict_batch(sources, names=["a", "empty", "b", "missing"])


class Fussy:
    """An extractor that fails on clips starting with a large sample, batched or not."""

    name = "fussy"

    def __call__(self, signal):
        if signal[0] > 1:
            raise ValueError("odd first sample")
        return np.array([signal.mean()], dtype=np.float32)

    def embed_many(self, signals):
        return np.stack([self(s) for s in signals])


def test_features_of_many_finds_the_bad_clip_one_by_one_when_the_batch_fails():
    signals = [np.full(4, 0.5, np.float32), np.full(4, 2.0, np.float32), np.full(4, -0.25, np.float32)]
    out = features_of_many(Fussy(), signals, ["one", "two", "three"])
    assert out[0].tolist() == [0.5] and out[2].tolist() == [-0.25]
    assert isinstance(out[1], AudioError)
    assert str(out[1]) == "two: fussy features failed (ValueError: odd first sample)"


def test_features_of_many_raises_a_config_error_rather_than_blaming_a_clip():
    class Unloadable(Fussy):
        def __call__(self, signal):
            raise ConfigError("voice encoder weights are missing")

    with pytest.raises(ConfigError, match="weights"):
        features_of_many(Unloadable(), [np.zeros(4, np.float32)] * 2, ["a", "b"])


def test_predict_chunk_falls_back_to_file_by_file_when_the_batch_fails(default, clips, monkeypatch):
    items = [(str(c), c.name) for c in clips[:3]]
    expected = batch.predict_chunk(default, items)
    assert [r["path"] for r in expected] == [c.name for c in clips[:3]]

    alone = default.predict_batch

    def broken(sources, *args, **kwargs):
        if len(sources) > 1:
            raise RuntimeError("a library failed")
        return alone(sources, *args, **kwargs)

    monkeypatch.setattr(default, "predict_batch", broken)
    lines = batch.predict_chunk(default, items + [(str(clips[0].with_name("gone.wav")), "gone.wav")])
    assert [r["label"] for r in lines[:3]] == [r["label"] for r in expected]
    assert lines[3]["path"] == "gone.wav" and "not found" in lines[3]["error"]
