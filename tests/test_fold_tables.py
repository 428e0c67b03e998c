"""benchmarks/fold_tables.py: the per-fold tables docs/results.md quotes, from committed evidence."""

from __future__ import annotations

import contextlib
import functools
import io
from pathlib import Path

import pytest

from tests.conftest import import_benchmark

ROOT = Path(__file__).resolve().parents[1]
fold_tables = import_benchmark("fold_tables")


def test_the_committed_wavelet_table_gives_its_pooled_and_per_fold_figures():
    # docs/results.md quotes these from results/wavelet_emodb_full_si.
    text = fold_tables.table(ROOT / "results" / "wavelet_emodb_full_si")
    lines = text.splitlines()
    assert lines[-1].startswith("| pooled (report.json) | 535 | 65.98 | 63.85 |")
    first = next(line for line in lines if line.startswith("| emodb-13+emodb-15 "))
    assert first.split(" | ")[1:6] == ["117", "66.67", "65.08", "24 / 32", "74.36"]
    assert first.endswith(" | 22 |")  # the lowest validation loss: early stopping's epoch 32 - 10


def test_an_unfinished_run_is_named_with_what_to_do(tmp_path, capsys):
    (tmp_path / "seed=0" / "fold=0").mkdir(parents=True)
    with pytest.raises(SystemExit) as stop:
        fold_tables.main([str(tmp_path)])
    assert stop.value.code == 2
    assert f"{tmp_path} has no report.json: run `serkit report {tmp_path}`" in capsys.readouterr().err


def test_the_committed_speaker_dependent_run_gives_the_figures_docs_quote():
    # docs/results.md, "EmoDB, speaker dependent": the chosen recipe's table.
    lines = fold_tables.table(ROOT / "results" / "wavelet_emodb_paper_sd_chosen").splitlines()
    assert lines[-1].startswith("| pooled (report.json) | 535 | 80.19 | 78.35 |")
    assert any(line.startswith("| 0 | 179 | 82.12 | 79.84 | 27 / 38 | 83.24 | 81.78 |") for line in lines)


def test_compare_gives_one_row_per_run_and_per_variant_against_the_first(capsys):
    bf16 = ROOT / "results" / "wavelet_emodb_full_si_stop_on_selection_bf16"
    fp32 = ROOT / "results" / "wavelet_emodb_full_si_stop_on_selection"
    variants = ROOT / "results" / "speechnet_emodb_ablation"
    assert fold_tables.main(["--compare", str(bf16), str(fp32), str(variants)]) == 0
    rows = [line.split(" | ") for line in capsys.readouterr().out.splitlines()[2:]]
    assert len(rows) == 2 + len(list(variants.glob("*/report.json")))
    # Pooled WA, UA, mean fold UA, mean oracle UA, mean val acc at the kept epoch, epochs, s.
    assert rows[0][1:10] == ["5", "74.21", "73.08", "72.02", "75.32", "79.06", "42.8", "14", "+0.00 |"]
    assert rows[1][1:4] == ["5", "73.27", "71.76"] and rows[1][-1] == "-1.32 |"
    assert rows[2][0].endswith("speechnet_emodb_ablation/without_information_coding")


def test_numbered_folds_are_named_by_their_test_speakers():
    # docs/results.md, "RAVDESS, speaker independent": speaker_kfold numbers its folds.
    lines = fold_tables.table(ROOT / "results" / "wavelet_ravdess_full_si_bf16").splitlines()
    assert lines[-1].startswith("| pooled (report.json) | 1440 | 52.36 | 52.08 |")
    assert any(line.startswith("| ravdess-02+ravdess-13+ravdess-20+ravdess-21 | 240 | 52.08 | 54.30 | 19 / 22 |")
               for line in lines)
    assert any(line.startswith("| mean of 6 folds | 1440 | 52.36 | 52.08 |  | 57.01 | 56.97 |") for line in lines)


