"""What the convolutions' width (``model.params.filters``) costs a training step of wavelet_cnn_lstm.

Usage:
    python benchmarks/bench_wavelet_width.py [--filters 64 128 256] [--repeats 3] [--threads 1] \
        [--reference results/wavelet_emodb_full_si_stop_on_selection_bf16]

One training step (forward, cross-entropy, backward, Adam) of the network as
configs/wavelet/emodb_ablation.yaml trains it (64 scales, 500 columns, masked BatchNorm,
bfloat16 autocast as ``training.mixed_precision``) on a batch of 16 random scalograms, for
each width the issue names (the paper: 64; 128 and 256 tried, L185). Prints the median
seconds a step, the ratio to the first width and the parameter count. With ``--reference``
(a run folder of the first width), it also prints that run's training time (the sum of its
history.csv ``wall_s``) scaled by each ratio: what the same run at that width would take,
if it trained as many epochs. Full 500-column crops make a step slower than an EmoDB
batch's (most clips are shorter); the ratio is what carries over.
"""

from __future__ import annotations

import argparse
import csv
import os
import platform
import statistics
from pathlib import Path

import torch
import torch.nn.functional as F

from serkit.models.wavelet_cnn_lstm import WaveletCNNLSTM
from timing import timed

BATCH, SCALES, COLUMNS, CLASSES = 16, 64, 500, 7


def build(filters: int) -> tuple[WaveletCNNLSTM, torch.optim.Optimizer]:
    torch.manual_seed(0)
    model = WaveletCNNLSTM(SCALES, CLASSES, filters=filters, masked_batchnorm=True).train()
    return model, torch.optim.Adam(model.parameters(), lr=1e-4)


def step(model: WaveletCNNLSTM, optimizer: torch.optim.Optimizer, x: torch.Tensor, lengths: torch.Tensor,
         labels: torch.Tensor) -> None:
    optimizer.zero_grad()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        loss = F.cross_entropy(model(x, lengths), labels)
    loss.backward()
    optimizer.step()


def training_hours(run: Path) -> float:
    """A run folder's training time: the sum of every history.csv's wall_s, in hours."""
    histories = sorted(run.rglob("history.csv"))
    if not histories:
        raise SystemExit(f"{run}: no history.csv under it; give a run folder of serkit run")
    seconds = 0.0
    for path in histories:
        with open(path, newline="") as f:
            seconds += sum(float(row["wall_s"]) for row in csv.DictReader(f))
    return seconds / 3600


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--filters", type=int, nargs="+", default=[64, 128, 256])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--reference", type=Path, help="a run folder trained at the first width")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    generator = torch.Generator().manual_seed(0)
    x = torch.rand(BATCH, 1, SCALES, COLUMNS, generator=generator)
    lengths = torch.full((BATCH,), COLUMNS)
    labels = torch.randint(0, CLASSES, (BATCH,), generator=generator)
    print(f"one bfloat16 training step, batch {BATCH} of {SCALES} x {COLUMNS}, {args.threads} thread(s), "
          f"torch {torch.__version__}, {platform.processor() or platform.machine()}, "
          f"load average {' '.join(f'{v:.1f}' for v in os.getloadavg())}")
    reference = training_hours(args.reference) if args.reference else None
    if reference is not None:
        print(f"reference {args.reference}: {reference:.2f} h of training at {args.filters[0]} filters")
    first = None
    for filters in args.filters:
        model, optimizer = build(filters)
        median = statistics.median(timed(lambda: step(model, optimizer, x, lengths, labels), args.repeats, warmup=1))
        first = first or median
        params = sum(p.numel() for p in model.parameters())
        line = f"  filters {filters:4d}: {median:6.2f} s/step  x{median / first:5.2f}  {params / 1e6:6.2f} M parameters"
        if reference is not None:
            line += f"  the reference run at this width: ~{reference * median / first:.1f} h"
        print(line)


if __name__ == "__main__":
    main()
