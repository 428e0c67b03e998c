"""How many files does ``--adapt`` need? UA on held-out corpora against the size of a call.

``serkit predict --adapt`` standardises the features on the statistics of the files of one
call. With few files those statistics are noisy. This script takes the leave-one-corpus-out
folds of a finished release run (``runs/default-model/loco-adapt/<variant>``, whose fold
models were trained on the other corpora), and for each held-out corpus draws calls of
``n`` random clips, standardises each call on its own clips, predicts it and scores UA over
all the calls' predictions; ``n = all`` is one call holding the whole corpus (what the
release's ``loco-adapt`` protocol measures), and ``single clip`` uses the training
statistics (no adaptation). The smallest ``n`` whose mean UA is within 0.02 of ``all`` is
printed: :data:`serkit.inference.recognizer.ADAPT_MIN_FILES` should be at least that.

Usage:
    python benchmarks/bench_adapt_size.py [RUN_DIR] [--draws 20] [--seed 0]

RUN_DIR defaults to runs/default-model/loco-adapt/<the chosen variant of release.json>.
Writes ``adapt_size.json`` into RUN_DIR as well as printing the table.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = "1"

import numpy as np  # noqa: E402
import torch  # noqa: E402
import yaml  # noqa: E402

SIZES = (5, 10, 20, 30, 50, 100)


def default_run() -> Path:
    release = json.loads(Path("runs/default-model/release.json").read_text())
    return Path("runs/default-model/loco-adapt") / release["chosen_variant"]


def adapted(raw: np.ndarray, trained) -> np.ndarray:
    """``raw`` standardised on its own statistics, as ``--adapt`` does (Standardizer.adapted)."""
    return trained.adapted(raw).transform(raw).astype(np.float32)


def main(argv: list[str] | None = None) -> int:
    from serkit.evaluation.metrics import classification_metrics
    from serkit.features.extract import Standardizer
    from serkit.models import make_model_for
    from serkit.rundir import RunDir
    from serkit.splits import SplitPlan
    from serkit.training.config import config_from_dict
    from serkit.training.runner import load_dataset

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run", nargs="?", type=Path, default=None)
    parser.add_argument("--draws", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    run = RunDir(args.run or default_run())
    config = config_from_dict(yaml.safe_load(run.config.read_text()))
    dataset = load_dataset(config, progress=False)
    seed = config.first_seed
    plan = SplitPlan.load(run.folds_plan(seed))
    rng = np.random.default_rng(args.seed)
    rows: dict[str, dict[str, float]] = {}
    for k, fold in enumerate(plan.folds):
        fold_dir = run.fold(seed, k)
        model = make_model_for(config.model.name, dataset.extractor.spec, len(dataset.classes), **config.model.params)
        model.load_state_dict(torch.load(fold_dir.model_pt, weights_only=True, map_location="cpu"))
        model.eval()
        trained = Standardizer.from_state(json.loads(fold_dir.scaler.read_text()))
        index = dataset.index_of(fold.test)
        raw = np.stack([dataset.features[i] for i in index])
        truth = dataset.targets[index]
        corpus = dataset.corpus.utterances[index[0]].corpus

        def ua(x: np.ndarray, t: np.ndarray) -> float:
            with torch.inference_mode():
                predicted = model(torch.from_numpy(x)).argmax(1).numpy()
            return classification_metrics(t, predicted)["uar"]

        row = {"single clip": ua(trained.transform(raw).astype(np.float32), truth), "all": ua(adapted(raw, trained), truth)}
        for n in SIZES:
            if n > len(index):
                continue
            truths, calls = [], []
            for _ in range(args.draws):
                pick = rng.choice(len(index), size=n, replace=False)
                calls.append(adapted(raw[pick], trained))
                truths.append(truth[pick])
            row[str(n)] = ua(np.concatenate(calls), np.concatenate(truths))
        rows[corpus] = row
        print(f"{corpus:8s} " + "  ".join(f"{k}={100 * v:.1f}" for k, v in row.items()), flush=True)
    columns = ["single clip", *[str(n) for n in SIZES], "all"]
    mean = {c: float(np.mean([r[c] for r in rows.values() if c in r])) for c in columns}
    print("\nmean UA over held-out corpora (%):")
    print("  ".join(f"{c}: {100 * mean[c]:.1f}" for c in columns))
    enough = next((int(c) for c in columns[1:-1] if mean[c] >= mean["all"] - 0.02), None)
    print(f"smallest call within 2 points of the whole corpus: {enough} files")
    (run.path / "adapt_size.json").write_text(json.dumps(
        {"per_corpus": rows, "mean": mean, "draws": args.draws, "seed": args.seed, "enough": enough}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
