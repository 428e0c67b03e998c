"""SpeechNet under the paper's margins against CapsNet's: how fast each seed fits, and what it scores.

docs/models.md ("Why some seeds have not fitted") traces SpeechNet's seed spread to eq. 15's
equal margins (α1 = α3 = 0.5). This script compares two `serkit run` folders of the same
protocol, seed by seed: the first epoch at which training accuracy reaches 99 %, training
accuracy at the last epoch, test accuracy; then the median test accuracy, and accuracy and
PLR / PCLR over the seeds that diverged in neither run (the rule of `serkit report`'s warning:
the kept epoch's training accuracy more than DIVERGED_DROP under the best before it), so that a
seed that diverged at its last epoch does not hide the rest.

    python benchmarks/speechnet_margins.py results/speechnet_emodb_paper_protocol \
        results/speechnet_emodb_paper_protocol_margins_0.9_0.1
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path

import pandas as pd
from run_folds import fold_rows

from serkit.evaluation.report import diverged  # the rule of serkit report's warning
from serkit.evaluation.reproducibility import reproducibility_metrics
from serkit.rundir import RunDir


def first_fitted_epoch(history: list[dict], level: float = 0.99) -> int | None:
    """The first epoch whose training accuracy reaches ``level``, None if none does."""
    return next((int(row["epoch"]) for row in history if row["train_acc"] >= level), None)


def seed_rows(run_dir: Path) -> dict[int, dict]:
    """Per seed: test accuracy, last training accuracy, the first fitted epoch, whether it
    diverged, predictions."""
    run = RunDir(run_dir)
    rows = {}
    for row in fold_rows(run_dir):
        fold = run.fold(row["seed"], row["fold"])
        predictions = pd.read_csv(fold.predictions).sort_values("utt_id")
        history = fold.read_history()
        rows[row["seed"]] = {**row, "fitted_at": first_fitted_epoch(history), "diverged": diverged(history),
                             "predictions": predictions}
    return rows


def summary(rows: dict[int, dict], seeds: list[int]) -> str:
    """Mean test accuracy and PLR / PCLR over ``seeds``, in percent."""
    accuracy = statistics.mean(rows[s]["test_acc"] for s in seeds)
    truth = rows[seeds[0]]["predictions"]["truth"].tolist()
    metrics = reproducibility_metrics([rows[s]["predictions"]["prediction"].tolist() for s in seeds], truth)
    return f"{100 * accuracy:.2f} / PLR {100 * metrics['plr']:.2f} / PCLR {100 * metrics['pclr']:.2f}"


def compare(paper: Path, other: Path) -> str:
    """The per-seed table and one summary line per run, as Markdown."""
    runs = {paper.name: seed_rows(paper), other.name: seed_rows(other)}
    seeds = sorted(set.intersection(*(set(rows) for rows in runs.values())))
    lines = [f"| seed | {' | '.join(f'{n}: fitted at / last train acc / test acc' for n in runs)} |",
             "|---" * (len(runs) + 1) + "|"]
    for seed in seeds:
        cells = [f"{r[seed]['fitted_at'] or '—'} / {100 * r[seed]['last_train_acc']:.1f} / {100 * r[seed]['test_acc']:.2f}"
                 for r in runs.values()]
        lines.append(f"| {seed} | {' | '.join(cells)} |")
    kept = [s for s in seeds if not any(r[s]["diverged"] for r in runs.values())]
    for name, rows in runs.items():
        median = statistics.median(100 * rows[s]["test_acc"] for s in seeds)
        lines.append(f"{name}: median test accuracy {median:.2f} over {len(seeds)} seeds; "
                     f"over the {len(kept)} seeds that diverged in neither run ({', '.join(map(str, kept))}): "
                     f"accuracy {summary(rows, kept)}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paper", type=Path, help="run folder with the paper's margins")
    parser.add_argument("other", type=Path, help="run folder with other margins, same protocol and seeds")
    args = parser.parse_args(argv)
    for run in (args.paper, args.other):
        if not RunDir(run).report.exists():
            parser.exit(2, f"{run} has no report.json: run `serkit report {run}`\n")
    print(compare(args.paper, args.other))


if __name__ == "__main__":
    main()
