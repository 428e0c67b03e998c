"""Few-shot adaptation to a new speaker: how much do 1, 3 or 10 labelled clips help?

Leave-one-speaker-out on EmoDB and on RAVDESS, 4 classes (anger, happiness, neutral,
sadness), voice-encoder utterance embeddings (256-d). For each held-out speaker and each
N, 5 seeded random draws of N clips per class of that speaker form the support set, and
the rest of that speaker's clips (of the 4 classes) are the test set. Methods, scored by
unweighted accuracy (UA, the mean of the per-class recalls) on that test set:

- ``zero-shot prototype``: nearest class prototype (cosine), the prototypes fitted on
  the other speakers of the same corpus; no clip of the new speaker is used (the
  baseline);
- ``zero-shot logistic``: serkit's few-shot logistic head fitted on the other speakers
  (a second baseline: a classifier on many clips of other people);
- ``prototype`` and ``logistic``: the heads of ``serkit fewshot``
  (:mod:`serkit.training.fewshot`) fitted on the support set alone.

A class of the speaker with N or fewer clips gives ``min(N, clips - 1)`` of them to the
support set, so that every class keeps one test clip: the ``shots/class`` column is the
mean number actually drawn (EmoDB speakers have 2 to 16 clips per class, RAVDESS actors
4 neutral and 8 of the others, so N = 10 means "all but one" there). A speaker with a
class of fewer than 2 clips is left out.

Usage:
    python benchmarks/bench_fewshot.py [--data DIR] [--corpora emodb ravdess]
        [--shots 1 3 10] [--draws 5] [--seed 0] [--C 1.0] [--out results/fewshot/results.json]

DIR defaults to $SERKIT_DATA or ../shared/data beside the checkout; a corpus not found
there is skipped (exit 0 with a message when none is). Embeddings are cached with
serkit's FeatureCache ($SERKIT_CACHE, else ~/.cache/serkit/features), so a rerun takes
seconds. One torch thread, one process.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

# One core: set before numpy/torch start their thread pools.
for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ[var] = "1"

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = Path(os.environ.get("SERKIT_DATA", ROOT.parent / "shared" / "data"))
DEFAULT_OUT = ROOT / "results" / "fewshot" / "results.json"
CLASSES = ("anger", "happiness", "neutral", "sadness")
METHODS = ("zero-shot prototype", "zero-shot logistic", "prototype", "logistic")


def load_embeddings(corpus_name: str, root: Path, *, progress: bool):
    """``(embeddings (n, 256), class indices (n,), speakers (n,))`` of the corpus's 4-class clips."""
    from serkit.corpora import load_corpus
    from serkit.features import FeatureCache, extract_corpus
    from serkit.inference.embedding import embedding_extractor

    corpus = load_corpus(corpus_name, root).with_scheme("4class-strict")
    utterances = [u for u in corpus if u.emotion in CLASSES]
    extractor = embedding_extractor()  # voice_encoder, pooling="embedding"
    features = extract_corpus([u.path for u in utterances], extractor, cache=FeatureCache(),
                              n_jobs=1, progress=progress)
    x = np.stack(features).astype(np.float32)
    y = np.array([CLASSES.index(u.emotion) for u in utterances])
    speakers = np.array([u.speaker for u in utterances])
    return x, y, speakers


def ua(truth: np.ndarray, predicted: np.ndarray) -> float:
    """Unweighted accuracy: the mean recall over the classes present in ``truth``."""
    return float(np.mean([np.mean(predicted[truth == c] == c) for c in np.unique(truth)]))


def run_corpus(name: str, x: np.ndarray, y: np.ndarray, speakers: np.ndarray, *,
               shots: list[int], draws: int, seed: int, C: float) -> dict:
    from serkit.training.fewshot import fit_head

    n_classes = len(CLASSES)
    rows, skipped = [], []
    for s_index, speaker in enumerate(sorted(set(speakers))):
        mine = np.flatnonzero(speakers == speaker)
        counts = np.bincount(y[mine], minlength=n_classes)
        if counts.min() < 2:
            skipped.append({"speaker": speaker, "clips_per_class": counts.tolist()})
            continue
        others = np.flatnonzero(speakers != speaker)
        zero_proto = fit_head("prototype", x[others], y[others], n_classes)
        zero_lr = fit_head("logistic", x[others], y[others], n_classes, C=C)
        for n in shots:
            for draw in range(draws):
                rng = np.random.default_rng([seed, s_index, n, draw])
                support, test = [], []
                for c in range(n_classes):
                    clips = mine[y[mine] == c]
                    k = min(n, len(clips) - 1)
                    picked = rng.permutation(clips)
                    support += picked[:k].tolist()
                    test += picked[k:].tolist()
                support, test = np.array(sorted(support)), np.array(sorted(test))
                proto = fit_head("prototype", x[support], y[support], n_classes)
                lr = fit_head("logistic", x[support], y[support], n_classes, C=C)
                truth = y[test]
                rows.append({
                    "speaker": speaker, "n": n, "draw": draw,
                    "shots": np.bincount(y[support], minlength=n_classes).tolist(),
                    "n_test": len(test),
                    "scale": proto.details["scale"],
                    "scale_source": ("leave-one-out" if proto.details["scale_source"].startswith("leave")
                                     else "fixed"),
                    "ua": {
                        "zero-shot prototype": ua(truth, zero_proto.predict(x[test])),
                        "zero-shot logistic": ua(truth, zero_lr.predict(x[test])),
                        "prototype": ua(truth, proto.predict(x[test])),
                        "logistic": ua(truth, lr.predict(x[test])),
                    },
                })
    return {"rows": rows, "skipped_speakers": skipped, "summary": summarise(rows, shots)}


