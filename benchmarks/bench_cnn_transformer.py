"""Measure the CNN–Transformer's size and CPU speed for a few CNN widths.

Usage:
    python benchmarks/bench_cnn_transformer.py [--channels 8,16,32,64 16,32,64,128] [--repeats 20]

For each ``--channels`` setting (four residual blocks by default, 128 mels, 188 frames = 3 s
at 16 kHz with hop 256, 8 classes), prints:

* parameters and multiply-adds per clip (``torch.utils.flop_counter``: convolutions, linear
  layers and attention products; FLOPs / 2);
* forward time per clip on one thread (eval mode, inference mode) at batch 1 and batch 16
  (median and best of the repeats);
* one training step (batch 16, SGD with momentum 0.8 and weight decay 1e-3, the paper's
  Table I, cross-entropy) on 1 and on 2 threads, and the epoch time that implies for the
  paper's RAVDESS training side (1,152 clips × 3 with the noise copies = 216 steps); and
  the same step on 1 thread under bfloat16 autocast (``training.mixed_precision``: a CPU
  with AMX bfloat16 units runs the matrix products on them).

Timings on a shared machine vary; the median is the number to quote, the best the floor.
"""

from __future__ import annotations

import argparse
import platform
import statistics

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from timing import timed

from serkit.models import make_model, n_parameters

MELS, FRAMES, CLASSES = 128, 188, 8
STEPS_PER_EPOCH = 216  # RAVDESS: 1,440 × 0.8 training clips, × 3 with the two noisy copies, batch 16




def multiply_adds(model: nn.Module) -> int:
    """Multiply-adds of one clip's forward pass.

    Counted in training mode, where the encoder layers run their plain (countable) ops rather
    than the fused inference kernel; dropout adds no multiply-adds.
    """
    model.train()
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        model(torch.randn(2, FRAMES, MELS))  # batch 2: BatchNorm needs more than one value in training mode
    return counter.get_total_flops() // 2 // 2


def forward_ms(model: nn.Module, batch: int, repeats: int) -> tuple[float, float]:
    torch.set_num_threads(1)
    model.eval()
    x = torch.randn(batch, FRAMES, MELS)
    with torch.inference_mode():
        times = timed(lambda: model(x), repeats)
    return statistics.median(times) / batch * 1e3, min(times) / batch * 1e3


def train_step_s(model: nn.Module, threads: int, repeats: int, bf16: bool = False) -> tuple[float, float]:
    torch.set_num_threads(threads)
    model.train()
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.8, weight_decay=1e-3)
    x, y = torch.randn(16, FRAMES, MELS), torch.randint(0, CLASSES, (16,))

    def step() -> None:
        optimizer.zero_grad()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            loss = nn.functional.cross_entropy(model(x), y)
        loss.backward()
        optimizer.step()

    times = timed(step, repeats)
    return statistics.median(times), min(times)


def report(channels: tuple[int, ...], repeats: int) -> None:
    torch.manual_seed(0)
    model = make_model("cnn_transformer", MELS, CLASSES, n_frames=FRAMES, channels=channels)
    print(f"\nchannels {channels}: {n_parameters(model):,} parameters, D = {model.cnn_dim:,}, "
          f"{multiply_adds(model) / 1e6:.0f} M multiply-adds per clip")
    for batch in (1, 16):
        median, best = forward_ms(model, batch, repeats if batch == 1 else max(repeats // 4, 3))
        print(f"  forward, 1 thread, batch {batch:>2}: median {median:.1f} ms/clip, best {best:.1f} ms/clip")
    for threads, bf16 in ((1, False), (2, False), (1, True)):
        median, best = train_step_s(model, threads, max(repeats // 4, 3), bf16)
        print(f"  training step, batch 16, {threads} thread{'s' if threads > 1 else ''}{', bfloat16' if bf16 else ''}: "
              f"median {median:.3f} s, best {best:.3f} s -> RAVDESS epoch ({STEPS_PER_EPOCH} steps) "
              f"~ {STEPS_PER_EPOCH * median:.0f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--channels", nargs="+", default=["8,16,32,64", "16,32,64,128", "32,64,128,256"],
                        help="comma-separated widths of the residual blocks, one setting per argument")
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()
    print(f"torch {torch.__version__}, {platform.processor() or platform.machine()}, "
          f"{MELS} mels × {FRAMES} frames, {CLASSES} classes")
    for setting in args.channels:
        report(tuple(int(c) for c in setting.split(",")), args.repeats)


if __name__ == "__main__":
    main()
