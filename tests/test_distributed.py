"""One training on 2 CPU processes (DDP over gloo) against the same training on one.

Each batch is split between the ranks and each rank's loss weighted by its share, so the
averaged gradient is the batch's mean gradient: with a model whose rows do not interact
(an MLP with LayerNorm, no dropout) two processes compute what one does, only summed in
another order. The measured difference is float rounding (see docs/scaling.md).
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from serkit.cli import main
from serkit.training.config import config_from_dict
from serkit.training.distributed import run_as_ranks
from serkit.training.runner import run_experiment
from tests.conftest import write_fake_corpus


@pytest.fixture(scope="module")
def fake_root(tmp_path_factory) -> Path:
    return write_fake_corpus(tmp_path_factory.mktemp("data"), per_emotion=8)


@pytest.fixture(autouse=True, scope="module")
def _own_cache(private_cache):
    """Features of this module's fake corpus go to a cache of their own."""


def tiny_config(**training):
    return config_from_dict({
        "experiment": "ddp",
        "data": {"corpora": ["folder"]},
        "features": {"name": "fusion107", "params": {"pooling": "mean"}},
        "model": {"name": "mlp", "params": {"hidden_units": [16], "dropout": 0.0}},
        "protocol": {"split": "holdout", "params": {"test_fraction": 0.25, "val_fraction": 0.2}},
        "seeds": 1,
        # 15 training clips in batches of 7: the last batch of 1 leaves rank 1 without a row;
        # 3 validation clips: the ranks score 2 and 1.
        "training": {"epochs": 4, "batch_size": 7, "checkpoint_every": 2, "learning_rate": 0.01,
                     **training},
    })


def probabilities(out: Path) -> np.ndarray:
    with open(out / "seed=0" / "fold=0" / "predictions.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    return np.array([[float(v) for k, v in row.items() if k.startswith("p_")] for row in rows])


def history(out: Path) -> list[dict]:
    with open(out / "seed=0" / "fold=0" / "history.csv", newline="") as f:
        return list(csv.DictReader(f))


def files(out: Path) -> list[str]:
    return sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())


def run_on(nproc: int, out: Path, data_root: Path, config=None) -> dict:
    config = config or tiny_config()
    return run_as_ranks(lambda: run_experiment(config, out_dir=out, data_root=data_root, progress=False),
                        nproc=nproc)


def test_two_processes_train_what_one_does(fake_root, tmp_path, one_torch_thread):
    one = run_on(1, tmp_path / "one", fake_root)
    two = run_on(2, tmp_path / "two", fake_root)
    assert files(tmp_path / "two") == files(tmp_path / "one")  # one writer, one set of files
    p1, p2 = probabilities(tmp_path / "one"), probabilities(tmp_path / "two")
    assert p1.shape == p2.shape and p1.shape[0] > 0
    difference = float(np.abs(p1 - p2).max())
    print(f"max |p(1 process) - p(2 processes)| = {difference:.3g}")
    assert difference < 1e-4  # float rounding, not another training
    assert (p1.argmax(1) == p2.argmax(1)).all()
    columns = ("train_loss", "train_acc", "val_loss", "val_acc")
    h1, h2 = ([[float(row[c]) for c in columns] for row in history(tmp_path / n)] for n in ("one", "two"))
    print(f"max |history(1) - history(2)| = {float(np.abs(np.subtract(h1, h2)).max()):.3g}")
    assert np.allclose(h1, h2, rtol=1e-4, atol=1e-6)
    assert two["metrics"]["accuracy"] == one["metrics"]["accuracy"]


def test_an_interrupted_two_process_fit_resumes_to_the_same_result(fake_root, tmp_path, monkeypatch,
                                                                    one_torch_thread):
    from serkit.training import fit as fit_module

    run_on(2, tmp_path / "reference", fake_root)
    real_save = fit_module._TrainingState.save

    def stop_after_first_save(self, path, epoch):  # rank 0 (this process) stops after epoch 2
        real_save(self, path, epoch)
        raise KeyboardInterrupt

    monkeypatch.setattr(fit_module._TrainingState, "save", stop_after_first_save)
    with pytest.raises(KeyboardInterrupt):
        run_on(2, tmp_path / "resumed", fake_root)
    state = tmp_path / "resumed" / "seed=0" / "fold=0" / "training_state.pt"
    assert state.exists()
    assert len(torch.load(state, weights_only=True)["rank_torch_rng"]) == 2  # both ranks' streams
    monkeypatch.setattr(fit_module._TrainingState, "save", real_save)
    run_on(2, tmp_path / "resumed", fake_root)
    assert not state.exists()
    assert (probabilities(tmp_path / "resumed") == probabilities(tmp_path / "reference")).all()
    assert [r["val_loss"] for r in history(tmp_path / "resumed")] == \
        [r["val_loss"] for r in history(tmp_path / "reference")]


def test_cli_nproc(fake_root, tmp_path, capsys, one_torch_thread):
    config = tmp_path / "c.yaml"
    config.write_text(yaml.safe_dump(tiny_config(epochs=1).to_dict()))
    base = ["run", str(config), "--data-root", str(fake_root), "--out", str(tmp_path / "run")]
    assert main([*base, "--nproc", "2"]) == 0
    assert capsys.readouterr().out.startswith("accuracy ")
    assert json.loads((tmp_path / "run" / "report.json").read_text())["metrics"]["accuracy"]

    for bad in ("0", "two"):
        with pytest.raises(SystemExit):
            main([*base, "--nproc", bad])
        assert "is not a number of processes; give 1 or more" in capsys.readouterr().err
    assert main([*base, "--nproc", "2", "--executor", "ray"]) == 2
    assert "does not combine with --executor ray" in capsys.readouterr().err
    if not torch.cuda.is_available():
        assert main([*base, "--nproc", "2", "--set", "training.device=cuda"]) == 2
        err = capsys.readouterr().err
        assert "needs one GPU per process, and 0 are visible" in err and err.count("\n") == 1
