"""Print a run's folds as one Markdown table: who was tested, WA, UA, the epoch, the oracle
and how training went.

Reads what `serkit run` and `serkit report` wrote (report.json; per seed folds.json; per
fold history.csv). One row per finished (seed, fold): the fold's name (the held-out
speakers joined by '+'; "seed N: " before it in a run of several seeds), its test clips,
WA and UA at the epoch chosen on validation, that epoch and how many were trained, the
best per-epoch test WA and UA (the ``monitor_test`` oracle: what choosing the epoch on the
test speakers, as the wavelet paper did, would have reported; never used for a choice),
the best training accuracy, how far validation accuracy moves from one epoch to the next
(median and largest change) and the median seconds per epoch, and the epoch of the lowest
validation loss (what early stopping on the loss counts its patience from). Then the mean
over folds and the report's pooled figures. The heading gives the epochs trained and the
minutes they took (the sum of history.csv's wall_s over the folds).

    python benchmarks/fold_tables.py results/wavelet_emodb_full_si
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
from pathlib import Path

from serkit.evaluation.report import fold_oracle
from serkit.rundir import RunDir
from serkit.splits import SplitPlan

COLUMNS = ("fold", "test clips", "WA", "UA", "chosen epoch / trained", "oracle WA", "oracle UA",
           "best train acc", "val acc change per epoch (median / max)", "median epoch s", "lowest val loss at epoch")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path, help="run folders, reported (a run of variants: --compare)")
    parser.add_argument("--compare", action="store_true",
                        help="one row per run (per variant of a run of variants), the first the reference")
    args = parser.parse_args(argv)
    runs = [variant for run in args.runs for variant in _variants_or_self(run)] if args.compare else args.runs
    for run in runs:
        if not (run / "report.json").is_file():
            parser.error(f"{run} has no report.json: run `serkit report {run}` once its folds are finished")
    if args.compare:
        print(comparison(runs))
        return 0
    for run in runs:
        print(table(run))
        print()
    return 0


COMPARE_COLUMNS = ("run", "folds", "WA", "UA", "mean fold UA", "mean oracle UA", "mean val acc at kept epoch",
                   "mean epochs trained", "median epoch s", "UA − first run's")


def comparison(paths: list[Path]) -> str:
    """One row per run: the pooled figures, the means over its folds and the cost."""
    lines = [md_row(COMPARE_COLUMNS), md_row(["---"] * len(COMPARE_COLUMNS))]
    reference = None
    for path in paths:
        report, rows = scored_folds(RunDir(path))
        ua = report["metrics"]["uar"]["mean"]
        reference = ua if reference is None else reference
        lines.append(md_row([path.as_posix(), str(len(rows)), pct(report["metrics"]["accuracy"]["mean"]), pct(ua),
                             pct(_mean(rows, "ua")), pct(_mean(rows, "oracle_ua")), pct(_mean(rows, "val_acc")),
                             f"{_mean(rows, 'epochs'):.1f}", f"{statistics.median(r['epoch_s'] for r in rows):.0f}",
                             f"{100 * (ua - reference):+.2f}"]))
    return "\n".join(lines)


def _mean(rows: list[dict], key: str) -> float:
    return statistics.fmean(row[key] for row in rows)


def _variants_or_self(path: Path) -> list[Path]:
    return [variant.path for variant in RunDir(path).variants()] or [path]


def table(path: Path) -> str:
    report, rows = scored_folds(RunDir(path))
    # The training time is the sum of the epochs' wall_s: what the folds cost, without the
    # pauses of a run that was interrupted and resumed.
    trained = f"{sum(r['epochs'] for r in rows)} epochs, {sum(r['train_s'] for r in rows) / 60:.0f} min of training"
    lines = [f"**{path.as_posix()}** ({trained})", "", md_row(COLUMNS), md_row(["---"] * len(COLUMNS))]
    lines += [md_row(_cells(row)) for row in rows]
    mean = {key: _mean(rows, key) for key in ("wa", "ua", "oracle_wa", "oracle_ua")}
    lines.append(md_row([f"mean of {len(rows)} folds", str(sum(r["n"] for r in rows)), pct(mean["wa"]),
                        pct(mean["ua"]), "", pct(mean["oracle_wa"]), pct(mean["oracle_ua"]), "", "", "", ""]))
    metrics = report["metrics"]
    lines.append(md_row(["pooled (report.json)", str(report["n_predictions"]), pct(metrics["accuracy"]["mean"]),
                        pct(metrics["uar"]["mean"]), "", "", "", "", "", "", ""]))
    return "\n".join(lines)


def scored_folds(run: RunDir) -> tuple[dict, list[dict]]:
    """report.json and one :func:`fold_row` per fold it scored."""
    report = json.loads(run.report.read_text())
    names = fold_names(run)
    # A run of several seeds repeats its fold names (a holdout is "holdout" in every seed).
    several_seeds = len({fold["seed"] for fold in report["per_fold"]}) > 1
    return report, [fold_row(run, fold, (f"seed {fold['seed']}: " if several_seeds else "")
                             + names[fold["seed"]][fold["fold"]]) for fold in report["per_fold"]]


def fold_names(run: RunDir) -> dict[int, list[str]]:
    """Per seed, its folds' names: the held-out speakers joined by '+' where the plan lists
    them (speaker_kfold numbers its folds 0, 1, …), the plan's fold names otherwise."""
    names = {}
    for seed in run.seeds():
        plan = SplitPlan.load(run.folds_plan(seed))
        tested = plan.params.get("test_speakers")
        names[seed] = ["+".join(tested[k]) if tested else fold.name for k, fold in enumerate(plan.folds)]
    return names


