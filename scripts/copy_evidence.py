"""Copy a run folder's evidence into ``results/``: everything but weights and training state.

Usage:
    python scripts/copy_evidence.py RUN [DEST]

``DEST`` defaults to the run's path below ``runs/`` put below ``results/`` (``runs/x`` →
``results/x``, ``runs/ablation/logmel`` → ``results/ablation/logmel``). What it does:

* copies every file of the run (configs, protocol, split plans, per-fold history.csv,
  predictions.csv, scaler and calibration files, summaries) except the weights and the
  resumable training state (``*.pt``, ``*.joblib``, ``*.onnx``), which the evidence never
  holds (DEVELOPERS.md);
* copies finished folds only (a fold folder with its predictions.csv): an unfinished fold's
  history would read as a finished fold's, so it is named and left out, and so is a seed
  with no finished fold;
* never deletes in ``DEST``: each file is added or replaced on its own, atomically, so
  copying one variant of an ablation keeps the variants already in ``results/``, and a
  copy interrupted half-way leaves only whole files;
* then writes ``DEST``'s report like ``serkit report DEST``, so that the committed
  report.json is the one the committed predictions give.

The way back works too: a copy put back as the run folder on a fresh machine
(``cp -r results/x runs/x``) resumes at its first unfinished fold (docs/reliability.md).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from serkit.fileio import atomic_write_bytes
from serkit.rundir import PREDICTIONS_FILE, RunDir

#: Weights and training state (a fold's model.pt, model.joblib, training_state.pt, and any
#: exported model): large, and never part of the evidence.
LEFT_OUT_SUFFIXES = (".pt", ".joblib", ".onnx")


def default_destination(run: Path) -> Path:
    """``runs/<rest>`` → ``results/<rest>``, beside the ``runs`` folder the path goes through."""
    parts = run.resolve().parts
    if "runs" not in parts:
        raise SystemExit(f"error: {run} is not below a runs/ folder; name the destination: "
                         f"python scripts/copy_evidence.py {run} results/<name>")
    at = len(parts) - 1 - parts[::-1].index("runs")
    return Path(*parts[:at]) / "results" / Path(*parts[at + 1:])


def unfinished_folders(run: RunDir) -> list[Path]:
    """The folders to leave out: every unfinished fold, and a seed with no finished fold (its
    split plan alone); a run of variants is looked at variant by variant."""
    left_out = []
    for part in run.variants() or [run]:
        for seed in part.seeds():
            folds = part.folds(seed)
            if not any(fold.finished for fold in folds):
                left_out.append(part.seed_dir(seed))
            left_out += [fold.path for fold in folds if not fold.finished]
    return left_out


def evidence_files(run: Path) -> tuple[list[Path], list[Path]]:
    """The files to copy (relative to ``run``) and the unfinished folders left out."""
    unfinished = unfinished_folders(RunDir(run))
    files = [path.relative_to(run) for path in sorted(run.rglob("*"))
             if path.is_file() and path.suffix not in LEFT_OUT_SUFFIXES
             and not any(folder in path.parents for folder in unfinished)]
    return files, unfinished


def copy_evidence(run: Path, dest: Path) -> tuple[int, list[Path]]:
    """Copy ``run``'s evidence into ``dest``; returns the number of files and the unfinished folds."""
    if not run.is_dir():
        raise SystemExit(f"error: {run} is not a run folder; pass the folder `serkit run --out` wrote")
    files, unfinished = evidence_files(run)
    if not any(name.name == PREDICTIONS_FILE for name in files):
        raise SystemExit(f"error: {run} has no finished fold (no {PREDICTIONS_FILE}); nothing to copy yet")
    for name in files:
        atomic_write_bytes(dest / name, (run / name).read_bytes())
    return len(files), [fold.relative_to(run) for fold in unfinished]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path, metavar="RUN")
    parser.add_argument("dest", type=Path, nargs="?", metavar="DEST")
    args = parser.parse_args(argv)
    dest = args.dest or default_destination(args.run)
    copied, unfinished = copy_evidence(args.run, dest)
    print(f"copied {copied} files from {args.run} to {dest} (weights and training state left out)")
    for fold in unfinished:
        print(f"left out {fold}: not finished (no {PREDICTIONS_FILE})")
    from serkit.cli import main as serkit

    return serkit(["report", str(dest)])


if __name__ == "__main__":
    sys.exit(main())