@pytest.mark.parametrize("variant, row", [
    ("logmel", ["5", "73.46", "73.51", "73.80", "76.45", "75.26", "41.6", "13", "+0.43 |"]),
    ("filters_128", ["5", "76.26", "74.72", "74.90", "77.97", "79.23", "38.6", "35", "+1.64 |"]),
])
def test_the_committed_ablations_give_the_rows_docs_quote(variant, row):
    # docs/results.md, "Ablations on EmoDB": each variant against its reference.
    rows = ablation_comparison()
    assert next(r for r in rows if r[0].endswith(f"wavelet_emodb_ablation_bf16/{variant}"))[1:10] == row


@functools.cache
def ablation_comparison() -> list[list[str]]:
    """The cells of `fold_tables.py --compare REFERENCE ABLATIONS`, computed once for every variant."""
    runs = [ROOT / "results" / "wavelet_emodb_full_si_stop_on_selection_bf16", ROOT / "results" / "wavelet_emodb_ablation_bf16"]
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert fold_tables.main(["--compare", *map(str, runs)]) == 0
    return [line.split(" | ") for line in out.getvalue().splitlines()[2:]]


def test_the_heading_gives_the_epochs_and_training_minutes_docs_quote():
    # docs/results.md and docs/models.md quote these costs: the sum of history.csv's wall_s.
    heading = fold_tables.table(ROOT / "results" / "wavelet_ravdess_full_si_bf16").splitlines()[0]
    assert heading == "**" + (ROOT / "results" / "wavelet_ravdess_full_si_bf16").as_posix() + "** (149 epochs, 117 min of training)"
    heading = fold_tables.table(ROOT / "results" / "wavelet_emodb_ablation_bf16" / "logmel").splitlines()[0]
    assert heading.endswith("(208 epochs, 44 min of training)")
    heading = fold_tables.table(ROOT / "results" / "wavelet_emodb_ablation_bf16" / "filters_128").splitlines()[0]
    assert heading.endswith("(193 epochs, 118 min of training)")


@pytest.mark.parametrize("name, heading, pooled, mean, fold", [
    # docs/results.md, "RAVDESS, speaker independent, every actor tested once (7 classes)".
    ("wavelet_ravdess_full_si_7class_bf16_stop_on_selection", "(267 epochs, 171 min of training)",
     "| pooled (report.json) | 1248 | 62.10 | 61.61 |",
     "| mean of 6 folds | 1248 | 62.10 | 61.61 |  | 64.34 | 64.29 |",
     "| ravdess-09+ravdess-10+ravdess-22+ravdess-23 | 208 | 54.81 | 54.02 | 17 / 29 |"),
    # The same section with 8 classes: "The same folds, stopping on the choice".
    ("wavelet_ravdess_full_si_bf16_stop_on_selection", "(264 epochs, 182 min of training)",
     "| pooled (report.json) | 1440 | 57.78 | 57.29 |",
     "| mean of 6 folds | 1440 | 57.78 | 57.29 |  | 61.67 | 61.33 |",
     "| ravdess-09+ravdess-10+ravdess-22+ravdess-23 | 240 | 56.25 | 55.08 | 40 / 50 | 57.08 | 56.64 | 100.00 |"),
])
def test_the_committed_ravdess_runs_stopping_on_the_choice_give_the_figures_docs_quote(name, heading, pooled, mean, fold):
    lines = fold_tables.table(ROOT / "results" / name).splitlines()
    assert lines[0].endswith(heading)
    assert lines[-1].startswith(pooled)
    assert any(line.startswith(mean) for line in lines)
    assert any(line.startswith(fold) for line in lines)


def test_a_run_of_several_seeds_names_each_row_by_its_seed():
    # docs/results.md, CNN–Transformer: one holdout per seed, the rows told apart by seed.
    lines = fold_tables.table(ROOT / "results" / "cnn_transformer_ravdess_paper").splitlines()
    assert any(line.startswith("| seed 0: holdout | 143 | 69.23 | 69.28 | 52 / 102 |") for line in lines)
    assert any(line.startswith("| seed 1: holdout | 143 | 76.22 | 77.04 | 115 / 165 |") for line in lines)
    assert any(line.startswith("| seed 2: holdout | 143 | 69.23 | 68.68 | 23 / 73 |") for line in lines)
    assert lines[-1].startswith("| pooled (report.json) | 429 | 71.56 | 71.67 |")
