"""benchmarks/serct_tables.py: the first-epochs table reads each epoch's accuracies in order."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import import_benchmark

serct_tables = import_benchmark("serct_tables")


def _run_with_history(root: Path, rows: list[tuple[float, float]]) -> Path:
    fold = root / "seed=3" / "fold=0"
    fold.mkdir(parents=True)
    lines = ["epoch,train_acc,val_acc"] + [f"{i + 1},{t},{v}" for i, (t, v) in enumerate(rows)]
    (fold / "history.csv").write_text("\n".join(lines) + "\n")
    return root


def test_first_epochs_row_gives_validation_then_training_accuracy_of_the_first_n_epochs(tmp_path):
    run = _run_with_history(tmp_path / "run", [(0.40, 0.66), (0.56, 0.58), (0.55, 0.32), (0.41, 0.50)])
    row = serct_tables.first_epochs_row(run, 3)
    assert row == f"| {run.as_posix()} | 0.66 0.58 0.32 | 0.40 0.56 0.55 |"


def test_first_epochs_row_of_a_shorter_history_gives_what_there_is(tmp_path):
    run = _run_with_history(tmp_path / "run", [(0.30, 0.48)])
    assert serct_tables.first_epochs_row(run, 5).endswith("| 0.48 | 0.30 |")
