"""Print the CNN–Transformer results next to the paper's (Wei et al. 2025, Table II, Figs. 6–7).

Reads the report.json (and history.csv files) that `serkit run configs/cnn_transformer/...`
wrote and prints Markdown: overall accuracy and UA, the per-class accuracy (recall) table,
the intensity and gender breakdowns, the training time per epoch, and per seed and fold
the epochs run, the chosen epoch and the accuracies (benchmarks/run_folds.py).

    serkit run configs/cnn_transformer/ravdess_paper.yaml
    python benchmarks/cnn_transformer_tables.py runs/cnn_transformer_ravdess_paper [more run folders]
"""

from __future__ import annotations

import argparse
import math
import json
from pathlib import Path

from run_folds import pct, print_fold_table

from serkit.rundir import RunDir

#: The paper's overall RAVDESS accuracy and Table II (per-class accuracy, percent).
PAPER_ACCURACY = 80.00
PAPER_TABLE2 = {"surprise": 80.00, "neutral": 70.00, "calm": 100.00, "happiness": 95.00, "sadness": 60.00,
                "anger": 90.00, "fear": 78.95, "disgust": 72.22}
#: The best published speaker-independent RAVDESS figure (NOTES.md: 6 folds of 4 actors, UA).
BEST_SPEAKER_INDEPENDENT_UA = 75.3


def epoch_seconds(run_dir: Path) -> str:
    """Median seconds per epoch over folds: the history's wall_s where it has one, else the
    fold's wall time (config.yaml written at the start, model.pt at the end) / epochs run."""
    rates = []
    for fold in RunDir(run_dir).all_folds():
        epochs = fold.read_history()
        walls = [e.get("wall_s", math.nan) for e in epochs]
        if epochs and all(math.isfinite(w) for w in walls):
            rates.append(sum(walls) / len(walls))
        elif epochs and fold.model_pt.exists():
            rates.append((fold.model_pt.stat().st_mtime - fold.config.stat().st_mtime) / len(epochs))
    return "—" if not rates else f"{sorted(rates)[len(rates) // 2]:.0f} s"


def describe(run_dir: Path) -> None:
    report = json.loads((run_dir / "report.json").read_text())
    protocol = report.get("protocol", {})
    print(f"## {run_dir.name}\n")
    params = RunDir(run_dir).read_protocol().get("split_params")
    print(f"protocol: {protocol.get('split')} {params}, {protocol.get('folds')} fold(s), "
          f"{report['n_runs']} run(s), {report['n_predictions']} test predictions; "
          f"time per epoch (median over folds, includes validation): {epoch_seconds(run_dir)}\n")
    m = report["metrics"]
    # The paper's figures are RAVDESS figures: other corpora get no paper column.
    ravdess = protocol.get("corpora") == ["ravdess"]
    paper = {"accuracy": f"{PAPER_ACCURACY:.2f} (its split)",
             "uar": f"— (best published speaker-independent: {BEST_SPEAKER_INDEPENDENT_UA})"} if ravdess else {}
    print("| metric | ours | paper |\n|---|---|---|")
    print(f"| accuracy (WA) | {pct(m['accuracy'])} | {paper.get('accuracy', '—')} |")
    print(f"| UA | {pct(m['uar'])} | {paper.get('uar', '—')} |")
    print(f"| majority baseline accuracy | {pct(report['majority_baseline']['accuracy'])} | |\n")
    print("| emotion | ours: accuracy (recall) | test clips | paper (Table II) |\n|---|---|---|---|")
    for label, row in report["per_class"].items():
        table2 = PAPER_TABLE2.get(label) if ravdess else None
        print(f"| {label} | {pct(row['recall'])} | {row['support']} | {'—' if table2 is None else f'{table2:.2f}'} |")
    for group in ("intensity", "gender"):
        values = report.get("per_group", {}).get(group)
        if not values:
            continue
        print(f"\n| {group} | accuracy | UA | clips |\n|---|---|---|---|")
        for name, row in values.items():
            print(f"| {name} | {pct(row['accuracy'])} | {pct(row['uar'])} | {row['n']} |")
    print()
    print_fold_table(run_dir)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="+", type=Path, help="run folders written by serkit run")
    for run_dir in parser.parse_args().runs:
        if not (run_dir / "report.json").exists():
            print(f"## {run_dir.name}\n\nno report.json yet: run the experiment first\n")
            continue
        describe(run_dir)


if __name__ == "__main__":
    main()
