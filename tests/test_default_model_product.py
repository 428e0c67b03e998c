"""The shipped default model as a product: it loads, predicts the example clips and a
class-balanced sample of real clips from each corpus in ../shared/data without collapsing
onto one label or giving degenerate probabilities, and its ONNX export (and that of every
registered torch model) matches PyTorch on a batch of real inputs."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import torch

from serkit.audio import load_audio
from serkit.corpora import load_corpus
from serkit.features import Standardizer, make_features
from serkit.inference import load_model, save_bundle
from serkit.inference.onnx_export import export_onnx
from serkit.models import MODELS, make_model
from tests.conftest import SHARED_CORPORA, corpus_root

pytestmark = pytest.mark.usefixtures("one_torch_thread")

EXAMPLES = sorted((Path(__file__).resolve().parents[1] / "serkit" / "examples").glob("*.flac"))
#: Clips per class and corpus in the balanced sample (4 classes x 5 corpora x 8 = 160 clips).
PER_CLASS = 8
TOLERANCE = 1e-4


@pytest.fixture(scope="module")
def default():
    return load_model("default")


def balanced_sample(name: str, per_class: int = PER_CLASS, seed: int = 0) -> list:
    """``per_class`` random clips of each class of the default model's 4class scheme."""
    corpus = load_corpus(name, corpus_root(name)).with_scheme("4class")
    rng = np.random.default_rng(seed)
    picked = []
    for label in sorted({u.emotion for u in corpus}):
        of_label = [u for u in corpus if u.emotion == label]
        picked += [of_label[i] for i in rng.choice(len(of_label), per_class, replace=False)]
    return picked


def probability_matrix(model, predictions) -> np.ndarray:
    return np.array([[p.probabilities[label] for label in model.labels] for p in predictions])


def check_probabilities(matrix: np.ndarray) -> None:
    assert np.isfinite(matrix).all() and (matrix >= 0).all() and (matrix <= 1).all()
    np.testing.assert_allclose(matrix.sum(axis=1), 1.0, atol=1e-5)


def test_the_bundled_default_is_the_documented_four_class_model(default):
    assert default.labels == ["anger", "happiness", "neutral", "sadness"]
    assert default.sample_rate == 16_000
    assert default.info["features"]["name"] == "voice_encoder"


def test_the_example_clips_get_well_formed_varied_predictions(default):
    assert len(EXAMPLES) == 5
    predictions = default.predict_batch(EXAMPLES)
    matrix = probability_matrix(default, predictions)
    check_probabilities(matrix)
    assert all(p.label == default.labels[int(np.argmax(row))] for p, row in zip(predictions, matrix))
    assert len({p.label for p in predictions}) >= 2, [p.label for p in predictions]
    # Not one-hot: a frozen encoder and a linear head give graded probabilities.
    assert (matrix.max(axis=1) < 0.9999).sum() >= 3
    again = probability_matrix(default, default.predict_batch(EXAMPLES))
    np.testing.assert_allclose(again, matrix, atol=1e-6)


@pytest.mark.data
@pytest.mark.parametrize("name", SHARED_CORPORA)
def test_a_balanced_sample_of_each_corpus_does_not_collapse(default, name):
    sample = balanced_sample(name)
    predictions = default.predict_batch([u.path for u in sample])
    labels = [p.label for p in predictions]
    truth = [u.emotion for u in sample]
    counts = Counter(labels)
    # A collapsed model answers one label for most of a balanced set (here each class is 1/4).
    top_label, top = counts.most_common(1)[0]
    assert top <= len(sample) / 2, f"{name}: {counts}"
    assert len(counts) >= 3, f"{name}: {counts}"
    accuracy = np.mean([a == b for a, b in zip(labels, truth)])
    # The model card measures 66 % UA speaker-independent; these corpora are in its training
    # data, so far above chance (25 %) is expected (0.72-1.0 when written).
    assert accuracy >= 0.5, f"{name}: accuracy {accuracy:.2f}, predictions {counts}"
    matrix = probability_matrix(default, predictions)
    check_probabilities(matrix)
    confidence = matrix.max(axis=1)
    assert 0.4 < confidence.mean() < 0.999, f"{name}: mean top probability {confidence.mean():.4f}"
    assert confidence.std() > 0.02, f"{name}: every clip equally confident ({confidence.std():.4f})"
    assert (confidence > 0.9999).mean() < 0.5, f"{name}: mostly one-hot probabilities"


# --------------------------------------------------------------------------- ONNX


