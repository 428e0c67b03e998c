"""Print a run's folds as one Markdown table: who was tested, WA, UA, the epoch and the oracle.

Reads what `serkit run` wrote (report.json; per fold folds.json, history.csv and
predictions.csv). One row per (seed, fold): the held-out speakers (or the fold's name),
the test clips, WA and UA at the epoch chosen on validation, that epoch and how many were
trained, the best per-epoch test WA and UA (the ``monitor_test`` oracle: what choosing
the epoch on the test speakers, as the wavelet paper did, would have reported; never used
for a choice) and the median seconds per epoch. Then the mean over folds and the pooled
figures of the report.

    python benchmarks/fold_tables.py results/wavelet_emodb_full_si
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import statistics
from pathlib import Path

from serkit.evaluation.metrics import classification_metrics
from serkit.rundir import FoldDir, RunDir

HEADER = ("| fold (test speakers) | test clips | WA | UA | chosen epoch / trained | oracle WA | oracle UA "
          "| median epoch s |")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path, help="run folders (one variant each)")
    args = parser.parse_args(argv)
    for run in args.runs:
        print(table(run))
        print()
    return 0


def table(run: Path) -> str:
    rows = [fold_row(fold, _fold_names(RunDir(run), fold.seed)) for fold in RunDir(run).all_folds()
            if fold.finished]
    lines = [f"**{run.as_posix()}**", "", HEADER, "|---|---|---|---|---|---|---|---|"]
    lines += ["| " + " | ".join(_cells(row)) + " |" for row in rows]
    if rows:
        mean = {key: statistics.fmean(row[key] for row in rows) for key in ("wa", "ua", "oracle_wa", "oracle_ua")}
        lines.append(f"| mean of {len(rows)} folds | {sum(r['n'] for r in rows)} | {_pct(mean['wa'])} | "
                     f"{_pct(mean['ua'])} | | {_pct(mean['oracle_wa'])} | {_pct(mean['oracle_ua'])} | |")
    report = run / "report.json"
    if report.is_file():
        metrics = json.loads(report.read_text())["metrics"]
        lines.append(f"| pooled (report.json) | | {_pct(_mean(metrics['accuracy']))} | "
                     f"{_pct(_mean(metrics['uar']))} | | | | |")
    return "\n".join(lines)


def fold_row(fold: FoldDir, names: dict[int, str]) -> dict:
    with open(fold.predictions, newline="") as f:
        rows = list(csv.DictReader(f))
    metrics = classification_metrics([r["truth"] for r in rows], [r["prediction"] for r in rows])
    history = fold.read_history()
    walls = [e["wall_s"] for e in history if math.isfinite(e.get("wall_s", math.nan))]
    return {"name": names.get(fold.fold, f"fold {fold.fold}"), "seed": fold.seed, "n": len(rows),
            "wa": metrics["accuracy"], "ua": metrics["uar"], "epoch": fold.selected_epoch(),
            "epochs": len(history),
            "oracle_wa": max((e.get("test_acc", math.nan) for e in history), default=math.nan),
            "oracle_ua": max((e.get("test_uar", math.nan) for e in history), default=math.nan),
            "epoch_s": statistics.median(walls) if walls else math.nan}


def _fold_names(run: RunDir, seed: int) -> dict[int, str]:
    """fold index → its name in folds.json (the held-out speakers joined by '+')."""
    plan = run.folds_plan(seed)
    if not plan.is_file():
        return {}
    return {k: fold.get("name", f"fold {k}") for k, fold in enumerate(json.loads(plan.read_text())["folds"])}


def _cells(row: dict) -> list[str]:
    return [row["name"], str(row["n"]), _pct(row["wa"]), _pct(row["ua"]), f"{row['epoch']} / {row['epochs']}",
            _pct(row["oracle_wa"]), _pct(row["oracle_ua"]),
            "—" if math.isnan(row["epoch_s"]) else f"{row['epoch_s']:.0f}"]


def _mean(value) -> float:
    """A report metric: a number, or a {mean, std, n} summary over seeds."""
    return value["mean"] if isinstance(value, dict) else float(value)


def _pct(value: float) -> str:
    return "—" if value is None or math.isnan(value) else f"{100 * value:.2f}"


if __name__ == "__main__":
    raise SystemExit(main())
