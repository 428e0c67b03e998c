"""benchmarks/compare_trajectories.py: the float32/bfloat16 check docs/models.md quotes."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
import torch

from tests.conftest import import_benchmark

ROOT = Path(__file__).resolve().parents[1]
CHECK = ROOT / "results" / "cnn_transformer_ravdess_paper_bf16_check"
compare_trajectories = import_benchmark("compare_trajectories")


def test_the_committed_check_gives_the_figures_docs_quote(capsys):
    assert compare_trajectories.main([str(CHECK / "float32.csv"), str(CHECK / "bfloat16.csv")]) == 0
    lines = capsys.readouterr().out.splitlines()
    # Means over the 26 epochs: training loss, validation accuracy, validation loss (each pair).
    assert lines[28] == "| mean | 1.222 | 1.209 | 0.456 | 0.439 | 1.808 | 1.962 |"
    assert lines[-1] == ("bfloat16's validation loss is higher on 25 of 26 epochs; "
                         "its validation accuracy is higher on 4 of 26.")


def test_a_fold_still_training_is_read_from_its_state_and_cut_to_the_common_epochs(tmp_path, capsys):
    history = [{"epoch": e, "train_loss": 1.0 / e, "train_acc": 0.5, "val_loss": 2.0 - e / 10, "val_acc": e / 10}
               for e in (1, 2, 3)]
    training = tmp_path / "run" / "seed=0" / "fold=0"
    training.mkdir(parents=True)
    torch.save({"tracker": {"history": history}}, training / "training_state.pt")
    finished = tmp_path / "done.csv"
    with open(finished, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=["epoch", "train_loss", "val_acc", "val_loss"])
        writer.writeheader()
        writer.writerows([{"epoch": 1, "train_loss": 1.0, "val_acc": 0.2, "val_loss": 1.8},
                          {"epoch": 2, "train_loss": 0.5, "val_acc": 0.1, "val_loss": 1.9}])
    save = tmp_path / "evidence"
    assert compare_trajectories.main([str(training), str(finished), "--save", str(save)]) == 0
    out = capsys.readouterr().out
    assert "| 2 | 0.500 | 0.500 | 0.200 | 0.100 | 1.800 | 1.900 |" in out
    assert "| 3 |" not in out and "loss is higher on 1 of 2 epochs" in out and "accuracy is higher on 1 of 2." in out
    assert [row["epoch"] for row in csv.DictReader(open(save / "float32.csv"))] == ["1", "2"]


def test_a_folder_without_history_is_named_with_what_to_pass(tmp_path, capsys):
    with pytest.raises(SystemExit) as stop:
        compare_trajectories.main([str(tmp_path), str(tmp_path)])
    assert stop.value.code == 2 and "holds no history.csv or training_state.pt" in capsys.readouterr().err
