"""Compare two trainings of one fold epoch by epoch: did a change of numerics (bfloat16, a
kernel, a layout) change how the model learns, or only how fast?

Each side is a fold folder of a run (``runs/<run>/seed=0/fold=0``: its history.csv once the
fold is finished, the history kept in training_state.pt while it still trains) or a
history CSV that ``--save`` wrote before. Over the epochs both sides have, prints per epoch
the training loss, validation accuracy and validation loss of each, then their means and on
how many epochs the second side's validation loss was higher.

    python benchmarks/compare_trajectories.py runs/cnn_transformer_ravdess_paper/seed=0/fold=0 \\
        runs/cnn_transformer_ravdess_paper_bf16/seed=0/fold=0 --epochs 26 \\
        --save results/cnn_transformer_ravdess_paper_bf16_check
    python benchmarks/compare_trajectories.py results/cnn_transformer_ravdess_paper_bf16_check/float32.csv \\
        results/cnn_transformer_ravdess_paper_bf16_check/bfloat16.csv
"""

from __future__ import annotations

import argparse
import csv
import statistics
from pathlib import Path

from fold_tables import md_row  # a sibling script: the same table cells
from serkit.rundir import FoldDir, read_history

KEYS = ("train_loss", "val_acc", "val_loss")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("first", type=Path, help="fold folder or history CSV (the reference)")
    parser.add_argument("second", type=Path, help="fold folder or history CSV (the change)")
    parser.add_argument("--epochs", type=int, default=None, help="compare only the first N epochs")
    parser.add_argument("--save", type=Path, default=None, metavar="DIR",
                        help="write the two histories compared as DIR/<label>.csv (the evidence to commit)")
    parser.add_argument("--labels", nargs=2, default=("float32", "bfloat16"), metavar=("FIRST", "SECOND"))
    args = parser.parse_args(argv)
    histories = [load(path, parser) for path in (args.first, args.second)]
    common = min(map(len, histories)) if args.epochs is None else min(args.epochs, *map(len, histories))
    if common == 0:
        parser.error("the two sides have no epoch in common")
    first, second = (history[:common] for history in histories)
    if args.save is not None:
        args.save.mkdir(parents=True, exist_ok=True)
        for label, history in zip(args.labels, (first, second)):
            save(args.save / f"{label}.csv", history)
    print(comparison(first, second, args.labels))
    return 0


def load(path: Path, parser) -> list[dict[str, float]]:
    """A history as rows of floats, from a CSV, a finished fold or a fold still training."""
    if path.is_file():
        return read_history(path)
    fold = FoldDir(path, 0, 0)
    if fold.history.is_file():
        return fold.read_history()
    if fold.training_state.is_file():
        import torch

        state = torch.load(fold.training_state, map_location="cpu", weights_only=False)
        return [{key: float(value) for key, value in row.items()} for row in state["tracker"]["history"]]
    parser.error(f"{path} holds no history.csv or training_state.pt: pass a fold folder "
                 "(runs/<run>/seed=S/fold=F) or a history CSV")


def save(path: Path, history: list[dict[str, float]]) -> None:
    columns = ["epoch", *KEYS]
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows({**row, "epoch": int(row["epoch"])} for row in history)


def comparison(first: list[dict], second: list[dict], labels) -> str:
    header = ["epoch"] + [f"{key} {label}" for key in KEYS for label in labels]
    lines = [md_row(header), md_row(["---"] * len(header))]
    for a, b in zip(first, second):
        lines.append(md_row([str(int(a["epoch"]))] + [f"{row[key]:.3f}" for key in KEYS for row in (a, b)]))
    lines.append(md_row(["mean"] + [f"{statistics.fmean(row[key] for row in side):.3f}"
                                    for key in KEYS for side in (first, second)]))
    higher = sum(b["val_loss"] > a["val_loss"] for a, b in zip(first, second))
    better = sum(b["val_acc"] > a["val_acc"] for a, b in zip(first, second))
    lines += ["", f"{labels[1]}'s validation loss is higher on {higher} of {len(first)} epochs; "
                  f"its validation accuracy is higher on {better} of {len(first)}."]
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
