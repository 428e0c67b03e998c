"""benchmarks/run_folds.py: the per-fold facts docs/results.md quotes (chosen and best validation epoch)."""

from __future__ import annotations

import json

import pytest

from serkit.rundir import RunDir
from tests.conftest import import_benchmark


@pytest.fixture(scope="module")
def run_folds():
    return import_benchmark("run_folds")


def test_fold_rows_report_the_chosen_and_the_best_validation_epoch(run_folds, tmp_path):
    run = RunDir(tmp_path)
    history = [{"epoch": e, "train_loss": 1.0 / e, "train_acc": 0.5 + 0.1 * e, "val_loss": loss, "val_acc": acc,
                "wall_s": 1.0} for e, (loss, acc) in enumerate([(1.0, 0.5), (0.8, 0.6), (0.9, 0.7), (1.2, 0.65)], 1)]
    run.fold(0, 0).write_history(history, selected_epoch=2)  # lowest validation loss, not the best accuracy
    run.report.write_text(json.dumps({"per_fold": [
        {"seed": 0, "fold": 0, "metrics": {"accuracy": 0.55, "uar": 0.5}}]}))
    [row] = run_folds.fold_rows(tmp_path)
    assert (row["epochs"], row["chosen_epoch"]) == (4, 2)
    assert row["chosen_val_acc"] == pytest.approx(0.6)
    assert row["best_val_acc"] == pytest.approx(0.7)  # epoch 3, which the loss did not choose
    assert row["last_train_acc"] == pytest.approx(0.9)
    assert (row["test_acc"], row["test_ua"]) == (0.55, 0.5)


def test_a_run_without_a_report_has_no_rows(run_folds, tmp_path):
    assert run_folds.fold_rows(tmp_path) == []
