"""benchmarks/speechnet_margins.py: the margins comparison docs/models.md quotes, from committed evidence."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import import_benchmark

ROOT = Path(__file__).resolve().parents[1]
margins = import_benchmark("speechnet_margins")
PAPER = ROOT / "results" / "speechnet_emodb_paper_protocol"
CAPSNET = ROOT / "results" / "speechnet_emodb_paper_protocol_margins_0.9_0.1"


def test_the_first_fitted_epoch_is_the_first_at_the_level():
    history = [{"epoch": 1, "train_acc": 0.5}, {"epoch": 2, "train_acc": 0.99}, {"epoch": 3, "train_acc": 1.0}]
    assert margins.first_fitted_epoch(history) == 2
    assert margins.first_fitted_epoch(history, level=1.0) == 3
    assert margins.first_fitted_epoch(history[:1]) is None


def test_a_seed_diverged_only_past_the_drop():
    def history(*accuracies):
        return [{"epoch": e, "train_acc": a} for e, a in enumerate(accuracies, start=1)]

    assert margins.diverged(history(0.5, 1.0, 0.729))
    assert not margins.diverged(history(0.5, 1.0, 0.96))
    assert not margins.diverged(history(0.5, 0.9, 0.9))
    assert not margins.diverged(history(0.5, 0.3))  # a drop of exactly DIVERGED_DROP (0.2) is not past it


def test_the_committed_runs_give_the_figures_docs_quote():
    lines = margins.compare(PAPER, CAPSNET).splitlines()
    assert "| 5 | — / 95.8 / 78.50 | 46 / 72.9 / 33.64 |" in lines
    assert "| 4 | — / 85.5 / 74.77 | 57 / 100.0 / 85.98 |" in lines
    kept = "over the 9 seeds that diverged in neither run (0, 1, 2, 3, 4, 6, 7, 8, 9): accuracy"
    assert lines[-2] == (f"speechnet_emodb_paper_protocol: median test accuracy 81.78 over 10 seeds; {kept} "
                         "81.93 / PLR 56.07 / PCLR 55.14")
    assert lines[-1] == (f"speechnet_emodb_paper_protocol_margins_0.9_0.1: median test accuracy 85.51 over 10 seeds; "
                         f"{kept} 86.29 / PLR 60.75 / PCLR 59.81")


def test_a_run_without_a_report_is_named_with_what_to_do(tmp_path, capsys):
    with pytest.raises(SystemExit) as stop:
        margins.main([str(PAPER), str(tmp_path)])
    assert stop.value.code == 2
    assert f"{tmp_path} has no report.json: run `serkit report {tmp_path}`" in capsys.readouterr().err


@pytest.mark.parametrize(("corpus", "paper_line", "capsnet_line"), [
    ("savee", "median test accuracy 67.19 over 10 seeds", "accuracy 75.10 / PLR 43.75 / PCLR 42.71"),
    ("casia", "median test accuracy 77.71 over 10 seeds", "accuracy 83.12 / PLR 55.83 / PCLR 54.58"),
])
def test_savee_and_casia_give_the_figures_docs_quote(corpus, paper_line, capsnet_line):
    lines = margins.compare(ROOT / "results" / f"speechnet_{corpus}_paper_protocol",
                            ROOT / "results" / f"speechnet_{corpus}_paper_protocol_margins_0.9_0.1").splitlines()
    assert paper_line in lines[-2]
    assert lines[-1].endswith(capsnet_line)
    assert "over the 10 seeds that diverged in neither run" in lines[-1]
