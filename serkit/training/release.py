"""Releases: choose a model by speaker- and corpus-independent UA, train it on everything, ship it.

``serkit release CONFIG`` on a config with a ``release:`` section (e.g. configs/default-model.yaml):

1. every variant of the config runs under every protocol of ``release.protocols`` (for the
   default model: leave-one-speaker-out and leave-one-corpus-out), into
   ``runs/<experiment>/<protocol>/<variant>/`` with the usual reports;
2. the variant with the best mean ``release.choose_by`` (UA) over those protocols wins;
   test folds only *score* the variants, no checkpoint is chosen on them;
3. the winner is trained once more on all the data, whole speakers held out only to
   choose its checkpoint (split kind ``final``), into ``runs/<experiment>/final/``;
4. that model is written as a bundle (``release.bundle``) with a model card whose every
   number comes from steps 1–3, and ``release.json``/``release.md`` record the choice.

Every step resumes like any experiment: finished folds are skipped.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections import Counter
from pathlib import Path

import torch

from serkit.features.extract import Standardizer
from serkit.fileio import atomic_write_text
from serkit.errors import ConfigError
from serkit.inference.bundle import save_bundle
from serkit.models import make_model_for, n_parameters, resolved_params
from serkit.rundir import FoldDir
from serkit.splits import make_split
from serkit.training.config import ExperimentConfig, ProtocolConfig, variant_configs
from serkit.training.runner import load_dataset, run_fold, run_variants

log = logging.getLogger(__name__)

#: How the model card calls the corpora's languages and speech.
CORPUS_NOTES = {
    "emodb": "German, 10 actors",
    "ravdess": "North American English, 24 actors",
    "tess": "Canadian English, 2 actresses (aged 26 and 64)",
    "savee": "British English, 4 male actors",
    "casia": "Mandarin Chinese, 4 actors",
    "iemocap": "American English, 10 actors, dyadic sessions",
    "esd": "English and Mandarin, 20 speakers",
    "cremad": "American English, 91 actors",
    "emovo": "Italian, 6 actors",
    "ased": "Amharic, 65 speakers (25 women, 40 men)",
    "nemo": "Polish, 9 actors",
}

#: Licence of each corpus, for the model card (the weights are trained on them).
CORPUS_LICENCES = {
    "emodb": "research use, as stated by its authors",
    "ravdess": "CC BY-NC-SA 4.0",
    "tess": "CC BY-NC-ND 4.0",
    "savee": "free for research use",
    "casia": "research use (public 1200-utterance subset)",
    "ased": "as published at github.com/Ethio2021/ASED_V1 (research use; cite Retta et al. 2022)",
    "nemo": "CC BY-NC-SA 4.0 (github.com/amu-cai/nEMO)",
}


def run_release(config: ExperimentConfig, *, out_dir=None, data_root=None, progress: bool = True,
                executor=None) -> dict:
    """Run steps 1–4 of the module docstring; returns the release record.

    ``executor`` (:mod:`serkit.training.executors`) runs the candidates' folds (step 1),
    e.g. as Ray tasks; the one final fit runs here.
    """
    release = config.release
    if release is None:
        raise ConfigError(f"{config.experiment} has no release: section; run it with `serkit run`")
    out = Path(out_dir) if out_dir is not None else Path("runs") / config.experiment
    plain = dataclasses.replace(config, release=None)
    scores = {}
    for protocol in release.protocols:
        evaluated = dataclasses.replace(plain, protocol=protocol)
        key = protocol_key(protocol)
        scores[key] = _variant_reports(evaluated, out / key, data_root, progress, executor)
    collapse = collapsed_folds(scores, release.max_label_share)
    eligible = [v for v in next(iter(scores.values())) if not collapse.get(v)]
    if not eligible:
        atomic_write_text(out / "release.json", json.dumps({"failed": "every candidate collapsed",
                                                            "collapsed": collapse}, indent=2))
        raise ConfigError(
            f"release {release.name!r} failed: every candidate answers one label to more than "
            f"{100 * release.max_label_share:.0f} % of some held-out corpus "
            f"({_describe_collapse(collapse)}); see {out / 'release.json'}. The bundle was not changed")
    chosen = _choose(scores, release.choose_by, eligible)
    final_config = _final_config(plain, chosen, release.final_val_fraction)
    model, scaler, temperature, dataset, fold = _train_final(final_config, out / "final", data_root, progress)
    extractor = dataset.extractor
    record = _record(config, scores, chosen, final_config, dataset, fold, model)
    record["collapsed"] = collapse
    record["final_temperature"] = temperature
    card = model_card(record)
    save_bundle(release.bundle, name=release.name, model=model, extractor=extractor,
                standardizer=scaler, labels=dataset.classes, training=record["training"],
                metrics=record["metrics"], description=release.description, card=card,
                model_name=final_config.model.name,
                model_params=resolved_params(final_config.model.name, extractor.spec, final_config.model.params),
                temperature=temperature)
    atomic_write_text(out / "release.json", json.dumps(record, indent=2, default=str))
    atomic_write_text(out / "release.md", card)
    log.info("released %s (%s) to %s", release.name, chosen, release.bundle)
    return record


def _variant_reports(config: ExperimentConfig, out: Path, data_root, progress: bool,
                     executor=None) -> dict[str, dict]:
    """Each variant's report under one protocol (a config without variants is one variant)."""
    return run_variants(config, out_dir=out, data_root=data_root, progress=progress, executor=executor)


