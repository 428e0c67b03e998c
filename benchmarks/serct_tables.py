"""Print SERCT runs as one Markdown table: WA, UA, WF1, the oracle and the epoch time.

Reads what `serkit run configs/serct/...` wrote (report.json, and per fold history.csv and
predictions.csv). For each run folder: WA, UA and WF1 of its report, the best test epoch
(the ``monitor_test`` oracle, never used for a choice), the kept epoch and its validation
accuracy, the median seconds per epoch of its history, its test errors, and how many of
its answers differ from the first folder's (the answers of two models on the same test
clips; blank where the clips are not the same). With ``--first-epochs N``, a second table
gives each run's validation and training accuracy after each of its first N epochs (how
smoothly training starts; the depth sweep's early setbacks).

    python benchmarks/serct_tables.py results/serct_tess_paper_small \\
        results/serct_tess_ablation_small/{without_transformer,without_cnn,vanilla_transformer} \\
        results/serct_tess_baseline_{cnn,svm,lstm,mlp,cnn_bilstm}
    python benchmarks/serct_tables.py --first-epochs 5 results/serct_tess_depth_small/layers_*
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import statistics
from pathlib import Path

from serkit.evaluation.report import fold_oracle
from serkit.rundir import RunDir


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path, help="run folders (one variant each)")
    parser.add_argument("--first-epochs", type=int, default=0, metavar="N",
                        help="also print validation and training accuracy after each of the first N epochs")
    args = parser.parse_args(argv)
    reference = answers(args.runs[0])
    print("| run | WA | UA | WF1 | oracle WA | kept epoch / val acc | median epoch s | test errors "
          "| answers unlike the first |")
    print("|---|---|---|---|---|---|---|---|---|")
    for run in args.runs:
        print(row(run, reference))
    if args.first_epochs > 0:
        print()
        print(f"| run | validation accuracy, epochs 1-{args.first_epochs} | training accuracy, epochs 1-{args.first_epochs} |")
        print("|---|---|---|")
        for run in args.runs:
            print(first_epochs_row(run, args.first_epochs))
    return 0


def first_epochs_row(run: Path, n: int) -> str:
    """Validation and training accuracy after each of the first ``n`` epochs (first fold)."""
    rows = next(RunDir(run).all_folds()).read_history()[:n]
    cells = [" ".join(f"{r[key]:.2f}" for r in rows) for key in ("val_acc", "train_acc")]
    return "| " + " | ".join([run.as_posix(), *cells]) + " |"


def row(run: Path, reference: dict[str, tuple[str, str]]) -> str:
    metrics = json.loads((run / "report.json").read_text())["per_seed"][0]["metrics"]
    folds = list(RunDir(run).all_folds())
    oracles = [o["oracle_accuracy"] for o in map(fold_oracle, folds) if o is not None]
    oracle = max(oracles, default=math.nan)
    histories = [fold.read_history() for fold in folds]
    walls = [e["wall_s"] for rows in histories for e in rows if math.isfinite(e.get("wall_s", math.nan))]
    kept = [fold.selected_row(rows) for fold, rows in zip(folds, histories)]
    kept_cell = ", ".join(f"{int(r['epoch'])} / {100 * r['val_acc']:.1f}" for r in kept if r is not None) or "—"
    mine = answers(run)
    errors = sum(predicted != truth for truth, predicted in mine.values())
    differ = (str(sum(mine[u][1] != reference[u][1] for u in mine)) if mine.keys() == reference.keys() else "")
    cells = [run.as_posix(), *(f"{100 * metrics[k]:.2f}" for k in ("accuracy", "uar", "weighted_f1")),
             "—" if math.isnan(oracle) else f"{100 * oracle:.2f}", kept_cell,
             f"{statistics.median(walls):.0f}" if walls else "—", f"{errors} of {len(mine)}", differ]
    return "| " + " | ".join(cells) + " |"


def answers(run: Path) -> dict[str, tuple[str, str]]:
    """utterance id → (truth, prediction), over every fold of ``run``."""
    out = {}
    for fold in RunDir(run).all_folds():
        with open(fold.predictions, newline="") as f:
            out.update({r["utt_id"]: (r["truth"], r["prediction"]) for r in csv.DictReader(f)})
    return out


if __name__ == "__main__":
    raise SystemExit(main())
