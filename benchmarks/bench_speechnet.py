"""Measure SpeechNet's CPU speed: forward latency per utterance and training time per epoch.

Usage:
    python benchmarks/bench_speechnet.py [--threads-train 2] [--epochs 3] [--repeats 200]

Prints, for the default SpeechNet on 107 features and 7 classes:
* the parameter count;
* forward latency on one thread (``torch.set_num_threads(1)``, eval mode, inference mode)
  at batch 1 and batch 256, per utterance (median and best of the repeats);
* with ``--input-kind frames``, batch 1 is one clip of a third of ``--frames`` (EmoDB's
  mean length); larger batches are padded to ``--frames`` frames and their utterances are
  mostly much shorter, as in a real corpus;
* one training epoch on 480 random utterances (batch 256, Adam 1e-3, balanced margin
  loss) with ``--threads-train`` threads, and the 200-epoch time it implies.

Timings on a shared machine vary; the median is the number to quote, the best shows the
floor.
"""

from __future__ import annotations

import argparse
import platform
import statistics

import torch

from timing import timed

from serkit.models import make_loss, make_model, n_parameters


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads-train", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=200)
    parser.add_argument("--input-kind", default="vector", choices=["vector", "frames"])
    parser.add_argument("--frames", type=int, default=560,
                        help="padded frames per batch for --input-kind frames (EmoDB's longest clip: 560)")
    args = parser.parse_args()

    torch.manual_seed(0)
    model = make_model("speechnet", 107, 7, input_kind=args.input_kind)
    print(f"torch {torch.__version__}, {platform.processor() or platform.machine()}, "
          f"input_kind={args.input_kind}")
    print(f"parameters: {n_parameters(model):,}")

    def batch(n: int) -> tuple[torch.Tensor, torch.Tensor | None]:
        if args.input_kind == "vector":
            return torch.randn(n, 107), None
        if n == 1:  # one clip of typical length (EmoDB's mean, 2.8 s, is ~1/3 of its longest)
            return torch.randn(1, args.frames // 3, 107), torch.tensor([args.frames // 3])
        # Like EmoDB: one clip as long as the padding, the rest 1/6 to 1/2 of it (mean ~1/3).
        lengths = torch.randint(args.frames // 6, args.frames // 2, (n,))
        lengths[0] = args.frames
        return torch.randn(n, args.frames, 107), lengths

    torch.set_num_threads(1)
    model.eval()
    with torch.inference_mode():
        for size, repeats in ((1, args.repeats), (256, max(args.repeats // 20, 5))):
            x, lengths = batch(size)
            times = timed(lambda: model(x, lengths), repeats, warmup=5)
            median, best = statistics.median(times) / size * 1e3, min(times) / size * 1e3
            print(f"forward, 1 thread, batch {size:>3}: median {median:.3f} ms/utterance, best {best:.3f} ms/utterance")

    torch.set_num_threads(args.threads_train)
    x, lengths = batch(480)
    y = torch.randint(0, 7, (480,))
    loss_fn = make_loss("balanced_margin")
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    model.train()

    def epoch() -> None:
        order = torch.randperm(480)
        for start in range(0, 480, 256):
            idx = order[start:start + 256]
            optimizer.zero_grad()
            loss_fn(model(x[idx], None if lengths is None else lengths[idx]), y[idx]).backward()
            optimizer.step()

    times = timed(epoch, args.epochs, warmup=1)
    median = statistics.median(times)
    print(f"training epoch, {args.threads_train} threads, 480 utterances, batch 256: median {median:.3f} s, "
          f"best {min(times):.3f} s -> 200 epochs ~ {200 * median:.0f} s")


if __name__ == "__main__":
    main()