def protocol_key(protocol: ProtocolConfig) -> str:
    """How a release names a protocol (its folder, its column): ``loco``, ``loco-adapt``..."""
    return protocol.split + ("-adapt" if protocol.adapt else "")


def collapsed_folds(scores: dict[str, dict[str, dict]], max_share: float | None) -> dict[str, dict]:
    """Per variant, the leave-one-corpus-out test corpora whose most frequent predicted
    label exceeds ``max_share`` of their predictions: ``{variant: {"loco/emodb": share}}``."""
    if max_share is None:
        return {}
    out: dict[str, dict] = {}
    for key, reports in scores.items():
        if not key.startswith("loco"):
            continue
        for variant, report in reports.items():
            for corpus, top in report.get("prediction_shares", {}).items():
                if top["share"] > max_share:
                    out.setdefault(variant, {})[f"{key}/{corpus}"] = top["share"]
    return out


def _describe_collapse(collapse: dict[str, dict]) -> str:
    return "; ".join(f"{v}: " + ", ".join(f"{fold} {100 * share:.0f} %" for fold, share in folds.items())
                     for v, folds in collapse.items())


def _choose(scores: dict[str, dict[str, dict]], metric: str, eligible: list[str]) -> str:
    mean = {v: sum(reports[v]["metrics"][metric]["mean"] for reports in scores.values()) / len(scores)
            for v in eligible}
    return max(mean, key=mean.get)


def _final_config(config: ExperimentConfig, chosen: str, val_fraction: float) -> ExperimentConfig:
    variant = variant_configs(config)[chosen] if config.variants else config
    return dataclasses.replace(
        variant, experiment=f"{config.experiment}-final", seeds=1, variants={},
        protocol=ProtocolConfig(split="final", params={"val_fraction": val_fraction}))


def _train_final(config: ExperimentConfig, folder: Path, data_root, progress: bool):
    dataset = load_dataset(config, data_root=data_root, progress=progress)
    seed = config.first_seed
    (fold,) = make_split(dataset.corpus.utterances, "final", seed=seed, **config.protocol.params)
    fold_dir = FoldDir(folder, seed, 0)
    if not fold_dir.model_pt.exists():
        run_fold(config, dataset, fold, fold_dir, progress=progress)
    model = make_model_for(config.model.name, dataset.extractor.spec, len(dataset.classes), **config.model.params)
    model.load_state_dict(torch.load(fold_dir.model_pt, weights_only=True, map_location="cpu"))
    model.eval()
    scaler = (Standardizer.from_state(json.loads(fold_dir.scaler.read_text()))
              if fold_dir.scaler.exists() else None)
    temperature = (json.loads(fold_dir.calibration.read_text())["temperature"]
                   if fold_dir.calibration.exists() else 1.0)
    return model, scaler, temperature, dataset, fold


