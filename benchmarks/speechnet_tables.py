"""Print SpeechNet's results next to the paper's (Zhang et al. 2025, Tables 2-4).

Reads the report.json files that `serkit run configs/speechnet/<name>.yaml` wrote under
runs/ (or --runs DIR) and prints a Markdown table per paper table with the gap to the
paper. Run the experiments first, e.g.:

    serkit run configs/speechnet/emodb_paper_protocol.yaml
    python benchmarks/speechnet_tables.py             # or --runs results: the committed evidence
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from run_folds import pct, print_fold_table

from serkit.rundir import read_history

#: The paper's figures (percent) that serkit is compared with: Table 3 (random 90/10,
#: 10 runs, accuracy), Table 4 (PLR/PCLR on EmoDB), and the issue's LOSO target.
PAPER_TABLE3 = {"emodb": 87.66, "savee": 70.21, "casia": 87.79}
PAPER_TABLE4_EMODB = {
    "speechnet": (91.59, 83.18), "lstm": (42.06, 34.58), "gru": (14.95, 14.02),
    "cnn": (19.63, 18.69), "transformer": (54.21, 51.40), "autoencoder": (33.64, 21.50),
    "tcn": (12.15, 10.28),
}
LOSO_UA_TARGET = {"emodb": 65.0}  # issue 16
#: Table 2 (EmoDB ablation): accuracy of each variant in the paper.
PAPER_TABLE2_ACCURACY = {
    "full": 87.66, "without_information_coding": 80.37, "without_speech_recall": 83.18,
    "without_pre_attention": 84.11, "without_speech_attention": 85.05,
    "without_signal_refinement": 86.92, "without_routing": 86.92, "without_modified_routing": 85.98,
}


def fold_seconds(run_dir: Path) -> str:
    """Median training time of one fold: the sum of its epochs' wall_s in history.csv (so
    it survives copying the run folder, unlike file times; feature extraction and the
    test pass are not in it)."""
    times = sorted(sum(row.get("wall_s", 0.0) for row in read_history(path))
                   for path in run_dir.rglob("history.csv"))
    return "—" if not times else f"{times[len(times) // 2]:.0f} s"


def variant_reports(run_dir: Path) -> dict[str, dict]:
    """Each variant's own report.json, in the config's order where summary.json gives it.

    A variant's report is rewritten whenever that variant finishes, so after a longer rerun
    (``--seeds 10`` after ``--seeds 3``) that was stopped part way, finished variants show
    their new run count and the others their old one; the "runs" column says which.
    """
    summary = load(run_dir / "summary.json")
    order = list(summary["variants"]) if summary else []
    reports = {p.parent.name: json.loads(p.read_text()) for p in sorted(run_dir.glob("*/report.json"))}
    names = [n for n in order if n in reports] + sorted(n for n in reports if n not in order)
    return {name: reports[name] for name in names}


def load(path: Path) -> dict | None:
    return json.loads(path.read_text()) if path.exists() else None


#: Table 3's two protocols: the run-name suffix and the heading.
TABLE3_PROTOCOLS = {
    "paper_protocol": "Table 3 under the paper's protocol: one fixed stratified 80/20 split, 10 training seeds",
    "random": "Table 3: random 90/10, the paper's text (a new split per seed)",
    "paper_protocol_margins_0.9_0.1": ("A diagnostic, not the configs: the paper's protocol with CapsNet's margins "
                                       "(alpha1 = 0.9, alpha3 = 0.1; docs/models.md)"),
}


def table3(runs: Path, protocol: str) -> None:
    print(f"\n## {TABLE3_PROTOCOLS[protocol]}\n")
    print("| corpus | runs | test clips per run | accuracy | UA | macro precision | macro recall | macro F1 | "
          "PLR / PCLR | paper accuracy | gap | training s/run |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for corpus, paper in PAPER_TABLE3.items():
        run = runs / f"speechnet_{corpus}_{protocol}"
        report = load(run / "report.json")
        if report is None:
            print(f"| {corpus} | not run | | | | | | | | {paper:.2f} | | |")
            continue
        m, r = report["metrics"], report.get("reproducibility") or {}
        clips = sorted({entry["n"] for entry in report.get("per_fold") or []}) or ["—"]
        clips = clips[0] if len(clips) == 1 else f"{clips[0]}–{clips[-1]}"
        print(f"| {corpus} | {m['accuracy']['n']} | {clips} | "
              f"{pct(m['accuracy'])} | {pct(m['uar'])} | {pct(m['macro_precision'])} | {pct(m['macro_recall'])} | "
              f"{pct(m['macro_f1'])} | {pct(r.get('plr'))} / {pct(r.get('pclr'))} | {paper:.2f} | "
              f"{100 * m['accuracy']['mean'] - paper:+.2f} | {fold_seconds(run)} |")


def table3_per_seed(runs: Path) -> None:
    for protocol in TABLE3_PROTOCOLS:
        for corpus in PAPER_TABLE3:
            print_fold_table(runs / f"speechnet_{corpus}_{protocol}", f"\n### {corpus}, {protocol}, per seed\n")


def loso(runs: Path) -> None:
    """The LOSO table; "single epoch": the same runs with the epoch chosen on its own validation
    accuracy (``--set training.select_window=1``, results ``speechnet_<corpus>_loso_select1``)."""
    print("\n## Leave-one-speaker-out (speaker independent)\n")
    print("| corpus | folds | UA | WA | macro F1 | chance UA | target UA | training s/fold | UA, single-epoch choice |")
    print("|---|---|---|---|---|---|---|---|---|")
    for corpus in PAPER_TABLE3:
        report = load(runs / f"speechnet_{corpus}_loso" / "report.json")
        target = LOSO_UA_TARGET.get(corpus)
        target = "—" if target is None else f"{target:.1f}"
        if report is None:
            print(f"| {corpus} | not run | | | | | {target} | | |")
            continue
        print(loso_row(corpus, report, runs / f"speechnet_{corpus}_loso", target, single_epoch_ua(runs, corpus)))
        diagnostic = runs / f"speechnet_{corpus}_loso_margins_0.9_0.1"
        report = load(diagnostic / "report.json")
        if report is not None:  # printed only where run: a diagnostic, not the configs
            print(loso_row(f"{corpus}, CapsNet's margins (diagnostic)", report, diagnostic, target, "—"))
    for corpus in PAPER_TABLE3:
        print_fold_table(runs / f"speechnet_{corpus}_loso", f"\n### {corpus} LOSO, per fold (one test speaker each)\n")


def loso_row(name: str, report: dict, run_dir: Path, target: str, single_epoch: str) -> str:
    """One row of the LOSO table from a run's report.json."""
    m = report["metrics"]
    chance = 100 / len(report["labels"])  # UA of a constant or random guess
    return (f"| {name} | {len(report.get('per_fold') or [])} | {pct(m['uar'])} | {pct(m['war'])} | "
            f"{pct(m['macro_f1'])} | {chance:.2f} | {target} | {fold_seconds(run_dir)} | {single_epoch} |")


