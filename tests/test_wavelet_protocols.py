"""configs/wavelet: the recipe every protocol shares, the folds on the real corpora, and the
report's oracle (per-epoch test scores that change nothing else)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import yaml

from serkit.training.config import config_from_dict, load_config
from tests.conftest import corpus_root, write_fake_corpus

CONFIGS = sorted((Path(__file__).resolve().parents[1] / "configs" / "wavelet").glob("*.yaml"))


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.stem)
def test_every_config_is_the_papers_recipe_with_validation_from_the_training_side(path):
    config = load_config(path)
    t = config.training
    assert (config.features.name, config.model.name) == ("scalogram", "wavelet_cnn_lstm")
    assert (t.optimizer, t.batch_size, t.epochs, t.random_crop) == ("adam", 16, 50, 500)
    assert t.select == "val_accuracy" and t.monitor_test and not t.augment
    assert config.protocol.params["val_fraction"] > 0  # the epoch is never chosen on the test side
    seven = "7class" in path.stem or path.stem.startswith("ravdess_paper")
    assert config.data.label_scheme == ("ekman+neutral" if seven else "all")


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.stem)
def test_every_config_trains_the_recipe_chosen_on_emodbs_validation_speakers(path):
    # emodb_full_si.yaml's search chose the recipe; every protocol and corpus trains it (the
    # lr0.1 config alone keeps the paper's rate, which it exists to report).
    chosen = load_config(path.with_name("emodb_full_si.yaml")).to_dict()
    config = load_config(path).to_dict()
    if "lr0.1" in path.stem:
        assert config["training"].pop("learning_rate") == 0.1
        chosen["training"].pop("learning_rate")
    for section in ("features", "model", "training"):
        assert config[section] == chosen[section], section


@pytest.mark.data
@pytest.mark.parametrize(("name", "corpus", "per_fold"), [
    ("emodb_full_si", "emodb", {"female": 1, "male": 1}),
    ("emodb_paper_si", "emodb", {"female": 1, "male": 1}),
    ("ravdess_full_si", "ravdess", {"female": 2, "male": 2}),
])
def test_speaker_independent_folds_on_the_real_corpus(name, corpus, per_fold):
    from serkit.corpora import load_corpus
    from serkit.splits import make_split

    config = load_config(next(p for p in CONFIGS if p.stem == name))
    utterances = list(load_corpus(corpus, corpus_root(corpus)).utterances)
    gender = {u.speaker: u.gender for u in utterances}
    plan = make_split(utterances, config.protocol.split, seed=0, **config.protocol.params)
    tested = []
    for fold in plan:
        speakers = {side: {u.speaker for u in utterances if u.id in set(getattr(fold, side))}
                    for side in ("train", "val", "test")}
        assert {g: sum(gender[s] == g for s in speakers["test"]) for g in per_fold} == per_fold
        assert not speakers["test"] & (speakers["train"] | speakers["val"])
        assert speakers["val"] and not speakers["val"] & speakers["train"]
        tested += sorted(speakers["test"])
    assert len(tested) == len(set(tested))
    if "full" in name:
        assert set(tested) == set(gender)  # every speaker tested once


def _fake_run(root: Path, out: Path, *, monitor: bool):
    from serkit.training.runner import run_variants

    raw = yaml.safe_load(next(p for p in CONFIGS if p.stem == "emodb_paper_sd").read_text())
    raw["data"] = {"corpora": ["folder"], "label_scheme": "all"}
    raw["features"]["params"]["n_scales"] = 32
    raw["model"]["params"].update(filters=4, lstm_units=8, fc_units=8)
    raw["protocol"] = {"split": "kfold", "params": {"n_folds": 2, "val_fraction": 0.25}}
    raw["training"].update(epochs=3, random_crop=20, monitor_test=monitor)
    raw.pop("search")
    return run_variants(config_from_dict(raw, source="fake"), out_dir=out, data_root=root, progress=False)


def test_the_oracle_is_reported_and_monitoring_changes_nothing_else(tmp_path, private_cache, one_torch_thread):
    root = write_fake_corpus(tmp_path / "data", per_emotion=6)
    _fake_run(root, tmp_path / "plain", monitor=False)
    _fake_run(root, tmp_path / "monitored", monitor=True)
    plain = sorted((tmp_path / "plain").rglob("predictions.csv"))
    assert len(plain) == 2
    for path in plain:
        twin = tmp_path / "monitored" / path.relative_to(tmp_path / "plain")
        assert path.read_bytes() == twin.read_bytes()
        with open(path.with_name("history.csv"), newline="") as f:
            assert "test_acc" not in next(csv.reader(f))
        with open(twin.with_name("history.csv"), newline="") as f:
            rows = list(csv.DictReader(f))
        assert len(rows) == 3 and all(0 <= float(r["test_acc"]) <= 1 and 0 <= float(r["test_uar"]) <= 1
                                      for r in rows)
    assert "oracle" not in json.loads((tmp_path / "plain" / "report.json").read_text())
    oracle = json.loads((tmp_path / "monitored" / "report.json").read_text())["oracle"]
    assert oracle["n_folds"] == 2
    assert oracle["oracle_accuracy"]["mean"] >= oracle["selected_accuracy"]["mean"]
    assert oracle["inflation_accuracy"]["mean"] == pytest.approx(
        oracle["oracle_accuracy"]["mean"] - oracle["selected_accuracy"]["mean"])
    assert "Oracle" in (tmp_path / "monitored" / "report.md").read_text()
