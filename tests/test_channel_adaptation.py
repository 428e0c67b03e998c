"""Robustness to the recording set-up: per-corpus standardisation, test-side adaptation,
calibration, collapse shares and the release's collapse check, and `--adapt` at inference."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest

from serkit.batching import FeatureSet
from serkit.corpora.base import Corpus, Utterance
from serkit.errors import ConfigError
from serkit.evaluation.calibration import (apply_temperature, expected_calibration_error,
                                           fit_temperature, negative_log_likelihood)
from serkit.evaluation.predictions import read_predictions, write_predictions
from serkit.evaluation.report import compute_report, prediction_shares
from serkit.rundir import FoldDir
from serkit.splits import Fold
from serkit.training.config import config_from_dict
from serkit.training.release import collapsed_folds, protocol_key
from tests.conftest import make_tiny_bundle, write_tone


def softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


# --- calibration ------------------------------------------------------------------------

def test_fit_temperature_recovers_the_temperature_of_the_data():
    rng = np.random.default_rng(0)
    logits = rng.normal(scale=3.0, size=(4000, 4))
    # Labels drawn from softmax(z / 2): a model reporting softmax(z) is twice too sure.
    truth = softmax(logits / 2.0)
    targets = np.array([rng.choice(4, p=p) for p in truth])
    temperature = fit_temperature(softmax(logits), targets)
    assert temperature == pytest.approx(2.0, rel=0.08)
    calibrated = apply_temperature(softmax(logits), temperature)
    assert negative_log_likelihood(calibrated, targets) < negative_log_likelihood(softmax(logits), targets)
    assert (calibrated.argmax(1) == softmax(logits).argmax(1)).all()  # labels never change
    assert expected_calibration_error(calibrated, targets) < expected_calibration_error(softmax(logits), targets)


def test_apply_temperature_is_softmax_of_scaled_logits():
    z = np.array([[2.0, 0.0, -1.0], [0.5, 0.4, 0.1]])
    assert np.allclose(apply_temperature(softmax(z), 3.0), softmax(z / 3.0))
    assert np.array_equal(apply_temperature(softmax(z), 1.0), softmax(z))
    assert fit_temperature(np.zeros((0, 3)), np.zeros(0, int)) == 1.0


def test_expected_calibration_error_by_hand():
    p = np.array([[0.9, 0.1], [0.6, 0.4], [0.3, 0.7], [0.2, 0.8]])
    targets = np.array([0, 1, 1, 1])
    # bins of width 1/15: 0.9 (right), 0.6 (wrong), 0.7 (right), 0.8 (right), each its own bin
    expected = (abs(1 - 0.9) + abs(0 - 0.6) + abs(1 - 0.7) + abs(1 - 0.8)) / 4
    assert expected_calibration_error(p, targets) == pytest.approx(expected)
    # two confidences in one bin are averaged before the gap is taken
    same_bin = np.array([[0.62, 0.38], [0.64, 0.36]])
    assert expected_calibration_error(same_bin, np.array([0, 1])) == pytest.approx(abs(0.5 - 0.63))


# --- standardisation by corpus ----------------------------------------------------------

def _dataset(offsets: dict[str, float], per_corpus: int = 20, dim: int = 3):
    from serkit.training.runner import Dataset

    rng = np.random.default_rng(1)
    utterances, features = [], []
    for corpus, offset in offsets.items():
        for i in range(per_corpus):
            utterances.append(Utterance(id=f"{corpus}/{i:02d}", path=Path(f"{corpus}{i}.wav"), corpus=corpus,
                                        emotion="anger" if i % 2 else "sadness", corpus_label="x",
                                        speaker=f"{corpus}-{i % 4}"))
            features.append((offset + rng.normal(size=dim) * (1 + offset)).astype(np.float32))

    class Extractor:
        from serkit.inputs import InputSpec
        spec = InputSpec("vector", (dim,))
    targets = np.array([u.emotion == "anger" for u in utterances], dtype=np.int64)
    return Dataset(Corpus("mix", Path("."), utterances), features, ["anger", "sadness"], targets, Extractor())


def _sides(dataset, fold):
    from serkit.training.runner import _side
    return [_side(dataset, ids) for ids in (fold.train, fold.val, fold.test)]


@pytest.mark.parametrize("standardize_by, adapt", [(None, False), ("corpus", False), ("corpus", True), (None, True)])
def test_sides_are_standardised_as_the_config_says(tmp_path, standardize_by, adapt):
    from serkit.features.extract import Standardizer
    from serkit.training.runner import _corpora, _standardized

    dataset = _dataset({"a": 0.0, "b": 5.0, "c": -3.0})
    ids = [u.id for u in dataset.corpus.utterances]
    train = tuple(i for i in ids if not i.startswith("c") and not i.endswith(("00", "01")))
    val = tuple(i for i in ids if not i.startswith("c") and i.endswith(("00", "01")))
    test = tuple(i for i in ids if i.startswith("c"))
    fold = Fold("f", train, val, test)
    config = config_from_dict({
        "experiment": "x", "data": {"corpora": ["folder"]}, "features": "fusion107", "model": "mlp",
        "protocol": {"split": "loco", "adapt": adapt}, "training": {"standardize_by": standardize_by}})
    tr, va, te = _sides(dataset, fold)
    fold_dir = FoldDir(tmp_path, 0, 0)
    out_train, out_val, out_test = _standardized(config, dataset, fold, fold_dir, tr, _corpora(dataset, fold.train),
                                                 va, te)
    pooled = Standardizer.from_state(json.loads(fold_dir.scaler.read_text()))
    assert np.allclose(pooled.mean, tr.features.mean(0), atol=1e-5)  # the saved scaler is the pooled one
    train_corpora = _corpora(dataset, fold.train)
    for corpus in ("a", "b"):
        rows = out_train.features[train_corpora == corpus]
        if standardize_by == "corpus":
            assert np.allclose(rows.mean(0), 0, atol=1e-5) and np.allclose(rows.std(0), 1, atol=1e-4)
        else:
            assert not np.allclose(rows.mean(0), 0, atol=0.3)
    # validation clips use their corpus's training statistics, never their own
    val_a = va.features[_corpora(dataset, fold.val) == "a"]
    a_scaler = Standardizer().fit(tr.features[train_corpora == "a"])
    expected_val = a_scaler.transform(val_a) if standardize_by == "corpus" else pooled.transform(val_a)
    assert np.allclose(out_val.features[_corpora(dataset, fold.val) == "a"], expected_val, atol=1e-5)
    if adapt:
        assert np.allclose(out_test.features.mean(0), 0, atol=1e-5)
    else:
        assert np.allclose(out_test.features, pooled.transform(te.features), atol=1e-5)


def test_config_checks_standardize_by_and_adapt():
    base = {"experiment": "x", "data": {"corpora": ["folder"]}, "features": "fusion107", "model": "mlp"}
    with pytest.raises(ConfigError, match="standardize_by must be one of"):
        config_from_dict({**base, "training": {"standardize_by": "speaker"}})
    with pytest.raises(ConfigError, match="needs training.standardize: true"):
        config_from_dict({**base, "training": {"standardize_by": "corpus", "standardize": False}})
    with pytest.raises(ConfigError, match="adapt: true"):
        config_from_dict({**base, "protocol": {"split": "loco", "adapt": True}, "training": {"standardize": False}})
    with pytest.raises(ConfigError, match="max_label_share"):
        config_from_dict({**base, "release": {"protocols": [{"split": "loco"}], "max_label_share": 1.5}})
    plain = config_from_dict(base).to_dict()  # new keys at their defaults leave old run folders resumable
    assert "adapt" not in plain["protocol"] and "calibrate" not in plain["training"]
    assert protocol_key(config_from_dict({**base, "protocol": {"split": "loco", "adapt": True}}).protocol) == "loco-adapt"


# --- collapse -----------------------------------------------------------------------------

def _predictions(tmp_path: Path, rows: list[tuple[str, str, str]]):
    labels = ["anger", "sadness"]
    path = write_predictions(tmp_path / "predictions.csv", [
        {"utt_id": f"u{i}", "corpus": corpus, "seed": 0, "fold": 0, "truth": truth, "prediction": pred,
         "probabilities": {"anger": 0.8 if pred == "anger" else 0.2, "sadness": 0.2 if pred == "anger" else 0.8}}
        for i, (corpus, truth, pred) in enumerate(rows)], labels)
    return read_predictions(path)


def test_prediction_shares_name_the_collapsed_corpus(tmp_path):
    rows = [("x", "anger", "anger"), ("x", "sadness", "anger"), ("x", "sadness", "anger"), ("x", "anger", "anger"),
            ("y", "anger", "anger"), ("y", "sadness", "sadness"), ("y", "sadness", "sadness")]
    predictions = _predictions(tmp_path, rows)
    shares = prediction_shares(predictions)
    assert shares == {"x": {"label": "anger", "share": 1.0, "n": 4},
                      "y": {"label": "sadness", "share": pytest.approx(2 / 3), "n": 3}}
    report = compute_report(predictions)
    assert report["prediction_shares"] == shares
    targets = np.array([0 if t == "anger" else 1 for _, t, _ in rows])
    assert report["calibration"]["ece"]["mean"] == pytest.approx(
        expected_calibration_error(predictions.probabilities, targets))


def test_release_excludes_collapsed_candidates():
    def report(shares):
        return {"prediction_shares": {c: {"label": "anger", "share": s, "n": 10} for c, s in shares.items()}}
    scores = {"loso": {"a": report({"x": 0.9}), "b": report({"x": 0.9})},  # LOSO folds are not judged
              "loco": {"a": report({"x": 0.35, "y": 0.41}), "b": report({"x": 0.40, "y": 0.2})},
              "loco-adapt": {"a": report({"x": 0.3}), "b": report({"x": 0.3})}}
    assert collapsed_folds(scores, 0.4) == {"a": {"loco/y": 0.41}}
    assert collapsed_folds(scores, None) == {}


# --- inference ------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> list[Path]:
    root = tmp_path_factory.mktemp("adapt")
    return [write_tone(root / f"{i}.wav", seconds=0.6, freq=150.0 + 40 * i, seed=i) for i in range(6)]


def test_predict_batch_adapt_standardises_on_the_call(tiny_bundle, clips, monkeypatch, one_torch_thread):
    from serkit.features.extract import Standardizer
    from serkit.inference import load_model
    from serkit.inference import recognizer as module

    rec = load_model(tiny_bundle)
    monkeypatch.setattr(module, "ADAPT_MIN_FILES", 3)
    raw = [rec.raw_features(c)[0] for c in clips]
    own = Standardizer().fit(raw)
    trained = rec._standardizer
    constant = np.ptp(np.stack(raw), axis=0) == 0  # dimensions that do not vary keep the training statistics
    assert constant.any() and not constant.all()
    own.mean = np.where(constant, trained.mean, own.mean)
    own.scale = np.where(constant, trained.scale, own.scale)
    adapted = rec.predict_batch(clips, adapt=True)
    by_hand = rec._probabilities([own.transform(x).astype(np.float32) for x in raw], 32)
    assert np.allclose([list(p.probabilities.values()) for p in adapted], by_hand, atol=1e-9)
    plain = rec.predict_batch(clips)
    assert not np.allclose([list(p.probabilities.values()) for p in plain], by_hand, atol=1e-3)
    with pytest.warns(module.AdaptWarning, match="3 or more"):
        rec.predict_batch(clips[:2], adapt=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        rec.predict_batch(clips[:3], adapt=True)  # enough: no warning


def test_adapt_needs_a_standardizer(tmp_path, clips):
    from serkit.features import make_features
    from serkit.inference import load_model
    from serkit.inference.bundle import save_bundle
    from serkit.models import make_model

    extractor = make_features("fusion107")
    save_bundle(tmp_path / "raw", name="raw", model=make_model("mlp", extractor.dim, 2, hidden_units=[4]),
                extractor=extractor, standardizer=None, labels=["a", "b"], model_params={"hidden_units": [4]})
    with pytest.raises(ConfigError, match="nothing to adapt"):
        load_model(tmp_path / "raw").predict_batch(clips, adapt=True)


def test_bundle_temperature_scales_the_softmax(tmp_path, clips, one_torch_thread):
    from serkit.inference import load_model
    from serkit.inference.bundle import read_bundle, save_bundle, load_parts

    plain = make_tiny_bundle(tmp_path / "plain")
    info, extractor, standardizer, model = load_parts(plain)
    hot = save_bundle(tmp_path / "hot", name="hot", model=model, extractor=extractor, standardizer=standardizer,
                      labels=info["labels"], model_params=info["model"]["params"], temperature=2.5)
    assert read_bundle(hot)["temperature"] == 2.5 and "temperature" not in read_bundle(plain)
    p1 = np.array(list(load_model(plain).predict(clips[0]).probabilities.values()))
    p2 = np.array(list(load_model(hot).predict(clips[0]).probabilities.values()))
    assert np.allclose(p2, apply_temperature(p1[None], 2.5)[0], atol=1e-9)
    raw = json.loads((hot / "bundle.json").read_text())
    raw["temperature"] = -1
    (hot / "bundle.json").write_text(json.dumps(raw))
    with pytest.raises(ConfigError, match="temperature must be a positive number"):
        read_bundle(hot)


def test_cli_adapt_refuses_timeline_and_resume(tiny_bundle, clips, tmp_path, capsys):
    from serkit.cli import main

    assert main(["predict", str(clips[0].parent), "--model", str(tiny_bundle), "--adapt", "--timeline"]) == 2
    assert "--adapt" in capsys.readouterr().err
    out = tmp_path / "out.jsonl"
    assert main(["predict", str(clips[0].parent), "--model", str(tiny_bundle), "--adapt",
                 "--output", str(out), "--no-progress"]) == 0
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(lines) == len(clips) and all("label" in r for r in lines)
    assert "warning: --adapt" in capsys.readouterr().err  # 6 files are fewer than ADAPT_MIN_FILES
    assert main(["predict", str(clips[0].parent), "--model", str(tiny_bundle), "--adapt",
                 "--output", str(out), "--no-progress"]) == 2
    assert "cannot resume" in capsys.readouterr().err
