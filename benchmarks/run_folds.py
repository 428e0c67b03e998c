"""Per-fold training facts of a `serkit run` folder, as a Markdown table.

For each seed and fold: the epochs run, the epoch chosen on validation data, training
accuracy at the last epoch, validation accuracy at the chosen epoch and at its best epoch
(from history.csv: how much a choice on validation accuracy could have changed), and test
accuracy and UA (from report.json). The table scripts print it under their results so
that statements such as "every seed chose epoch 11 or 12" come from a command.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from serkit.rundir import RunDir


def pct(value: dict | float | None) -> str:
    """A fraction as a percentage; a report metric ``{mean, std, n}`` as ``mean ± std`` over
    runs, without a spread for one run (or folds pooled into one value)."""
    if value is None:
        return "—"
    if not isinstance(value, dict):
        return f"{100 * value:.2f}"
    if value.get("n", 1) < 2:
        return f"{100 * value['mean']:.2f}"
    return f"{100 * value['mean']:.2f} ± {100 * (value.get('std') or 0):.2f}"


def fold_rows(run_dir: Path) -> list[dict]:
    """One dict per (seed, fold) of ``run_dir`` that has both a history and a report entry
    (none before the run's report.json exists)."""
    run = RunDir(run_dir)
    if not run.report.exists():
        return []
    report = json.loads(run.report.read_text())
    rows = []
    for entry in report.get("per_fold") or []:
        fold = run.fold(entry["seed"], entry["fold"])
        epochs = fold.read_history()
        if not epochs:
            continue
        chosen = fold.selected_row() or epochs[-1]
        rows.append({
            "seed": entry["seed"], "fold": entry["fold"], "epochs": len(epochs),
            "chosen_epoch": int(chosen["epoch"]), "last_train_acc": epochs[-1]["train_acc"],
            "chosen_val_acc": chosen["val_acc"], "best_val_acc": max(e["val_acc"] for e in epochs),
            "test_acc": entry["metrics"]["accuracy"], "test_ua": entry["metrics"]["uar"],
        })
    return rows


def mean_chosen_val_acc(rows: list[dict]) -> float:
    """Mean validation accuracy at the chosen epochs, in percent."""
    return 100 * sum(r["chosen_val_acc"] for r in rows) / len(rows)


def print_fold_table(run_dir: Path, heading: str = "") -> None:
    """``heading`` (if any) and the table, or nothing when the run has no finished folds."""
    rows = fold_rows(run_dir)
    if not rows:
        return
    if heading:
        print(heading)
    print("| seed | fold | epochs run | chosen epoch | train acc (last epoch) | val acc (chosen) | val acc (best epoch) "
          "| test acc | test UA |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['seed']} | {r['fold']} | {r['epochs']} | {r['chosen_epoch']} | {100 * r['last_train_acc']:.1f} | "
              f"{100 * r['chosen_val_acc']:.1f} | {100 * r['best_val_acc']:.1f} | {100 * r['test_acc']:.2f} | "
              f"{100 * r['test_ua']:.2f} |")
    if not all(math.isnan(r["chosen_val_acc"]) for r in rows):  # a run without a validation side has none
        print(f"\nmean validation accuracy at the chosen epoch: {mean_chosen_val_acc(rows):.2f}\n")
    else:
        print()
