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


def run_release(config: ExperimentConfig, *, out_dir=None, data_root=None, progress: bool = True) -> dict:
    """Run steps 1–4 of the module docstring; returns the release record."""
    release = config.release
    if release is None:
        raise ConfigError(f"{config.experiment} has no release: section; run it with `serkit run`")
    out = Path(out_dir) if out_dir is not None else Path("runs") / config.experiment
    plain = dataclasses.replace(config, release=None)
    scores = {}
    for protocol in release.protocols:
        evaluated = dataclasses.replace(plain, protocol=protocol)
        scores[protocol.split] = _variant_reports(evaluated, out / protocol.split, data_root, progress)
    chosen = _choose(scores, release.choose_by)
    final_config = _final_config(plain, chosen, release.final_val_fraction)
    model, scaler, dataset, fold = _train_final(final_config, out / "final", data_root, progress)
    extractor = dataset.extractor
    record = _record(config, scores, chosen, final_config, dataset, fold, model)
    card = model_card(record)
    save_bundle(release.bundle, name=release.name, model=model, extractor=extractor,
                standardizer=scaler, labels=dataset.classes, training=record["training"],
                metrics=record["metrics"], description=release.description, card=card,
                model_name=final_config.model.name,
                model_params=resolved_params(final_config.model.name, extractor.spec, final_config.model.params))
    atomic_write_text(out / "release.json", json.dumps(record, indent=2, default=str))
    atomic_write_text(out / "release.md", card)
    log.info("released %s (%s) to %s", release.name, chosen, release.bundle)
    return record


def _variant_reports(config: ExperimentConfig, out: Path, data_root, progress: bool) -> dict[str, dict]:
    """Each variant's report under one protocol (a config without variants is one variant)."""
    return run_variants(config, out_dir=out, data_root=data_root, progress=progress)


def _choose(scores: dict[str, dict[str, dict]], metric: str) -> str:
    variants = next(iter(scores.values())).keys()
    mean = {v: sum(reports[v]["metrics"][metric]["mean"] for reports in scores.values()) / len(scores)
            for v in variants}
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
    return model, scaler, dataset, fold


def _record(config, scores, chosen, final_config, dataset, fold, model) -> dict:
    metric = config.release.choose_by
    utts = dataset.corpus.utterances
    table = {split: {v: {"uar": r["metrics"]["uar"]["mean"], "accuracy": r["metrics"]["accuracy"]["mean"],
                         "macro_f1": r["metrics"]["macro_f1"]["mean"]} for v, r in reports.items()}
             for split, reports in scores.items()}
    per_corpus = {split: _per_group(reports[chosen], "corpus") for split, reports in scores.items()}
    return {
        "name": config.release.name,
        "description": config.release.description,
        "chosen_variant": chosen,
        "chosen_by": f"mean {metric} over {', '.join(scores)}",
        "metrics": {"protocols": {split: t[chosen] for split, t in table.items()}, "per_corpus": per_corpus},
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
    lines = [
        f"# Model card: `{record['name']}`", "",
        record["description"], "",
        "## What it is",
        f"- Model `{t['model']['name']}` with params `{json.dumps(t['model']['params'])}` "
        f"({t['parameters']:,} parameters), on features `{t['features']['name']}` "
        f"`{json.dumps(t['features']['params'])}`.",
        f"- Chosen among the candidates below by {record['chosen_by']}: `{record['chosen_variant']}`.",
        f"- Produced by `{t['command']}` (configs/), which also measured every number here.", "",
        "## Training data",
        f"{t['utterances']} utterances of {t['speakers']} speakers, label scheme `{t['label_scheme']}` "
        f"({', '.join(labels)}):", "",
        "| corpus | speech | " + " | ".join(labels) + " |",
        "|---|---|" + "---|" * len(labels),
    ]
    for corpus, counts in t["corpora"].items():
        lines.append(f"| {corpus} | {CORPUS_NOTES.get(corpus, '')} | "
                     + " | ".join(str(counts.get(e, 0)) for e in labels) + " |")
    final = t["final_fit"]
    lines += ["", f"The released weights were trained on {final['train']} utterances; "
              f"{final['validation']} ({'; '.join(final['notes'])}) chose the checkpoint.", "",
              "## How well it does (speaker- and corpus-independent)", "",
              "UA = unweighted average recall (mean per-class recall), WA = accuracy. "
              "Leave-one-speaker-out tests each speaker with a model that never heard them; "
              "leave-one-corpus-out tests each corpus with a model trained on the other four "
              "(another language or recording set-up): the closest we can measure to "
              "\"anyone's audio\".", "",
              "| candidate | " + " | ".join(f"{s} UA | {s} WA" for s in record["candidates"]) + " |",
              "|---|" + "---|---|" * len(record["candidates"])]
    for variant in next(iter(record["candidates"].values())):
        cells = [f"{100 * record['candidates'][s][variant]['uar']:.1f} | "
                 f"{100 * record['candidates'][s][variant]['accuracy']:.1f}" for s in record["candidates"]]
        mark = " (chosen)" if variant == record["chosen_variant"] else ""
        lines.append(f"| {variant}{mark} | " + " | ".join(cells) + " |")
    lines += ["", "UA of the chosen model by test corpus:", "",
              "| protocol | " + " | ".join(t["corpora"]) + " |", "|---|" + "---|" * len(t["corpora"])]
    for split, per in record["metrics"]["per_corpus"].items():
        lines.append(f"| {split} | " + " | ".join(
            "—" if per.get(c) is None else f"{100 * per[c]:.1f}" for c in t["corpora"]) + " |")
    lines += ["", "## Known limits",
              "- Acted speech only: professional or student actors reading fixed sentences. "
              "Spontaneous, conversational or noisy speech is harder; expect lower accuracy.",
              f"- Five classes ({', '.join(labels)}): other states (surprise, disgust, calm, "
              "boredom, frustration, ...) are forced into one of them.",
              "- Languages covered: German, English (North American, Canadian, British) and "
              "Mandarin. Others are untested; the leave-one-corpus-out row shows how much a "
              "new language or recording set-up costs.",
              "- The probabilities are the softmax of a model trained with class weights; they "
              "are not calibrated confidences.",
              "- Adults only; SAVEE is male-only and TESS female-only, so gender and corpus are "
              "confounded there.",
              "- One label per clip (or per window with `--timeline`); mixed emotions are not "
              "modelled.", ""]
    return "\n".join(lines)
