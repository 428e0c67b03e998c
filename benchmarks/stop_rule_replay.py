"""Replay a run's histories under both early-stopping rules (and the lowest-loss choice): where
each would have stopped, which epoch it would have kept, and what that epoch scored.

`training.early_stopping_on` stops on the validation loss (``val_loss``: no lower loss for
``patience`` epochs) or on the choice itself (``selection``: the kept epoch has stood for
``patience`` judged epochs). Training is deterministic given the seed and the code, and the
rule changes nothing before it stops, so one run's history.csv holds every shorter run of
the same seed: replaying it tells exactly what the other rule would have done on the very
same trajectory, a comparison free of the run-to-run noise two separate runs would add.

A third row, ``lowest_loss``, replays the rule most papers state (the CNN–Transformer's
among them): stop on the validation loss and keep the epoch of lowest validation loss,
whatever the run's own ``select``.

Per fold and rule: the epoch trained last, the kept epoch, the kept epoch's validation
accuracy (averaged over ``select_window`` epochs, as the choice judged it; one epoch for
``lowest_loss``), and the test accuracy and UA at that epoch from the ``monitor_test``
columns (information only: nothing here chooses on them). "—" where the rule would have
trained past the history. The replay of the run's own rule must give the epochs the run
recorded; a line says so.

    python benchmarks/stop_rule_replay.py runs/wavelet_emodb_full_si_stop_on_selection
"""

from __future__ import annotations

import argparse
import math
import statistics
from pathlib import Path

from fold_tables import fold_names, md_row, pct  # a sibling script: the same names and cells
from serkit.rundir import FoldDir, RunDir, window_mean
from serkit.training.config import load_config
from serkit.training.fit import replay_choice

#: Each rule: (label, what it keeps: None for the run's own ``select`` and window, what it stops on).
RULES = (("val_loss", None, "val_loss"), ("selection", None, "selection"), ("lowest_loss", "val_loss", "val_loss"))
COLUMNS = ("fold", "rule", "trained", "kept", "val acc (window)", "test WA", "test UA")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path, help="run folders with history.csv per fold")
    args = parser.parse_args(argv)
    for path in args.runs:
        run = RunDir(path)
        if not run.has_folds():
            parser.error(f"{path} has no finished folds: is it a run folder of `serkit run`?")
        print(table(run))
        print()
    return 0


def table(run: RunDir) -> str:
    lines = [f"**{run.path.as_posix()}**", "", md_row(COLUMNS), md_row(["---"] * len(COLUMNS))]
    per_rule: dict[str, list[dict]] = {label: [] for label, _, _ in RULES}
    notes = []
    names = fold_names(run)
    for fold in run.all_folds():
        if not fold.finished or not fold.history.is_file():  # unfinished, or no epochs (scikit-learn)
            continue
        name = names[fold.seed][fold.fold]
        rows, note = replay_fold(fold)
        notes += [f"- {name}: {note}"] if note else []
        for rule, row in rows.items():
            per_rule[rule].append(row)
            lines.append(md_row([name, rule, *_cells(row)]))
    for rule in per_rule:
        done = [row for row in per_rule[rule] if row is not None]
        mean = {key: statistics.fmean(row[key] for row in done) for key in ("val", "wa", "ua")} if done else {}
        lines.append(md_row([f"mean of {len(done)} folds", rule, "", "",
                            *(pct(mean.get(key, math.nan)) for key in ("val", "wa", "ua"))]))
    return "\n".join(lines + ([""] + notes if notes else []))


def replay_fold(fold: FoldDir) -> tuple[dict[str, dict | None], str]:
    """Each rule's (trained, kept, scores) on this fold's history, and a note if replaying
    the fold's own rule does not give the epochs it recorded."""
    settings = load_config(fold.config).training
    history = fold.read_history()
    rows = {}
    for label, fixed_choice, stop_on in RULES:
        # The run's own choice, or a fixed one judged on its lone epoch.
        select, window = (settings.select, settings.select_window) if fixed_choice is None else (fixed_choice, 1)
        epochs = replay_choice(history, select=select, patience=settings.early_stopping_patience,
                               window=window, stop_on=stop_on, epochs=settings.epochs)
        rows[label] = None if epochs is None else _scores(history, *epochs, window)
    own, recorded = rows[settings.early_stopping_on], (len(history), int(fold.selected_row(history)["epoch"]))
    note = "" if own and (own["trained"], own["kept"]) == recorded else (
        f"replaying its own rule ({settings.early_stopping_on}) gives {own and (own['trained'], own['kept'])}, "
        f"the run recorded {recorded}: its history is not this code's trajectory")
    return rows, note


def _scores(history: list[dict], trained: int, kept: int, window: int) -> dict:
    row = next(r for r in history if int(r["epoch"]) == kept)
    return {"trained": trained, "kept": kept, "val": window_mean(history[:trained], kept, window, "val_acc"),
            "wa": row.get("test_acc", math.nan), "ua": row.get("test_uar", math.nan)}


def _cells(row: dict | None) -> list[str]:
    if row is None:
        return ["—"] * 5
    return [str(row["trained"]), str(row["kept"]), pct(row["val"]), pct(row["wa"]), pct(row["ua"])]


if __name__ == "__main__":
    raise SystemExit(main())
