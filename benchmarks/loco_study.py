"""A quick leave-one-corpus-out study of the default model's choices, with scikit-learn.

The release (``serkit release configs/default-model.yaml``) decides; this study only
guided which candidates to put in it. On the seven corpora of the default model (frozen
``voice_encoder`` features, utterance embedding + pooled frame states), a balanced
logistic regression is trained on six corpora and tested on the seventh, on single clips
(standardised with the training statistics) and adapted (the test corpus standardised on
its own clips). It compares:

- the L2 strength ``C``;
- training corpora standardised each on its own clips vs pooled;
- two copies of every training clip through a random recording channel
  (``recording_channel``, the release's seed 0);
- four classes vs five (fear added), scored on the four shared classes.

Prints one line per setting (mean and worst UA over the held-out corpora, the largest
share of one predicted label in a corpus) and writes ``results/default-model-study/
study.json``. Needs the corpora of configs/default-model.yaml; the features come from the
feature cache (computed on first use, about 10 minutes on two cores).

Usage:
    python benchmarks/loco_study.py
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
import warnings
from pathlib import Path

for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = "1"

import numpy as np  # noqa: E402

CONFIG = Path(__file__).resolve().parents[1] / "configs" / "default-model.yaml"
OUT = Path(__file__).resolve().parents[1] / "results" / "default-model-study" / "study.json"


def by_group(x: np.ndarray, groups: np.ndarray) -> np.ndarray:
    out = np.empty_like(x)
    for g in np.unique(groups):
        m = groups == g
        out[m] = (x[m] - x[m].mean(0)) / (x[m].std(0) + 1e-8)
    return out


def loco(x, y, corpora, *, c, norm="corpus", extra=(), score_labels=None):
    """Per held-out corpus: single-clip UA, adapted UA and the top predicted label's share."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import recall_score

    rows = {}
    for corpus in np.unique(corpora):
        train, test = corpora != corpus, corpora == corpus
        if score_labels is not None:
            test = test & np.isin(y, score_labels)
        xs = np.vstack([x[train], *(e[train] for e in extra)])
        ys = np.concatenate([y[train]] * (1 + len(extra)))
        gs = np.concatenate([corpora[train]] * (1 + len(extra)))
        mean, std = xs.mean(0), xs.std(0) + 1e-8
        fitted = by_group(xs, gs) if norm == "corpus" else (xs - mean) / std
        model = LogisticRegression(C=c, max_iter=3000, class_weight="balanced").fit(fitted, ys)
        single = model.predict((x[test] - mean) / std)
        adapted = model.predict(by_group(x[test], corpora[test]))
        labels = sorted(set(y[test]))
        rows[str(corpus)] = {
            "single": recall_score(y[test], single, labels=labels, average="macro"),
            "adapted": recall_score(y[test], adapted, labels=labels, average="macro"),
            "top_share": float(np.bincount(single).max() / len(single))}
    return rows


def summary(rows: dict) -> dict:
    return {"single_mean": float(np.mean([r["single"] for r in rows.values()])),
            "single_worst": float(min(r["single"] for r in rows.values())),
            "adapted_mean": float(np.mean([r["adapted"] for r in rows.values()])),
            "max_top_share": float(max(r["top_share"] for r in rows.values()))}


def dataset(scheme: str | None = None, augment: int | None = None):
    from serkit.augmentation import augmented_extractors, make_augmentation
    from serkit.features import FeatureCache, extract_corpus
    from serkit.training.config import load_config
    from serkit.training.runner import load_dataset

    config = load_config(CONFIG)
    config = dataclasses.replace(config, variants={}, release=None)
    if scheme:
        config = dataclasses.replace(config, data=dataclasses.replace(config.data, label_scheme=scheme))
    data = load_dataset(config, progress=False)
    x = np.stack(data.features).astype(np.float64)
    corpora = np.array([u.corpus for u in data.corpus.utterances])
    copies = []
    if augment:
        channel = make_augmentation("recording_channel", copies=augment)
        paths = [u.path for u in data.corpus.utterances]
        for extractor in augmented_extractors(data.extractor, [channel], seed=config.first_seed):
            copies.append(np.stack(extract_corpus(paths, extractor, cache=FeatureCache(), progress=False)))
    return x, data.targets, corpora, data.classes, copies


def main() -> int:
    warnings.filterwarnings("ignore", category=UserWarning)
    results = {}

    def record(name: str, rows: dict) -> None:
        results[name] = {"summary": summary(rows), "per_corpus": rows}
        s = results[name]["summary"]
        print(f"{name:38s} single {100 * s['single_mean']:.1f} (worst {100 * s['single_worst']:.1f}, "
              f"top share {100 * s['max_top_share']:.0f} %)  adapted {100 * s['adapted_mean']:.1f}", flush=True)

    x, y, corpora, classes, copies = dataset(augment=2)
    for c in (1.0, 0.1, 0.01, 0.003, 0.001):
        record(f"4 classes, C={c}, per-corpus", loco(x, y, corpora, c=c))
    record("4 classes, C=0.003, pooled", loco(x, y, corpora, c=0.003, norm="pooled"))
    record("4 classes, C=0.003, pooled, 2 channel copies", loco(x, y, corpora, c=0.003, norm="pooled", extra=copies))
    x5, y5, corpora5, classes5, _ = dataset(scheme="5class")
    shared = [classes5.index(c) for c in classes]
    record("5 classes (fear), C=0.003, scored on 4", loco(x5, y5, corpora5, c=0.003, score_labels=shared))
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps({"command": "python benchmarks/loco_study.py", "corpora": sorted(set(corpora)),
                               "classes": classes, "results": results}, indent=2))
    print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
