"""What ``training.group_by_length`` saves on corpora of mixed lengths (the SERCT LOCO run).

Usage:
    python benchmarks/bench_group_by_length.py [--corpora emodb ravdess tess savee casia]
                                               [--max-seconds 6] [--steps 12]

Reads each clip's length from its file header (capped at ``--max-seconds``, as the
``waveform`` feature caps it), then prints for shuffled batches of 16, plain and grouped
by length (serkit.batching.batch_indices, 5 seeds):

* the padded samples a model computes on, per real sample (1.00 = no padding);
* the seconds of ``--steps`` training steps of the small SERCT (configs/serct/loco_small.yaml;
  one thread, Adam, random waveforms of the drawn lengths), and the epoch time each implies
  for the corpora's clips.

Needs the corpora under $SERKIT_DATA (default ../shared/data); skips those absent.
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

from serkit.batching import batch_indices, collate
from serkit.corpora import load_corpus
from serkit.models import make_model

RATE, BATCH, CLASSES = 16_000, 16, 5
SMALL = {"front_end": "cnn7", "channels": 64, "d_model": 128, "n_layers": 4, "n_heads": 4, "ffn": 256,
         "attention": "deformable", "dropout": 0.1, "head_units": [128, 64]}


def clip_lengths(corpora: list[str], root: Path, max_seconds: float) -> np.ndarray:
    lengths = []
    for name in corpora:
        if not (root / name).is_dir():
            print(f"# {name}: not under {root}, skipped")
            continue
        corpus = load_corpus(name, root / name)
        infos = [sf.info(str(u.path)) for u in corpus.utterances]
        frames = [info.frames * RATE // info.samplerate for info in infos]
        lengths += [min(f, int(max_seconds * RATE)) for f in frames]
        print(f"# {name}: {len(frames)} clips, mean {np.mean(frames) / RATE:.2f} s")
    return np.array(lengths, dtype=np.int64)


def padding_ratio(lengths: np.ndarray, grouped: bool, seed: int) -> float:
    batches = batch_indices(len(lengths), BATCH, generator=torch.Generator().manual_seed(seed),
                            lengths=lengths if grouped else None)
    return sum(int(lengths[b].max()) * len(b) for b in batches) / int(lengths.sum())


def step_seconds(lengths: np.ndarray, grouped: bool, steps: int) -> float:
    """Seconds of ``steps`` training steps on the first batches of one shuffled epoch."""
    torch.manual_seed(0)
    model = make_model("serct", 1, CLASSES, **SMALL)
    model.train()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    batches = batch_indices(len(lengths), BATCH, generator=torch.Generator().manual_seed(0),
                            lengths=lengths if grouped else None)[:steps]
    rng = np.random.default_rng(0)
    total = 0.0
    for rows in batches:
        x, real = collate([rng.standard_normal(int(n)).astype(np.float32) for n in lengths[rows]], "waveform")
        y = torch.randint(0, CLASSES, (len(rows),))
        began = time.perf_counter()
        optimizer.zero_grad()
        torch.nn.functional.cross_entropy(model(x, real), y).backward()
        optimizer.step()
        total += time.perf_counter() - began
    # The drawn batches are a sample of the epoch: scale by their share of its samples.
    drawn = sum(int(lengths[b].sum()) for b in batches)
    return total * int(lengths.sum()) / drawn


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpora", nargs="+", default=["emodb", "ravdess", "tess", "savee", "casia"])
    parser.add_argument("--max-seconds", type=float, default=6.0)
    parser.add_argument("--steps", type=int, default=12, help="training steps timed (0: padding only)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    root = Path(os.environ.get("SERKIT_DATA", "../shared/data"))
    lengths = clip_lengths(args.corpora, root, args.max_seconds)
    if not len(lengths):
        raise SystemExit(f"no corpus of {args.corpora} under {root}: set SERKIT_DATA")
    print(f"# {platform.processor() or platform.machine()}, torch {torch.__version__}, 1 thread; "
          f"{len(lengths)} clips, {lengths.sum() / RATE / 3600:.2f} h of audio, batch {BATCH}")
    print("| batches | padded / real samples (5 seeds) | small SERCT training epoch over all clips, min |")
    print("|---|---|---|")
    for grouped in (False, True):
        ratios = [padding_ratio(lengths, grouped, seed) for seed in range(5)]
        epoch = f"{step_seconds(lengths, grouped, args.steps) / 60:.1f}" if args.steps else "—"
        print(f"| {'grouped by length' if grouped else 'plain shuffle'} | {np.mean(ratios):.2f} "
              f"({min(ratios):.2f}-{max(ratios):.2f}) | {epoch} |", flush=True)


if __name__ == "__main__":
    main()
