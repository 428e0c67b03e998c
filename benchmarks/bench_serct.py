"""SERCT's size and CPU speed: the thesis's size, the small CPU size, and 1–8 DST layers.

Usage:
    python benchmarks/bench_serct.py [--seconds 3] [--repeats 5] [--sizes small thesis] [--depths 1,2,4,8]

For each model, prints:

* parameters and FLOPs (multiply-adds × 2, ``torch.utils.flop_counter``) of one clip of
  ``--seconds`` seconds and of a 9 s clip (the thesis's 144 000 samples at 16 kHz);
* inference milliseconds per clip on one thread (eval, inference mode), batch 1: median
  and best of ``--repeats``;
* one training step (batch 16 clips of ``--seconds``, Adam, cross-entropy) on one thread,
  and the epoch time that implies for the thesis's TESS training side (2,266 clips, batch 16:
  142 steps). The epochs actually run are in each run's history.csv (``epoch_seconds``).

``--depths`` repeats the small model's rows with that many DST layers (the thesis's Fig. 4).
Timings on a shared machine vary; the median is the number to quote, the best the floor.
"""

from __future__ import annotations

import argparse
import platform
import statistics

import torch
from torch.utils.flop_counter import FlopCounterMode

from timing import timed

from serkit.models import make_model, n_parameters

RATE, CLASSES, BATCH, STEPS_PER_EPOCH = 16_000, 7, 16, 142
SIZES = {
    # configs/serct/tess_paper_small.yaml
    "small": {"channels": 64, "d_model": 128, "n_layers": 4, "n_heads": 4, "ffn": 256, "head_units": [128, 64]},
    # configs/serct/tess_paper.yaml: the thesis's size (the model's defaults)
    "thesis": {},
}


def flops(model, seconds: float) -> int:
    counter = FlopCounterMode(display=False)
    model.eval()
    with counter, torch.no_grad():
        model(torch.randn(1, int(seconds * RATE)))
    return counter.get_total_flops()


def inference_ms(model, seconds: float, repeats: int) -> tuple[float, float]:
    model.eval()
    x = torch.randn(1, int(seconds * RATE))
    with torch.inference_mode():
        times = timed(lambda: model(x), repeats, warmup=1)
    return statistics.median(times) * 1e3, min(times) * 1e3


def train_step_s(model, seconds: float, repeats: int) -> float:
    model.train()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, weight_decay=5e-3)
    x = torch.randn(BATCH, int(seconds * RATE))
    y = torch.randint(0, CLASSES, (BATCH,))

    def step():
        optimizer.zero_grad()
        torch.nn.functional.cross_entropy(model(x), y).backward()
        optimizer.step()

    return statistics.median(timed(step, repeats, warmup=1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--sizes", nargs="*", default=list(SIZES), choices=list(SIZES))
    parser.add_argument("--depths", default="", help="comma-separated DST depths for the small model, e.g. 1,2,4,8")
    parser.add_argument("--no-train", action="store_true", help="skip the training step (the thesis size: minutes)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    print(f"# {platform.processor() or platform.machine()}, torch {torch.__version__}, 1 thread; "
          f"clip {args.seconds:g} s, batch {BATCH} for training")
    rows = [(name, SIZES[name]) for name in args.sizes]
    rows += [(f"small, depth {d}", {**SIZES["small"], "n_layers": int(d)}) for d in args.depths.split(",") if d]
    print("| model | parameters | GFLOP / clip | GFLOP / 9 s | inference ms / clip (median, best) "
          "| training step s | epoch min (TESS, 142 steps) |")
    print("|---|---|---|---|---|---|---|")
    for name, params in rows:
        model = make_model("serct", 1, CLASSES, **params)
        median, best = inference_ms(model, args.seconds, args.repeats)
        step = float("nan") if args.no_train else train_step_s(model, args.seconds, max(2, args.repeats // 2))
        print(f"| {name} | {n_parameters(model) / 1e6:.2f} M | {flops(model, args.seconds) / 1e9:.1f} "
              f"| {flops(model, 9.0) / 1e9:.1f} | {median:.0f} ({best:.0f}) | {step:.2f} "
              f"| {step * STEPS_PER_EPOCH / 60:.1f} |", flush=True)


if __name__ == "__main__":
    main()
