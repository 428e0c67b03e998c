"""scripts/copy_evidence.py: a run's evidence into results/, without weights, and back again."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from serkit.training.config import config_from_dict
from serkit.training.runner import run_experiment

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("copy_evidence", ROOT / "scripts" / "copy_evidence.py")
copy_evidence = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(copy_evidence)


@pytest.fixture(autouse=True, scope="module")
def _own_cache(private_cache):
    """Features of this module's fake corpora go to a cache of their own."""


def config(seeds: int):
    return config_from_dict({
        "experiment": "fake", "data": {"corpora": ["folder"]},
        "features": {"name": "fusion107", "params": {"pooling": "mean"}},
        "model": {"name": "speechnet"},
        "protocol": {"split": "kfold", "params": {"n_folds": 2, "val_fraction": 0.2}},
        "seeds": seeds, "training": {"epochs": 2, "batch_size": 8, "num_threads": 1},
    })


def test_the_evidence_leaves_weights_out_and_a_put_back_copy_resumes(fake_root, tmp_path, capsys):
    runs, results = tmp_path / "runs", tmp_path / "results"
    run_experiment(config(seeds=1), out_dir=runs / "x", data_root=fake_root, progress=False)
    # An unfinished fold: training state and a partial history, no predictions.
    partial = runs / "x" / "seed=1" / "fold=0"
    partial.mkdir(parents=True)
    (partial / "training_state.pt").write_bytes(b"state")
    (partial / "history.csv").write_text("epoch\n1\n")
    (partial.parent / "folds.json").write_text("{}")
    (results / "x").mkdir(parents=True)
    (results / "x" / "kept.md").write_text("written before")

    assert copy_evidence.main([str(runs / "x")]) == 0  # DEST: runs/x -> results/x
    out = capsys.readouterr().out
    assert "left out seed=1: not finished" in out and "left out seed=1/fold=0: not finished" in out
    assert "wrote" in out
    copied = {p.relative_to(results / "x").as_posix() for p in (results / "x").rglob("*") if p.is_file()}
    assert not any(name.endswith((".pt", ".joblib")) for name in copied)
    assert not any(name.startswith("seed=1/") for name in copied)
    assert (results / "x" / "kept.md").read_text() == "written before"  # nothing in DEST is deleted
    for fold in ("fold=0", "fold=1"):
        for name in ("predictions.csv", "history.csv", "config.yaml"):
            rel = Path("seed=0") / fold / name
            assert (results / "x" / rel).read_bytes() == (runs / "x" / rel).read_bytes()
    assert json.loads((results / "x" / "report.json").read_text())["metrics"] == \
        json.loads((runs / "x" / "report.json").read_text())["metrics"]

    # Back on a fresh machine: the copy as the run folder, one more seed; seed 0 is not redone.
    restored = tmp_path / "fresh" / "runs" / "x"
    restored.parent.mkdir(parents=True)
    (results / "x").rename(restored)
    done = (restored / "seed=0" / "fold=0" / "predictions.csv").stat().st_mtime_ns
    run_experiment(config(seeds=2), out_dir=restored, data_root=fake_root, progress=False)
    assert (restored / "seed=0" / "fold=0" / "predictions.csv").stat().st_mtime_ns == done
    assert (restored / "seed=1" / "fold=1" / "predictions.csv").exists()


def test_the_destination_follows_the_runs_folder(tmp_path):
    assert copy_evidence.default_destination(tmp_path / "runs" / "abl" / "logmel") == \
        tmp_path.resolve() / "results" / "abl" / "logmel"
    with pytest.raises(SystemExit, match="not below a runs/ folder"):
        copy_evidence.default_destination(tmp_path / "elsewhere")


def test_a_run_with_nothing_finished_is_refused(tmp_path):
    (tmp_path / "runs" / "x" / "seed=0" / "fold=0").mkdir(parents=True)
    with pytest.raises(SystemExit, match="no finished fold"):
        copy_evidence.copy_evidence(tmp_path / "runs" / "x", tmp_path / "results" / "x")
    assert not (tmp_path / "results").exists()


def test_a_run_of_variants_is_looked_at_variant_by_variant(tmp_path):
    """A finished variant is copied whole; a variant still training leaves out its seed (no
    finished fold), and its weights never travel."""
    run = tmp_path / "runs" / "abl"
    for variant in ("done", "training"):
        (run / variant / "seed=0" / "fold=0").mkdir(parents=True)
        (run / variant / "protocol.json").write_text("{}")
        (run / variant / "seed=0" / "folds.json").write_text("{}")
    (run / "done" / "seed=0" / "fold=0" / "predictions.csv").write_text("path,label\n")
    (run / "done" / "seed=0" / "fold=0" / "model.pt").write_bytes(b"weights")
    (run / "training" / "seed=0" / "fold=0" / "history.csv").write_text("epoch\n1\n")
    (run / "summary.md").write_text("variants")
    files, unfinished = copy_evidence.evidence_files(run)
    assert [f.as_posix() for f in files] == ["done/protocol.json", "done/seed=0/fold=0/predictions.csv",
                                             "done/seed=0/folds.json", "summary.md", "training/protocol.json"]
    assert unfinished == [run / "training" / "seed=0", run / "training" / "seed=0" / "fold=0"]
