"""Print SpeechNet's results next to the paper's (Zhang et al. 2025, Tables 2-4).

Reads the report.json files that `serkit run configs/speechnet/<name>.yaml` wrote under
runs/ (or --runs DIR) and prints a Markdown table per paper table with the gap to the
paper. Run the experiments first, e.g.:

    serkit run configs/speechnet/emodb_random.yaml
    python benchmarks/speechnet_tables.py
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from run_folds import fold_rows, mean_chosen_val_acc, pct, print_fold_table

#: The paper's figures (percent) that serkit is compared with: Table 3 (random 90/10,
#: 10 runs, accuracy), Table 4 (PLR/PCLR on EmoDB), and the issue's LOSO target.
PAPER_TABLE3 = {"emodb": 87.66, "savee": 70.21, "casia": 87.79}
PAPER_TABLE4_EMODB = {
    "speechnet": (91.59, 83.18), "lstm": (42.06, 34.58), "gru": (14.95, 14.02),
    "cnn": (19.63, 18.69), "transformer": (54.21, 51.40), "autoencoder": (33.64, 21.50),
    "tcn": (12.15, 10.28),
}
LOSO_UA_TARGET = {"emodb": 80.0}
#: Table 2 (EmoDB ablation): accuracy of each variant in the paper.
PAPER_TABLE2_ACCURACY = {
    "full": 87.66, "without_information_coding": 80.37, "without_speech_recall": 83.18,
    "without_pre_attention": 84.11, "without_speech_attention": 85.05,
    "without_signal_refinement": 86.92, "without_routing": 86.92, "without_modified_routing": 85.98,
}


def fold_seconds(run_dir: Path) -> str:
    """Median wall time of one fold: the gaps between consecutive predictions.csv writes
    (folds run one after another, so a gap is one fold's features-to-predictions time)."""
    times = sorted(p.stat().st_mtime for p in run_dir.rglob("predictions.csv"))
    gaps = [b - a for a, b in zip(times, times[1:])]
    return "—" if not gaps else f"{sorted(gaps)[len(gaps) // 2]:.0f} s"


def variant_summary(run_dir: Path) -> dict:
    """Each variant's own report.json, in the config's order where summary.json gives it.

    A variant's report is rewritten whenever that variant finishes, so after a longer rerun
    (``--seeds 10`` after ``--seeds 3``) that was stopped part way, finished variants show
    their new run count and the others their old one; the "runs" column says which.
    """
    from serkit.training.runner import headline

    summary = load(run_dir / "summary.json")
    order = list(summary["variants"]) if summary else []
    reports = {p.parent.name: json.loads(p.read_text()) for p in sorted(run_dir.glob("*/report.json"))}
    names = [n for n in order if n in reports] + sorted(n for n in reports if n not in order)
    return {"variants": {name: headline(reports[name]) for name in names}}


def load(path: Path) -> dict | None:
    return json.loads(path.read_text()) if path.exists() else None


def table3(runs: Path) -> None:
    print("## Table 3: random 90/10 (the paper: 10 runs)\n")
    print("| corpus | runs | accuracy | macro precision | macro recall | macro F1 | paper accuracy | gap | s/run |")
    print("|---|---|---|---|---|---|---|---|---|")
    for corpus, paper in PAPER_TABLE3.items():
        report = load(runs / f"speechnet_{corpus}_random" / "report.json")
        if report is None:
            print(f"| {corpus} | not run | | | | | {paper:.2f} | |")
            continue
        m = report["metrics"]
        gap = 100 * m["accuracy"]["mean"] - paper
        print(f"| {corpus} | {m['accuracy']['n']} | {pct(m['accuracy'])} | {pct(m['macro_precision'])} | "
              f"{pct(m['macro_recall'])} | {pct(m['macro_f1'])} | {paper:.2f} | {gap:+.2f} | "
              f"{fold_seconds(runs / f'speechnet_{corpus}_random')} |")


def table3_per_seed(runs: Path) -> None:
    for corpus in PAPER_TABLE3:
        print_fold_table(runs / f"speechnet_{corpus}_random", f"\n### {corpus}, per seed\n")


def loso(runs: Path) -> None:
    print("\n## Leave-one-speaker-out (speaker independent)\n")
    print("| corpus | folds | UA | WA | macro F1 | chance UA | target UA | s/fold |")
    print("|---|---|---|---|---|---|---|---|")
    for corpus in PAPER_TABLE3:
        report = load(runs / f"speechnet_{corpus}_loso" / "report.json")
        target = LOSO_UA_TARGET.get(corpus)
        target = "—" if target is None else f"{target:.1f}"
        if report is None:
            print(f"| {corpus} | not run | | | | | {target} | |")
            continue
        m = report["metrics"]
        folds = len(report.get("per_fold") or [])
        chance = 100 / len(report["labels"])  # UA of a constant or random guess
        print(f"| {corpus} | {folds} | {pct(m['uar'])} | {pct(m['war'])} | {pct(m['macro_f1'])} | {chance:.2f} | "
              f"{target} | "
              f"{fold_seconds(runs / f'speechnet_{corpus}_loso')} |")
    for corpus in PAPER_TABLE3:
        print_fold_table(runs / f"speechnet_{corpus}_loso", f"\n### {corpus} LOSO, per fold (one test speaker each)\n")


def ablation(runs: Path) -> None:
    summary = variant_summary(runs / "speechnet_emodb_ablation")
    print("\n## Table 2: ablation on EmoDB (random 90/10)\n")
    if not summary["variants"]:
        print("not run\n")
        return
    print("| variant | runs | accuracy | macro precision | macro recall | macro F1 | val acc (chosen epoch) | "
          "paper accuracy |")
    print("|---|---|---|---|---|---|---|---|")
    rows = {variant: fold_rows(runs / "speechnet_emodb_ablation" / variant) for variant in summary["variants"]}
    for variant, h in summary["variants"].items():
        m = h["metrics"]
        val = f"{mean_chosen_val_acc(rows[variant]):.2f}" if rows[variant] else "—"
        print(f"| {variant} | {m['accuracy']['n']} | {pct(m['accuracy'])} | {pct(m.get('macro_precision'))} | "
              f"{pct(m.get('macro_recall'))} | {pct(m.get('macro_f1'))} | {val} | "
              f"{PAPER_TABLE2_ACCURACY.get(variant, '—')} |")
    print("\nTest accuracy per seed (the seeds share splits across variants, so rows compare pairwise):\n")
    for variant, variant_rows in rows.items():
        print(f"- {variant}: " + ", ".join(f"{100 * r['test_acc']:.2f}" for r in variant_rows))


def variants(runs: Path, name: str, title: str, paper: dict | None = None) -> None:
    summary = variant_summary(runs / name)
    print(f"\n## {title}\n")
    if not summary["variants"]:
        print("not run\n")
        return
    print("| variant | runs | accuracy | macro F1 | PLR | PCLR | paper PLR | paper PCLR |")
    print("|---|---|---|---|---|---|---|---|")
    for variant, h in summary["variants"].items():
        r = h["reproducibility"]
        plr, pclr = (("—" if r.get(k) is None else f"{100 * r[k]:.2f}") for k in ("plr", "pclr"))
        p = (paper or {}).get(variant, ("—", "—"))
        print(f"| {variant} | {h['metrics']['accuracy']['n']} | {pct(h['metrics']['accuracy'])} | "
              f"{pct(h['metrics'].get('macro_f1'))} | {plr} | {pclr} | {p[0]} | {p[1]} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=Path, default=Path("runs"))
    args = parser.parse_args()
    table3(args.runs)
    table3_per_seed(args.runs)
    loso(args.runs)
    ablation(args.runs)
    variants(args.runs, "speechnet_emodb_peers", "Table 4: reproducibility of SpeechNet and its peers on EmoDB",
             PAPER_TABLE4_EMODB)


if __name__ == "__main__":
    main()
