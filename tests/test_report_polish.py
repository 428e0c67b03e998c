"""The committed evidence under results/ is what `serkit report` writes today, and its
report.md files hold no meaningless rows (no "± std" of a single run, no "n/a" rows)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from serkit.evaluation import build_report

RESULTS = Path(__file__).resolve().parents[1] / "results"
REPORTS = sorted(RESULTS.rglob("report.json"))


@pytest.mark.parametrize("name", [
    "speechnet_savee_paper_protocol",   # ten seeds: std and reproducibility
    "default-model/loso/encoder_linear",  # one seed, seven corpora, many speakers
])
def test_committed_reports_are_what_serkit_report_writes(tmp_path, name):
    run = RESULTS / name
    if not (run / "seed=0").is_dir():
        pytest.skip(f"{run} is not in this checkout")
    build_report(run, out_dir=tmp_path)
    for file_name in ("report.md", "report.json"):
        assert (tmp_path / file_name).read_text() == (run / file_name).read_text(), (
            f"results/{name}/{file_name} is out of date: run `serkit report results/{name}`")


@pytest.mark.parametrize("path", REPORTS, ids=lambda p: p.parent.relative_to(RESULTS).as_posix())
def test_committed_report_markdown_has_no_meaningless_rows(path):
    report = json.loads(path.read_text())
    markdown = (path.parent / "report.md").read_text()
    assert "n/a" not in markdown
    if report["n_runs"] == 1:
        assert "±" not in markdown
        assert "## Reproducibility" not in markdown and "Reproducibility (GLR … PCLR) is left out" in markdown
    elif report["reproducibility"].get("plr") is None:
        # Seeds with splits of their own (random 90/10) share no test utterance: said, not tabled.
        assert report["reproducibility"]["samples"] == 0
        assert "## Reproducibility" not in markdown
        assert "Reproducibility (GLR … PCLR) is left out: no utterance was tested in every seed." in markdown
    else:
        assert "## Reproducibility" in markdown
    # A warning in the JSON is one in the markdown, and the other way round.
    assert ("**Warning:**" in markdown) == bool(report["warnings"])