def summarise(rows: list[dict], shots: list[int]) -> list[dict]:
    """Per N: the mean UA over speakers (each the mean of its draws), its std over speakers."""
    out = []
    for n in shots:
        mine = [r for r in rows if r["n"] == n]
        if not mine:
            continue
        speakers = sorted({r["speaker"] for r in mine})
        entry = {"n": n, "speakers": len(speakers), "draws": len(mine),
                 "shots_per_class": float(np.mean([np.mean(r["shots"]) for r in mine])),
                 "test_clips": float(np.mean([r["n_test"] for r in mine]))}
        loo = [r["scale"] for r in mine if r["scale_source"] == "leave-one-out"]
        entry["median_loo_scale"] = float(np.median(loo)) if loo else None
        for method in METHODS:
            per_speaker = [np.mean([r["ua"][method] for r in mine if r["speaker"] == s]) for s in speakers]
            entry[method] = {"mean": float(np.mean(per_speaker)), "std": float(np.std(per_speaker))}
        out.append(entry)
    return out


def table(results: dict) -> str:
    head = ("| corpus | N | shots/class | speakers | "
            + " | ".join(f"{m} UA %" for m in METHODS) + " |")
    lines = [head, "|" + "---|" * (4 + len(METHODS))]
    for corpus, result in results.items():
        for e in result["summary"]:
            cells = [f"{100 * e[m]['mean']:.1f} ± {100 * e[m]['std']:.1f}" for m in METHODS]
            lines.append(f"| {corpus} | {e['n']} | {e['shots_per_class']:.2f} | {e['speakers']} | "
                         + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="folder holding emodb/, ravdess/")
    parser.add_argument("--corpora", nargs="+", default=["emodb", "ravdess"])
    parser.add_argument("--shots", nargs="+", type=int, default=[1, 3, 10])
    parser.add_argument("--draws", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--C", type=float, default=None, help="logistic head's C (default serkit's)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)

    import torch

    from serkit.training.fewshot import DEFAULT_C, DEFAULT_SCALE

    torch.set_num_threads(1)
    C = DEFAULT_C if args.C is None else args.C
    roots = {name: args.data / name for name in args.corpora}
    missing = [name for name, root in roots.items() if not root.is_dir()]
    for name in missing:
        print(f"skipping {name}: not found at {roots[name]}", file=sys.stderr)
    roots = {name: root for name, root in roots.items() if name not in missing}
    if not roots:
        print(f"no corpus found under {args.data}; set SERKIT_DATA or --data", file=sys.stderr)
        return 0
    start = time.perf_counter()
    results = {}
    for name, root in roots.items():
        t0 = time.perf_counter()
        x, y, speakers = load_embeddings(name, root, progress=not args.no_progress)
        t1 = time.perf_counter()
        results[name] = run_corpus(name, x, y, speakers, shots=args.shots, draws=args.draws,
                                   seed=args.seed, C=C)
        results[name]["clips"] = len(y)
        results[name]["seconds"] = {"embeddings": round(t1 - t0, 1),
                                    "fitting": round(time.perf_counter() - t1, 1)}
        print(f"{name}: {len(y)} clips of {len(set(speakers))} speakers; embeddings "
              f"{t1 - t0:.1f} s (cached after the first run), fitting {time.perf_counter() - t1:.1f} s",
              file=sys.stderr)
    text = table(results)
    print(text)
    print("\nUA: mean over held-out speakers of the mean over draws, ± its std over speakers; "
          f"{args.draws} draws per speaker and N; logistic C = {C:g}")
    payload = {
        "benchmark": "benchmarks/bench_fewshot.py",
        "settings": {"corpora": list(roots), "classes": list(CLASSES), "shots": args.shots,
                     "draws": args.draws, "seed": args.seed, "C": C, "fixed_scale": DEFAULT_SCALE,
                     "features": {"name": "voice_encoder", "params": {"pooling": "embedding"}},
                     "torch_threads": torch.get_num_threads()},
        "table": text,
        "corpora": results,
        "seconds": round(time.perf_counter() - start, 1),
    }
    from serkit.fileio import atomic_write_text

    args.out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(args.out, json.dumps(payload, indent=1) + "\n")
    print(f"wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