def single_epoch_ua(runs: Path, corpus: str) -> str:
    report = load(runs / f"speechnet_{corpus}_loso_select1" / "report.json")
    return "—" if report is None else pct(report["metrics"]["uar"])


#: The run whose model is the full SpeechNet of Tables 2 and 4: emodb_ablation.yaml and
#: emodb_peers.yaml run on its split with its seeds and do not repeat it.
FULL_MODEL_RUN = "speechnet_emodb_paper_protocol"


def with_full_model(runs: Path, name: str, full_name: str) -> dict[str, dict]:
    """The reports of the variants of ``runs/name``, after the full model's (named
    ``full_name``), read from :data:`FULL_MODEL_RUN`; a missing run is left out."""
    full = load(runs / FULL_MODEL_RUN / "report.json")
    return ({full_name: full} if full is not None else {}) | variant_reports(runs / name)


def seed_accuracies(report: dict) -> dict[int, float]:
    """Test accuracy (percent) of each seed of a one-fold-per-seed run."""
    return {entry["seed"]: 100 * entry["metrics"]["accuracy"] for entry in report.get("per_fold") or []}


def paired_change(report: dict, full: dict) -> str:
    """Mean per-seed accuracy change against the full model over the seeds both ran (same
    split, same seed: the pairs differ only in the module removed), on how many seeds the
    variant scored higher / lower, and the Wilcoxon signed-rank p of those pairs."""
    mine, base = seed_accuracies(report), seed_accuracies(full)
    seeds = sorted(set(mine) & set(base))
    if not seeds:
        return "—"
    diffs = [mine[s] - base[s] for s in seeds]
    higher, lower = sum(d > 0 for d in diffs), sum(d < 0 for d in diffs)
    return f"{sum(diffs) / len(diffs):+.2f} ({higher} up, {lower} down{wilcoxon_p(diffs)})"