def _record(config, scores, chosen, final_config, dataset, fold, model) -> dict:
    metric = config.release.choose_by
    utts = dataset.corpus.utterances
    table = {split: {v: {"uar": r["metrics"]["uar"]["mean"], "accuracy": r["metrics"]["accuracy"]["mean"],
                         "macro_f1": r["metrics"]["macro_f1"]["mean"]} for v, r in reports.items()}
             for split, reports in scores.items()}
    per_corpus = {split: _per_group(reports[chosen], "corpus") for split, reports in scores.items()}
    shares = {split: reports[chosen].get("prediction_shares", {}) for split, reports in scores.items()}
    calibration = {split: _mean((reports[chosen].get("calibration") or {}).get("ece"))
                   for split, reports in scores.items()}
    return {
        "name": config.release.name,
        "description": config.release.description,
        "chosen_variant": chosen,
        "notes": list(config.release.notes),
        "chosen_by": f"mean {metric} over {', '.join(scores)}",
        "metrics": {"protocols": {split: t[chosen] for split, t in table.items()}, "per_corpus": per_corpus,
                    "prediction_shares": shares, "calibration_error": calibration},
        "candidates": table,
        "training": {
            "experiment": config.experiment,
            "command": f"serkit release configs/{config.experiment}.yaml",
            "corpora": {c: dict(sorted(Counter(u.emotion for u in utts if u.corpus == c).items()))
                        for c in final_config.data.corpora},
            "speakers": len({u.speaker for u in utts}),
            "utterances": len(utts),
            "final_fit": {"train": len(fold.train), "validation": len(fold.val), "notes": list(fold.notes)},
            "label_scheme": final_config.data.label_scheme,
            "features": dataclasses.asdict(final_config.features),
            "model": dataclasses.asdict(final_config.model),
            "parameters": n_parameters(model),
            "training": dataclasses.asdict(final_config.training),
        },
    }


def _per_group(report: dict, kind: str) -> dict[str, float]:
    """UA by group value (e.g. corpus) from a report's per-group metrics."""
    groups = report.get("per_group", {}).get(kind, {})
    return {name: _mean(values.get("uar")) for name, values in groups.items()}


def _mean(value):
    return value.get("mean") if isinstance(value, dict) else value


def model_card(record: dict) -> str:
    """The model card (Markdown) of a release record: data, labels, protocols, metrics, limits."""
    t = record["training"]
    labels = sorted({e for counts in t["corpora"].values() for e in counts})
    corpora = list(t["corpora"])
    lines = [
        f"# Model card: `{record['name']}`", "",
        record["description"], "",
        "## What it is",
        f"- Model `{t['model']['name']}` with params `{json.dumps(t['model']['params'])}` "
        f"({t['parameters']:,} parameters), on features `{t['features']['name']}` "
        f"`{json.dumps(t['features']['params'])}`.",
        f"- Chosen among the candidates below by {record['chosen_by']}: `{record['chosen_variant']}`.",
        f"- Produced by `{t['command']}` (configs/), which also measured every number here.", "",
        *_card_notes(record),
        *_card_data(record, labels),
        "## How well it does (speaker- and corpus-independent)", "",
        "UA = unweighted average recall (mean per-class recall), WA = accuracy. "
        "`loso`: leave-one-speaker-out, each speaker tested by a model that never heard them; "
        "`loco`: leave-one-corpus-out, each corpus tested by a model trained on the others "
        "(another language or recording set-up), the closest we can measure to \"anyone's "
        "audio\"; `-adapt`: the test corpus standardised on its own clips, as "
        "`serkit predict --adapt` does with the files of one call.", "",
        "| candidate | " + " | ".join(f"{s} UA | {s} WA" for s in record["candidates"]) + " |",
        "|---|" + "---|---|" * len(record["candidates"]),
    ]
    for variant in next(iter(record["candidates"].values())):
        cells = [f"{100 * record['candidates'][s][variant]['uar']:.1f} | "
                 f"{100 * record['candidates'][s][variant]['accuracy']:.1f}" for s in record["candidates"]]
        mark = " (chosen)" if variant == record["chosen_variant"] else ""
        if variant in record.get("collapsed", {}):
            mark += " (collapsed: not eligible)"
        lines.append(f"| {variant}{mark} | " + " | ".join(cells) + " |")
    lines += ["", "UA of the chosen model by test corpus, their mean (each corpus counts once, "
              "whatever its size; the table above pools all clips) and the worst:", "",
              "| protocol | " + " | ".join(corpora) + " | mean | worst |", "|---|" + "---|" * (len(corpora) + 2)]
    for split, per in record["metrics"]["per_corpus"].items():
        known = [v for v in per.values() if v is not None]
        lines.append(f"| {split} | " + " | ".join(
            "—" if per.get(c) is None else f"{100 * per[c]:.1f}" for c in corpora)
            + (f" | {100 * sum(known) / len(known):.1f} | {100 * min(known):.1f} |" if known else " | — | — |"))
    lines += _card_collapse(record, corpora) + _card_calibration(record) + _card_limits(record, labels)
    return "\n".join(lines)