def fold_row(run: RunDir, scored: dict, name: str) -> dict:
    """One fold of report.json's ``per_fold`` with what its history says."""
    fold = run.fold(scored["seed"], scored["fold"])
    history = fold.read_history()
    oracle = fold_oracle(fold) or {}
    val = [e["val_acc"] for e in history if math.isfinite(e.get("val_acc", math.nan))]
    changes = [abs(b - a) for a, b in zip(val, val[1:])]
    walls = [e["wall_s"] for e in history if math.isfinite(e.get("wall_s", math.nan))]
    kept = fold.selected_row(history)  # history.csv read once
    return {"name": name, "n": scored["n"], "wa": scored["metrics"]["accuracy"], "ua": scored["metrics"]["uar"],
            "epoch": None if kept is None else int(kept["epoch"]), "epochs": len(history),
            "val_acc": math.nan if kept is None else kept["val_acc"],
            "oracle_wa": oracle.get("oracle_accuracy", math.nan), "oracle_ua": oracle.get("oracle_uar", math.nan),
            "train_acc": max((e["train_acc"] for e in history), default=math.nan),
            "val_change": (statistics.median(changes), max(changes)) if changes else (math.nan, math.nan),
            "epoch_s": statistics.median(walls) if walls else math.nan, "train_s": sum(walls),
            "loss_epoch": _lowest_loss_epoch(history)}


def _cells(row: dict) -> list[str]:
    return [row["name"], str(row["n"]), pct(row["wa"]), pct(row["ua"]), f"{row['epoch']} / {row['epochs']}",
            pct(row["oracle_wa"]), pct(row["oracle_ua"]), pct(row["train_acc"]),
            " / ".join(pct(v) for v in row["val_change"]),
            "—" if math.isnan(row["epoch_s"]) else f"{row['epoch_s']:.0f}",
            "—" if row["loss_epoch"] is None else str(row["loss_epoch"])]


def _lowest_loss_epoch(history: list[dict]) -> int | None:
    """The epoch early stopping on the validation loss counted from (the first of ties)."""
    losses = [(e["val_loss"], int(e["epoch"])) for e in history if math.isfinite(e.get("val_loss", math.nan))]
    return min(losses)[1] if losses else None


def md_row(cells) -> str:
    return "| " + " | ".join(cells) + " |"


def pct(value: float) -> str:
    return "—" if math.isnan(value) else f"{100 * value:.2f}"


if __name__ == "__main__":
    raise SystemExit(main())
