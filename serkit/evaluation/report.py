"""Turn a run folder's predictions.csv files into report.json, report.md and figures/*.png.

Aggregation (stated in every report under ``notes``):

* A *run* is one seed. Per seed, the test predictions of all its folds are pooled (in
  k-fold each utterance is tested once per seed) and scored; ``metrics.<name>`` holds the
  mean and std of those per-seed scores. The std is the sample std (ddof=1) when there are
  two or more seeds, and 0 for a single seed.
* ``per_fold`` scores each (seed, fold) on its own; ``per_seed`` lists the per-seed scores.
* ``per_class`` and ``confusion_matrix`` pool the predictions of all seeds (each utterance
  counts once per seed).
* ``per_group`` scores each value of gender, intensity, speaker, corpus and language per
  seed and gives mean and std over the seeds in which the value occurs.
* ``reproducibility`` uses the utterances (corpus, utt_id) tested in every seed, R = number
  of seeds; with fewer than two seeds its values are null.
* ``majority_baseline`` always predicts the most frequent label *of the test truths*
  (training labels are not in predictions.csv).
* ``prediction_shares`` gives, per test corpus, the most frequent *predicted* label and its
  share of that corpus's predictions (all seeds pooled): a model that answers one label
  to everything new ("collapse") shows a share near 1 however its accuracy looks.
* ``calibration`` is the top-label expected calibration error (15 bins) of the
  probabilities, mean over seeds; null when predictions.csv has no probabilities.
* ``warnings`` lists what makes the numbers suspect, e.g. an accuracy that is not above the
  majority baseline; report.md repeats them near its top.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path

import numpy as np

from serkit.errors import SerkitError
from serkit.evaluation.calibration import expected_calibration_error
from serkit.evaluation.groups import GROUP_COLUMNS, known_group_columns, metrics_by_group
from serkit.evaluation.metrics import (METRIC_NAMES, classification_metrics, confusion_matrix,
                                       majority_baseline, normalize_rows, per_class_metrics)
from serkit.evaluation.predictions import Predictions, atomic_write, read_predictions
from serkit.rundir import FoldDir, RunDir, read_history
from serkit.splits import SplitPlan
from serkit.evaluation.reproducibility import DEFINITION, REPRODUCIBILITY_KEYS, reproducibility_metrics

log = logging.getLogger(__name__)

PROTOCOL_KEYS: tuple[str, ...] = ("name", "split", "folds", "seeds", "corpora", "label_scheme")
HISTORY_COLUMNS: tuple[str, ...] = ("epoch", "train_loss", "train_acc", "val_loss", "val_acc")
NOTES = {
    "runs": "a run is one seed; per seed the test predictions of all its folds are pooled and scored",
    "std": "sample standard deviation over seeds (ddof=1); 0 with a single seed",
    "per_class": "pooled over the predictions of all seeds",
    "confusion_matrix": "pooled over the predictions of all seeds (each utterance counted once per seed)",
    "per_group": "accuracy and uar per group value, mean and std over the seeds in which it occurs",
    "metrics": "war = wa = accuracy; uar = ua = mean recall over the classes in the truth; "
               "wf1 = weighted_f1 (SERCT thesis eqs. 13-15, support weights)",
    "majority_baseline": "always predicts the most frequent label of the test truths "
                         "(training labels are not in predictions.csv)",
}


def build_report(run_dir: str | Path, *, out_dir: str | Path | None = None) -> dict:
    """Score every predictions.csv under ``run_dir``; write report.json, report.md, figures/.

    Args:
        run_dir: a run folder (``seed=<s>/fold=<k>/predictions.csv`` inside) or one
            predictions.csv file.
        out_dir: where to write; default ``run_dir`` (the file's folder for a file).

    Returns:
        The report as written to report.json (keys ``metrics``, ``per_seed``, ``per_fold``,
        ``per_class``, ``per_group``, ``confusion_matrix``, ``reproducibility``,
        ``majority_baseline``, ``protocol``, ``labels``, ``figures``, ``notes``, ...).

    Raises:
        SerkitError: no predictions under ``run_dir``, a file that breaks the contract,
            or an unreadable protocol.json or folds.json.
    """
    run_dir = Path(run_dir)
    root = run_dir.parent if run_dir.is_file() else run_dir
    out = Path(out_dir) if out_dir is not None else root
    predictions = read_predictions(run_dir)
    report = compute_report(predictions, protocol=load_protocol(root, predictions))
    report["sources"] = [_relative(s, root) for s in predictions.sources]
    report["figures"] = _write_figures(report, read_histories(root), out)
    oracle = oracle_scores(root)
    if oracle is not None:  # only runs with training.monitor_test have one
        report["oracle"] = oracle
    report["warnings"] += unfinished_fold_warnings(root) + diverged_fold_warnings(root)
    report = _jsonable(report)
    atomic_write(out / "report.json", lambda f: json.dump(report, f, indent=2, allow_nan=False))
    atomic_write(out / "report.md", lambda f: f.write(render_markdown(report)))
    return report


def compute_report(predictions: Predictions, *, protocol: dict | None = None) -> dict:
    """The report's numbers (everything but figures), from predictions already read."""
    if len(predictions) == 0:
        raise SerkitError(f"the predictions in {[str(s) for s in predictions.sources]} have no rows")
    per_seed = _per_seed(predictions)
    report = {
        "serkit_version": _version(),
        "labels": list(predictions.labels),
        "n_predictions": len(predictions),
        "n_runs": len(per_seed),
        "sources": [str(s) for s in predictions.sources],
        "metrics": {name: summarize([s["metrics"][name] for s in per_seed]) for name in METRIC_NAMES},
        "per_seed": per_seed,
        "per_fold": _per_fold(predictions),
        "per_class": per_class_metrics(predictions.truth, predictions.prediction, labels=predictions.labels),
        "confusion_matrix": _confusion(predictions),
        "per_group": _per_group(predictions),
        "reproducibility": seed_reproducibility(predictions),
        "majority_baseline": {**majority_baseline(predictions.truth), "note": NOTES["majority_baseline"]},
        "prediction_shares": prediction_shares(predictions),
        "calibration": _calibration(predictions),
        "protocol": protocol if protocol is not None else infer_protocol(predictions),
        "notes": dict(NOTES),
    }
    report["warnings"] = report_warnings(report)
    return report


def unfinished_fold_warnings(run_dir: Path) -> list[str]:
    """One warning per seed whose split plan (folds.json) has folds without predictions.csv:
    a report of a run that has not finished covers only part of its test side."""
    run = RunDir(run_dir)
    warnings = []
    for seed in run.seeds():
        if not run.folds_plan(seed).is_file():
            continue
        planned = len(SplitPlan.load(run.folds_plan(seed)).folds)
        missing = [k for k in range(planned) if not run.fold(seed, k).finished]
        if missing:
            folds = ", ".join(str(k) for k in missing)
            warnings.append(f"seed {seed}: {planned - len(missing)} of {planned} folds finished; fold(s) {folds} "
                            f"have no predictions.csv, so these numbers cover only part of the test side "
                            f"(`serkit run` resumes the run)")
    return warnings


#: A kept epoch whose training accuracy is this far under the best one before it comes from
#: a run that diverged. Of the folds under results/ on 2026-12-07, only one passes 0.2 (SpeechNet,
#: CapsNet's margins, EmoDB seed 5: 100 % to 72.9 % in its last epochs, 33.6 % test accuracy);
#: every other stays under 0.15 (tests/test_evaluation_report.py checks both on results/).
DIVERGED_DROP = 0.2


def kept_epoch_drop(history: list[dict[str, float]]) -> tuple[dict, dict]:
    """The best-training-accuracy row up to the kept epoch, and the kept row (marked
    ``selected``; the last row in histories without the column)."""
    marked = [row for row in history if row.get("selected") == 1]
    kept = marked[0] if len(marked) == 1 else history[-1]
    best = max((row for row in history if row["epoch"] <= kept["epoch"]), key=lambda row: row["train_acc"])
    return best, kept


def diverged(history: list[dict[str, float]]) -> bool:
    """Whether the kept epoch's training accuracy fell more than DIVERGED_DROP under the best
    epoch up to it (kept_epoch_drop)."""
    best, kept = kept_epoch_drop(history)
    return best["train_acc"] - kept["train_acc"] > DIVERGED_DROP


def diverged_fold_warnings(run_dir: Path) -> list[str]:
    """One warning per finished fold whose kept epoch's training accuracy fell more than
    DIVERGED_DROP under the best epoch up to it: a run that diverged (e.g. Adam near a zero
    loss) with ``select: last`` keeps the collapsed model, and the mean hides it."""
    warnings = []
    for fold in RunDir(run_dir).all_folds():
        history = fold.read_history()
        if not fold.finished or not history:
            continue
        if diverged(history):
            best, kept = kept_epoch_drop(history)
            warnings.append(f"seed {fold.seed}, fold {fold.fold}: training accuracy fell from "
                            f"{100 * best['train_acc']:.1f} % (epoch {int(best['epoch'])}) to "
                            f"{100 * kept['train_acc']:.1f} % at the kept epoch {int(kept['epoch'])}: training "
                            f"diverged, and that fold's numbers are of the collapsed model (choose the epoch on "
                            f"a validation side, `training.select: val_accuracy`, to keep a good one)")
    return warnings


def report_warnings(report: dict) -> list[str]:
    """Warnings about a report's numbers: accuracy not above the majority baseline."""
    warnings = []
    accuracy, base = report["metrics"]["accuracy"], report["majority_baseline"]
    if accuracy["mean"] <= base["accuracy"] + 1e-12:
        over = f" (mean over {accuracy['n']} seeds)" if accuracy["n"] > 1 else ""
        warnings.append(f"accuracy {100 * accuracy['mean']:.1f} %{over} is not above the majority baseline "
                        f"{100 * base['accuracy']:.1f} % (always '{base['label']}')")
    return warnings


def prediction_shares(predictions: Predictions) -> dict[str, dict]:
    """Per corpus (all seeds pooled): the most frequent predicted label, its share and n."""
    corpora = predictions.column("corpus")
    out = {}
    for corpus in sorted({str(c) for c in corpora}):
        predicted = predictions.prediction[corpora.astype(str) == corpus]
        labels, counts = np.unique(predicted, return_counts=True)
        top = int(np.argmax(counts))  # ties: the label first in sorted order
        out[corpus] = {"label": str(labels[top]), "share": float(counts[top] / counts.sum()),
                       "n": int(counts.sum())}
    return out


def _calibration(predictions: Predictions) -> dict | None:
    if predictions.probabilities is None or np.isnan(predictions.probabilities).any():
        return None
    labels = list(predictions.labels)
    per_seed = []
    for seed in predictions.seeds:
        run = predictions.select(predictions.seed == seed)
        targets = np.array([labels.index(t) for t in run.truth])
        per_seed.append(expected_calibration_error(run.probabilities, targets))
    return {"ece": summarize(per_seed), "bins": 15}


def summarize(values: Sequence[float]) -> dict:
    """``{"mean", "std", "n"}`` of per-run values; std with ddof=1 for n > 1, else 0."""
    values = np.asarray(values, dtype=float)
    std = float(np.std(values, ddof=1)) if values.size > 1 else 0.0
    return {"mean": float(np.mean(values)), "std": std, "n": int(values.size)}


def _per_seed(predictions: Predictions) -> list[dict]:
    out = []
    for seed in predictions.seeds:
        run = predictions.select(predictions.seed == seed)
        out.append({"seed": seed, "n": len(run), "folds": sorted({int(f) for f in run.fold}),
                    "metrics": classification_metrics(run.truth, run.prediction)})
    return out


def _per_fold(predictions: Predictions) -> list[dict]:
    pairs = sorted({(int(s), int(f)) for s, f in zip(predictions.seed, predictions.fold)})
    out = []
    for seed, fold in pairs:
        part = predictions.select((predictions.seed == seed) & (predictions.fold == fold))
        out.append({"seed": seed, "fold": fold, "n": len(part),
                    "metrics": classification_metrics(part.truth, part.prediction)})
    return out


def _confusion(predictions: Predictions) -> dict:
    counts = confusion_matrix(predictions.truth, predictions.prediction, labels=predictions.labels)
    return {"labels": list(predictions.labels), "counts": counts.tolist(),
            "normalized": normalize_rows(counts).tolist()}


def _per_group(predictions: Predictions) -> dict:
    columns = {name: predictions.column(name) for name in GROUP_COLUMNS}
    out = {}
    for name in known_group_columns(columns):
        by_seed = [metrics_by_group(run.truth, run.prediction, run.column(name))
                   for run in (predictions.select(predictions.seed == s) for s in predictions.seeds)]
        values = sorted(set().union(*by_seed))
        out[name] = {value: _group_summary([g[value] for g in by_seed if value in g]) for value in values}
    return out


def _group_summary(scores: list[dict]) -> dict:
    return {"accuracy": summarize([s["accuracy"] for s in scores]),
            "uar": summarize([s["uar"] for s in scores]),
            "n": int(sum(s["n"] for s in scores)), "runs": len(scores)}


def seed_reproducibility(predictions: Predictions) -> dict:
    """GLR…PCLR over seeds, on the utterances (corpus, utt_id) tested in every seed."""
    seeds = predictions.seeds
    base = {"runs": len(seeds), "definition": DEFINITION}
    if len(seeds) < 2:
        return {**dict.fromkeys(REPRODUCIBILITY_KEYS), **base, "samples": 0,
                "note": f"needs at least 2 seeds (runs), got {len(seeds)}"}
    tables = [_predictions_by_utterance(predictions.select(predictions.seed == s), s) for s in seeds]
    common = sorted(set.intersection(*(set(t) for t in tables)))
    if not common:
        return {**dict.fromkeys(REPRODUCIBILITY_KEYS), **base, "samples": 0,
                "note": "no utterance was tested in every seed"}
    runs = [[t[key][1] for key in common] for t in tables]
    truth = [tables[0][key][0] for key in common]
    values = reproducibility_metrics(runs, truth)
    return {**values, **base, "note": f"over the {len(common)} utterances tested in all {len(seeds)} seeds"}


def _predictions_by_utterance(run: Predictions, seed: int) -> dict:
    table = {}
    for corpus, utt, truth, pred in zip(run.corpus, run.utt_id, run.truth, run.prediction):
        table.setdefault((corpus, utt), (truth, pred))
    if len(table) < len(run):
        log.warning("seed %s tests %d utterances more than once; reproducibility uses the first "
                    "prediction of each", seed, len(run) - len(table))
    return table


def infer_protocol(predictions: Predictions, *, name: str | None = None) -> dict:
    """What the predictions themselves say about the protocol (seeds, folds, corpora)."""
    folds = {int(f) for f in predictions.fold}
    return {"name": name, "split": None, "folds": len(folds), "seeds": predictions.seeds,
            "corpora": sorted(set(predictions.corpus) - {""}), "label_scheme": None,
            "source": "inferred from predictions.csv"}


def load_protocol(run_dir: Path, predictions: Predictions) -> dict:
    """RUN_DIR/protocol.json (else run.json) keys :data:`PROTOCOL_KEYS`, filled in by inference."""
    inferred = infer_protocol(predictions, name=run_dir.name)
    for file_name in ("protocol.json", "run.json"):
        path = run_dir / file_name
        if path.is_file():
            given = _read_json(path)
            known = {k: given[k] for k in PROTOCOL_KEYS if k in given}
            if known:
                return {**inferred, **known, "source": file_name}
    return inferred


def _read_json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise SerkitError(f"cannot read {path} as JSON: {err}; fix or remove it") from None
    if not isinstance(data, dict):
        raise SerkitError(f"{path} must hold a JSON object, not {type(data).__name__}")
    return data


def read_histories(run_dir: Path) -> dict[str, dict[str, np.ndarray]]:
    """Learning curves from the history.csv of every fold of ``run_dir``, averaged over folds per seed.

    Returns:
        ``{"seed <s>": {"epoch": (E,), "train_loss": (E,), ..., "selected": (S,)}}``, where
        ``selected`` holds the chosen epoch of each fold whose history.csv marks one
        (``selected`` = 1), sorted and without repeats; empty when there are no histories.
    """
    groups: dict[str, list[dict]] = {}
    for fold in RunDir(run_dir).all_folds():
        history = _read_history(fold.history)
        if history is not None:
            groups.setdefault(f"seed {fold.seed}", []).append(history)
    return {name: _mean_curve(histories) for name, histories in groups.items()}


def oracle_scores(run_dir: Path) -> dict | None:
    """What choosing each fold's epoch on its own test side would score (the "oracle").

    From the ``test_acc`` / ``test_uar`` columns that ``training.monitor_test`` adds to
    history.csv; None when no fold has them. Per fold: the best test score over epochs and
    the test score at the epoch chosen on validation; each averaged over folds per seed,
    then summarised over seeds. ``inflation`` is their difference: how much choosing the
    epoch on the test speakers would add. Never used for any choice.
    """
    per_seed: dict[int, list[dict]] = {}
    for fold in RunDir(run_dir).all_folds():
        scores = fold_oracle(fold)
        if scores is not None:
            per_seed.setdefault(fold.seed, []).append(scores)
    if not per_seed:
        return None
    means = [{k: float(np.mean([f[k] for f in folds])) for k in folds[0]} for folds in per_seed.values()]
    out = {k: summarize([m[k] for m in means]) for k in means[0]}
    for metric in ("accuracy", "uar"):
        out[f"inflation_{metric}"] = summarize([m[f"oracle_{metric}"] - m[f"selected_{metric}"] for m in means])
    out["n_folds"] = sum(len(f) for f in per_seed.values())
    out["note"] = ("mean over folds of the best per-epoch test score (oracle) and of the test score at the epoch "
                   "chosen on validation (selected); per-fold means, so 'selected' can differ from the pooled "
                   "metrics above. Never used for any choice.")
    return out


def fold_oracle(fold: FoldDir) -> dict | None:
    """One fold's best per-epoch test accuracy and UA (``oracle_*``) and those at the epoch
    chosen on validation (``selected_*``); None without ``monitor_test`` columns or a
    single chosen epoch."""
    rows = [r for r in read_history(fold.history) if math.isfinite(r.get("test_acc", math.nan))]
    chosen = [r for r in rows if r.get("selected") == 1]
    if not rows or len(chosen) != 1:
        return None
    return {"oracle_accuracy": max(r["test_acc"] for r in rows), "oracle_uar": max(r["test_uar"] for r in rows),
            "selected_accuracy": chosen[0]["test_acc"], "selected_uar": chosen[0]["test_uar"]}


def _read_history(path: Path) -> dict[str, np.ndarray] | None:
    rows = read_history(path)
    if not rows or "epoch" not in rows[0]:
        if path.is_file():
            log.warning("skipping %s: no epoch column or no rows", path)
        return None
    history = {key: np.array([r.get(key, math.nan) for r in rows]) for key in HISTORY_COLUMNS}
    history["selected"] = np.array([r["epoch"] for r in rows
                                    if r.get("selected") == 1 and math.isfinite(r["epoch"])])
    return history


def _mean_curve(histories: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    epochs = np.array(sorted({e for h in histories for e in h["epoch"] if math.isfinite(e)}))
    curve = {"epoch": epochs}
    for key in HISTORY_COLUMNS[1:]:
        stacked = np.full((len(histories), len(epochs)), np.nan)
        for row, h in enumerate(histories):
            stacked[row, np.searchsorted(epochs, h["epoch"][np.isfinite(h["epoch"])])] = \
                h[key][np.isfinite(h["epoch"])]
        with np.errstate(all="ignore"):
            curve[key] = np.array([np.nanmean(c) if np.isfinite(c).any() else np.nan for c in stacked.T])
    curve["selected"] = np.unique(np.concatenate([h["selected"] for h in histories]))
    return curve


def _write_figures(report: dict, histories: dict, out: Path) -> list[str]:
    from serkit.evaluation import figures

    folder = out / "figures"
    labels, cm = report["labels"], report["confusion_matrix"]
    written = [
        figures.confusion_matrix_figure(cm["counts"], labels, folder / "confusion_counts.png"),
        figures.confusion_matrix_figure(cm["normalized"], labels, folder / "confusion_normalized.png",
                                        normalized=True),
        figures.bars_figure(report["per_class"], ("precision", "recall", "f1"), folder / "per_class.png",
                            title="per class (pooled over seeds)"),
    ]
    for name, groups in report["per_group"].items():
        if len(groups) < 2:  # one bar per metric compares nothing
            continue
        means = {v: {k: g[k]["mean"] for k in ("accuracy", "uar")} for v, g in groups.items()}
        several = any(g["runs"] > 1 for g in groups.values())
        stds = {v: {k: g[k]["std"] for k in ("accuracy", "uar")} for v, g in groups.items()} if several else None
        title = f"per {name} (mean ± std over seeds)" if several else f"per {name}"
        written.append(figures.bars_figure(means, ("accuracy", "uar"), folder / f"per_group_{name}.png",
                                           title=title, errors=stds))
    if histories:
        written.append(figures.learning_curves_figure(histories, folder / "learning_curves.png"))
    return [p.relative_to(out).as_posix() for p in written]


def render_markdown(report: dict) -> str:
    """report.md: metric, per-class, per-group, reproducibility and protocol tables."""
    parts = [f"# Report: {report['protocol'].get('name') or 'run'}", "",
             f"{report['n_predictions']} predictions, {report['n_runs']} run(s) (seeds), "
             f"classes: {', '.join(report['labels'])}.", ""]
    parts += [f"> **Warning:** {w}" + "\n" for w in report.get("warnings", [])]
    parts += _md_metrics(report) + _md_oracle(report) + _md_per_class(report) + _md_per_group(report)
    parts += _md_shares(report) + _md_reproducibility(report) + _md_protocol(report) + _md_figures(report)
    parts += ["## Notes", ""] + [f"- **{k}**: {v}" for k, v in report["notes"].items()] + [""]
    return "\n".join(parts)


def _pct(value) -> str:
    return "n/a" if value is None else f"{100 * value:.2f}"


def mean_std_text(stat: dict) -> str:
    """"mean ± std" in %, or the mean alone for a single run (its std says nothing)."""
    if stat.get("n", 2) == 1:
        return _pct(stat["mean"])
    return f"{_pct(stat['mean'])} ± {_pct(stat['std'])}"


def _md_table(header: Sequence[str], rows: list[Sequence]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return lines + [""]


def _md_metrics(report: dict) -> list[str]:
    names = ("accuracy", "uar", "macro_f1", "weighted_f1", "macro_precision", "macro_recall")
    rows = [(n, mean_std_text(report["metrics"][n])) for n in names]
    base = report["majority_baseline"]
    rows.append((f"majority baseline ('{base['label']}') accuracy / uar",
                 f"{_pct(base['accuracy'])} / {_pct(base['uar'])}"))
    return [f"## Metrics (%, {_over_seeds(report)})", ""] + _md_table(("metric", "value"), rows)


def _md_oracle(report: dict) -> list[str]:
    oracle = report.get("oracle")
    if not oracle:
        return []
    rows = [(metric, mean_std_text(oracle[f"selected_{metric}"]), mean_std_text(oracle[f"oracle_{metric}"]),
             mean_std_text(oracle[f"inflation_{metric}"])) for metric in ("accuracy", "uar")]
    return (["## Oracle: the epoch chosen on the test side (%, mean over folds)", "", oracle["note"], ""]
            + _md_table(("metric", "epoch chosen on validation", "oracle (best test epoch)", "inflation"), rows))


def _over_seeds(report: dict) -> str:
    return "mean ± std over seeds" if report["n_runs"] > 1 else "single seed"


def _md_shares(report: dict) -> list[str]:
    shares = report.get("prediction_shares") or {}
    lines = ["## Most frequent prediction per corpus", "",
             "A share near 100 % means the model answers one label to most clips of that corpus.", ""]
    lines += _md_table(("corpus", "label", "share (%)", "n"),
                       [(c, v["label"], _pct(v["share"]), v["n"]) for c, v in shares.items()])
    calibration = report.get("calibration")
    if calibration is not None:
        lines += [f"Expected calibration error (top label, {calibration['bins']} bins): "
                  f"{mean_std_text(calibration['ece'])} %.", ""]
    return lines if shares else []


def _md_per_class(report: dict) -> list[str]:
    rows = [(label, _pct(c["precision"]), _pct(c["recall"]), _pct(c["f1"]), c["support"])
            for label, c in report["per_class"].items()]
    return ["## Per class (%, pooled over seeds)", ""] + _md_table(
        ("class", "precision", "recall", "f1", "support"), rows)


def _md_per_group(report: dict) -> list[str]:
    lines = [f"## Per group (%, {_over_seeds(report)})", ""]
    for name, groups in report["per_group"].items():
        rows = [(value, mean_std_text(g["accuracy"]), mean_std_text(g["uar"]), g["n"]) for value, g in groups.items()]
        lines += [f"### {name}", ""] + _md_table((name, "accuracy", "uar", "n"), rows)
    return lines if report["per_group"] else lines + ["No group columns hold values.", ""]


def _md_reproducibility(report: dict) -> list[str]:
    rep = report["reproducibility"]
    keys = REPRODUCIBILITY_KEYS + tuple(k for k in ("flr_prose", "fclr_prose") if k in rep)
    if rep["runs"] < 2 or all(rep.get(k) is None for k in keys):
        why = (f"it needs two or more seeds, this report has {rep['runs']}" if rep["runs"] < 2
               else rep["note"])
        return [f"Reproducibility (GLR … PCLR) is left out: {why}.", ""]
    rows = [(k.upper() if "prose" not in k else k, _pct(rep.get(k))) for k in keys]
    return (["## Reproducibility (%, SpeechNet eqs. 1-6)", "", f"{rep['note']}. {rep['definition']}", ""]
            + _md_table(("metric", "value"), rows))


def _md_protocol(report: dict) -> list[str]:
    rows = [(k, json.dumps(v)) for k, v in report["protocol"].items()]
    return ["## Protocol", ""] + _md_table(("key", "value"), rows)


def _md_figures(report: dict) -> list[str]:
    return ["## Figures", ""] + [f"![{Path(p).stem}]({p})" for p in report["figures"]] + [""]


def _jsonable(value):
    """Plain JSON types: numpy scalars/arrays converted, NaN and inf become null."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, Path):
        return str(value)
    return value


def _relative(path: Path, root: Path) -> str:
    try:
        return Path(path).resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return str(path)


def _version() -> str | None:
    try:
        return metadata.version("serkit")
    except metadata.PackageNotFoundError:
        return None
