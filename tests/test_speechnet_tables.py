"""benchmarks/speechnet_tables.py: the paired per-seed change that docs/results.md's Table 2 quotes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import import_benchmark


@pytest.fixture(scope="module")
def tables():
    return import_benchmark("speechnet_tables")


def report(accuracies: dict[int, float]) -> dict:
    return {"metrics": {"accuracy": {"mean": sum(accuracies.values()) / len(accuracies), "n": len(accuracies)}},
            "per_fold": [{"seed": s, "fold": 0, "metrics": {"accuracy": a}} for s, a in accuracies.items()]}


def test_paired_change_pairs_seeds_and_counts_ups_and_downs(tables):
    full = report({0: 0.80, 1: 0.70, 2: 0.90})
    variant = report({0: 0.85, 1: 0.60, 2: 0.90, 3: 0.10})  # seed 3 has no pair: left out
    # (+5 - 10 + 0) / 3 seeds
    # scipy's exact two-sided signed-rank p of the two non-zero pairs (+5, -10) is 1.0
    assert tables.paired_change(variant, full) == "-1.67 (1 up, 1 down, p = 1.00)"
    ten_down = report({s: 0.5 - 0.01 * s for s in range(10)})
    ten = report({s: 0.6 for s in range(10)})
    assert tables.paired_change(ten_down, ten).endswith("(0 up, 10 down, p = 0.00)")
    assert tables.paired_change(report({7: 0.5}), full) == "—"


def test_full_model_row_comes_first_from_the_paper_protocol_run(tables, tmp_path):
    def write(path: Path, data: dict) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(data))

    write(tmp_path / tables.FULL_MODEL_RUN / "report.json", report({0: 0.8}))
    write(tmp_path / "speechnet_emodb_ablation" / "summary.json", {"variants": {"b": {}, "a": {}}})
    for name, acc in (("a", 0.5), ("b", 0.6)):
        write(tmp_path / "speechnet_emodb_ablation" / name / "report.json", report({0: acc}))
    reports = tables.with_full_model(tmp_path, "speechnet_emodb_ablation", "full")
    assert list(reports) == ["full", "b", "a"]  # the full model, then the config's order
    assert tables.seed_accuracies(reports["a"]) == {0: 50.0}


def test_the_margins_diagnostic_rows_come_from_the_committed_runs(tables, capsys):
    # docs/results.md quotes these rows ("Where we stand", the LOSO section).
    results = Path(__file__).resolve().parents[1] / "results"
    tables.table3(results, "paper_protocol_margins_0.9_0.1")
    tables.loso(results)
    out = capsys.readouterr().out
    assert "| savee | 10 | 96 | 75.10 ± 2.33 |" in out
    assert "| casia | 10 | 240 | 83.12 ± 2.86 |" in out
    assert "| emodb, CapsNet's margins (diagnostic) | 10 | 62.75 | 65.42 | 63.21 |" in out
    assert "savee, CapsNet's margins" not in out  # not run: no row