def real_clips(n: int = 6) -> list[np.ndarray]:
    """``n`` EmoDB clips of different speakers and emotions, as 16 kHz float32."""
    files = sorted((corpus_root("emodb") / "wav").glob("*.flac"))
    return [load_audio(p, sample_rate=16_000) for p in files[:: len(files) // n][:n]]


def onnx_probabilities(path: Path, features: np.ndarray) -> np.ndarray:
    ort = pytest.importorskip("onnxruntime")
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(["probabilities"], {"features": features.astype(np.float32)})[0]


def padded_batch(items: list[np.ndarray]) -> list[np.ndarray]:
    """Frame (or waveform) items of one length (the shortest), as one ONNX batch takes them."""
    shortest = min(len(x) for x in items)
    return [x[:shortest] for x in items]


@pytest.mark.data
def test_the_default_model_exported_to_onnx_matches_pytorch_on_real_clips(default, tmp_path):
    pytest.importorskip("onnx")
    out = export_onnx("default", tmp_path / "default.onnx")
    assert out.max_difference <= TOLERANCE
    clips = real_clips()
    features = np.stack([default.raw_features(clip, 16_000)[0] for clip in clips])
    got = onnx_probabilities(out.path, features)
    expected = probability_matrix(default, default.predict_batch(clips, 16_000))
    # The graph includes the bundle's calibrated temperature: its probabilities are the
    # recognizer's (this was 0.06 apart while the export left the temperature out).
    assert default.info.get("temperature", 1.0) != 1.0, "the default is calibrated: the case this checks"
    assert np.abs(got - expected).max() <= TOLERANCE
    assert (got.argmax(axis=1) == expected.argmax(axis=1)).all()


#: Small settings for models whose defaults are slow to export on a CPU.
SMALL = {
    "speechnet": {"n_intervals": 8, "encoder_units": [16], "lstm_units": 8, "pre_attention_dim": 8,
                  "n_heads": 2, "head_dim": 4, "conv_channels": 4},
    "cnn": {"channels": [8, 8], "kernel_size": 3},
    "cnn_transformer": {"channels": [4, 8, 16, 32]},
    "serct": {"channels": 8, "d_model": 16, "n_layers": 1, "n_heads": 2, "ffn": 16, "head_units": [8]},
    "dst": {"d_model": 16, "n_layers": 1, "n_heads": 2, "ffn": 16, "head_units": [8]},
}




@pytest.mark.slow
@pytest.mark.data
# The recurrent models exported since they run unpacked under export (serkit/models/baselines/base.py).
@pytest.mark.parametrize("name", [n for n in sorted(MODELS.names()) if n != "svm"])
def test_every_registered_torch_model_exports_to_onnx_matching_pytorch_on_real_clips(name, tmp_path):
    pytest.importorskip("onnx")
    torch.manual_seed(0)
    clips = real_clips()
    if name == "cnn_transformer":
        extractor = make_features("logmel")
        kind, dim = "frames", extractor.dim
        params = {**SMALL[name], "n_frames": extractor.spec.length}
    elif name in ("linear_head", "prototype_head"):
        extractor, kind = make_features("fusion107"), "vector"
        dim, params = extractor.dim, {}
    elif MODELS.info(name)["accepts"] == ("waveform",):  # serct, dst: the samples themselves
        extractor, kind = make_features("waveform"), "waveform"
        dim, params = extractor.dim, SMALL[name]
    else:
        extractor, kind = make_features("fusion107", pooling="none"), "frames"
        dim, params = extractor.dim, {"input_kind": "frames", **SMALL.get(name, {})}
    raw = [extractor(clip) for clip in clips]
    # A waveform is not standardised (a config refuses it): the feature normalises each clip.
    standardizer = (None if kind == "waveform"
                    else Standardizer().fit(np.concatenate(raw) if kind == "frames" else np.stack(raw)))
    model = make_model(name, dim, 4, **params)
    bundle = save_bundle(tmp_path / name, name=name, model=model, extractor=extractor,
                         standardizer=standardizer, labels=["anger", "happiness", "neutral", "sadness"],
                         model_params=params)
    out = export_onnx(bundle, tmp_path / f"{name}.onnx")
    assert out.max_difference <= TOLERANCE
    batch = np.stack(padded_batch(raw)) if kind in ("frames", "waveform") else np.stack(raw)
    got = onnx_probabilities(out.path, batch)
    recognizer = load_model(bundle)
    expected = np.stack([
        [recognizer.predict_features([item], [1.0])[0].probabilities[c] for c in recognizer.labels]
        for item in batch])
    assert got.shape == (len(clips), 4)
    assert np.abs(got - expected).max() <= TOLERANCE, name
