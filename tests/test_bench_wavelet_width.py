"""benchmarks/bench_wavelet_width.py: the reference run's training time its projection scales."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import import_benchmark

ROOT = Path(__file__).resolve().parents[1]
width = import_benchmark("bench_wavelet_width")


def write_history(path: Path, walls: list[float]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = [f"{i + 1},0.5,0.5,0.5,0.5,{w},0" for i, w in enumerate(walls)]
    path.write_text("epoch,train_loss,train_acc,val_loss,val_acc,wall_s,selected\n" + "\n".join(rows) + "\n")


def test_training_hours_sums_every_epoch_of_every_fold(tmp_path):
    write_history(tmp_path / "seed=0" / "fold=0" / "history.csv", [1800.0, 900.0])
    write_history(tmp_path / "seed=0" / "fold=1" / "history.csv", [900.0])
    assert width.training_hours(tmp_path) == pytest.approx(1.0)


def test_the_reference_the_docs_scale_took_50_minutes():
    # docs/results.md scales "the reference run's 0.83 h of training" (fold_tables: 50 min).
    hours = width.training_hours(ROOT / "results" / "wavelet_emodb_full_si_stop_on_selection_bf16")
    assert round(hours, 2) == 0.83


def test_a_folder_without_histories_is_refused_by_name(tmp_path):
    with pytest.raises(SystemExit, match="no history.csv"):
        width.training_hours(tmp_path)