def wilcoxon_p(diffs: list[float]) -> str:
    """", p = …" of the Wilcoxon signed-rank test on paired differences (two-sided; ties at
    zero dropped), or "" where it cannot be computed (fewer than two non-zero pairs)."""
    from scipy.stats import wilcoxon

    nonzero = [d for d in diffs if d != 0]
    if len(nonzero) < 2:
        return ""
    return f", p = {wilcoxon(nonzero).pvalue:.2f}"


def ablation(runs: Path) -> None:
    print("\n## Table 2: ablation on EmoDB (the paper's protocol: fixed 80/20 split, 10 seeds)\n")
    reports = with_full_model(runs, "speechnet_emodb_ablation", "full")
    if not reports:
        print("not run\n")
        return
    full = reports.get("full")
    print("| variant | runs | accuracy | macro precision | macro recall | macro F1 | change vs full, per seed | "
          "PLR / PCLR | paper accuracy | paper change |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for variant, report in reports.items():
        m, r = report["metrics"], report.get("reproducibility") or {}
        change = "—" if full is None or variant == "full" else paired_change(report, full)
        paper = PAPER_TABLE2_ACCURACY.get(variant)
        paper_change = "—" if paper is None or variant == "full" else f"{paper - PAPER_TABLE2_ACCURACY['full']:+.2f}"
        print(f"| {variant} | {m['accuracy']['n']} | {pct(m['accuracy'])} | {pct(m.get('macro_precision'))} | "
              f"{pct(m.get('macro_recall'))} | {pct(m.get('macro_f1'))} | {change} | "
              f"{pct(r.get('plr'))} / {pct(r.get('pclr'))} | {paper if paper is not None else '—'} | {paper_change} |")
    print("\nTest accuracy per seed (every variant has the same split and seeds, so rows compare pairwise):\n")
    for variant, report in reports.items():
        print(f"- {variant}: " + ", ".join(f"{acc:.2f}" for _, acc in sorted(seed_accuracies(report).items())))


def peers(runs: Path) -> None:
    print("\n## Table 4: reproducibility of SpeechNet and its peers on EmoDB (fixed 80/20 split)\n")
    reports = with_full_model(runs, "speechnet_emodb_peers", "speechnet")
    if not reports:
        print("not run\n")
        return
    print("| model | runs | accuracy | macro F1 | PLR | PCLR | paper PLR | paper PCLR |")
    print("|---|---|---|---|---|---|---|---|")
    for model, report in reports.items():
        m, r = report["metrics"], report.get("reproducibility") or {}
        paper = PAPER_TABLE4_EMODB.get(model, ("—", "—"))
        print(f"| {model} | {m['accuracy']['n']} | {pct(m['accuracy'])} | {pct(m.get('macro_f1'))} | "
              f"{pct(r.get('plr'))} | {pct(r.get('pclr'))} | {paper[0]} | {paper[1]} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=Path, default=Path("runs"))
    args = parser.parse_args()
    for protocol in TABLE3_PROTOCOLS:
        table3(args.runs, protocol)
    table3_per_seed(args.runs)
    loso(args.runs)
    ablation(args.runs)
    peers(args.runs)


if __name__ == "__main__":
    main()