def _card_notes(record: dict) -> list[str]:
    notes = record.get("notes") or []
    return ["## Choices", "", *(f"- {note}" for note in notes), ""] if notes else []


def _card_data(record: dict, labels: list[str]) -> list[str]:
    t = record["training"]
    lines = ["## Training data",
             f"{t['utterances']} utterances of {t['speakers']} speakers, label scheme `{t['label_scheme']}` "
             f"({', '.join(labels)}):", "",
             "| corpus | speech | licence | " + " | ".join(labels) + " |",
             "|---|---|---|" + "---|" * len(labels)]
    for corpus, counts in t["corpora"].items():
        lines.append(f"| {corpus} | {CORPUS_NOTES.get(corpus, '')} | {CORPUS_LICENCES.get(corpus, 'see the corpus')} | "
                     + " | ".join(str(counts.get(e, 0)) for e in labels) + " |")
    final = t["final_fit"]
    return lines + ["", "The weights inherit the most restrictive of these licences (several are "
                    "non-commercial): research use.", "",
                    f"The released weights were trained on {final['train']} utterances; "
                    f"{final['validation']} ({'; '.join(final['notes'])}) chose the checkpoint.", ""]


def _card_collapse(record: dict, corpora: list[str]) -> list[str]:
    shares = {k: v for k, v in record["metrics"].get("prediction_shares", {}).items() if k.startswith("loco")}
    if not shares:
        return []
    lines = ["", "Most frequent predicted label per held-out corpus (share of its predictions; "
             "a share far above 1/classes means the model answers one label to that corpus):", "",
             "| protocol | " + " | ".join(corpora) + " |", "|---|" + "---|" * len(corpora)]
    for split, per in shares.items():
        lines.append(f"| {split} | " + " | ".join(
            f"{per[c]['label']} {100 * per[c]['share']:.0f} %" if c in per else "—" for c in corpora) + " |")
    return lines


def _card_calibration(record: dict) -> list[str]:
    errors = {k: v for k, v in record["metrics"].get("calibration_error", {}).items() if v is not None}
    temperature = record.get("final_temperature", 1.0)
    if not errors and temperature == 1.0:
        return []
    lines = ["", "## Calibration", ""]
    if temperature != 1.0:
        lines.append(f"The probabilities are the softmax at temperature {temperature:.3f}, fitted on the "
                     "validation speakers of the final training (temperature scaling: the label never "
                     "changes, only the confidence).")
    if errors:
        lines.append("Expected calibration error (top label, 15 bins) on the test folds, each fold's "
                     "temperature fitted on its own validation side: "
                     + ", ".join(f"{k} {100 * v:.1f} %" for k, v in errors.items()) + ".")
    return lines


def _card_limits(record: dict, labels: list[str]) -> list[str]:
    t = record["training"]
    speech = "; ".join(f"{c}: {CORPUS_NOTES[c]}" for c in t["corpora"] if c in CORPUS_NOTES)
    calibrated = record.get("final_temperature", 1.0) != 1.0
    return ["", "## Known limits",
            "- Acted speech only: actors or volunteers reading fixed sentences in a given emotion. "
            "Spontaneous, conversational or noisy speech is harder; expect lower accuracy.",
            f"- {len(labels)} classes ({', '.join(labels)}): other states (surprise, disgust, calm, "
            "boredom, frustration, ...) are forced into one of them.",
            f"- Speech it learned from: {speech}. Other languages are untested; the "
            "leave-one-corpus-out rows show what a new language or recording set-up costs.",
            "- The probabilities are " + ("temperature-calibrated on validation speakers, but "
                                          "calibration does not carry to every set-up."
                                          if calibrated else "the softmax of the model; they are "
                                          "not calibrated confidences."),
            "- Adults only; some corpora are one gender only, so gender and corpus are partly "
            "confounded.",
            "- One label per clip (or per window with `--timeline`); mixed emotions are not "
            "modelled.", ""]
