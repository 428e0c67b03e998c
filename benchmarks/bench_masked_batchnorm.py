"""What ``model.params.masked_batchnorm`` costs a training step of wavelet_cnn_lstm.

Usage:
    python benchmarks/bench_masked_batchnorm.py [--repeats 5] [--threads 1]

One Adam-free training step (forward, cross-entropy, backward) of the paper-sized
network (configs/wavelet/emodb_full_si.yaml: 64 filters, 64 scales, 500 columns) on a
batch of 16 random scalograms, 8 of them full and 8 shorter (400-480 columns), in three
BatchNorm variants built from the same weights:

* ``plain``: nn.BatchNorm2d (padding in the statistics; masked_batchnorm: false);
* ``textbook``: the masked statistics written plainly (mask, centre, square, mask) and
  differentiated by autograd, which is how serkit computed them before 2026-12-05;
* ``serkit``: serkit.models.layers.MaskedBatchNorm2d (masked_batchnorm: true).

then ``plain`` and ``serkit`` again under bfloat16 autocast (``training.mixed_precision``,
as serkit's training loop runs it). Prints the median seconds a step of each, their ratio
to ``plain``, the largest difference of serkit's logits and gradients from the textbook
form's (the same function, so rounding only), and what one sum over the rows of the first block's channels_last map
costs in its logical order (``x.sum(2)``) and in its memory order (serkit's ``_row_sums``).
"""

from __future__ import annotations

import argparse
import platform
import statistics

import torch
import torch.nn.functional as F

from serkit.models.layers import MaskedBatchNorm2d, _row_sums
from serkit.models.wavelet_cnn_lstm import WaveletCNNLSTM
from timing import timed

BATCH, SCALES, COLUMNS, CLASSES = 16, 64, 500, 7


class TextbookMaskedBatchNorm2d(MaskedBatchNorm2d):
    """The masked statistics as autograd sees the plain formula (training only)."""

    def forward(self, x: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        if not self.training or lengths is None or bool((lengths >= x.shape[-1]).all()):
            return super().forward(x, lengths)
        keep = (torch.arange(x.shape[-1])[None, :] < lengths[:, None]).to(x.dtype)[:, None, None, :]
        count = keep.sum() * x.shape[2]
        mean = (x * keep).sum((0, 2, 3)) / count
        centred = x - mean.view(1, -1, 1, 1)
        var = (centred.square() * keep).sum((0, 2, 3)) / count
        scale = self.weight * torch.rsqrt(var + self.eps)
        return centred * scale.view(1, -1, 1, 1) + self.bias.view(1, -1, 1, 1)


def build(variant: str) -> WaveletCNNLSTM:
    torch.manual_seed(0)
    model = WaveletCNNLSTM(SCALES, CLASSES, masked_batchnorm=variant != "plain").train()
    if variant == "textbook":
        for module in model.modules():
            if isinstance(module, MaskedBatchNorm2d):
                module.__class__ = TextbookMaskedBatchNorm2d
    return model


def step(model: WaveletCNNLSTM, x: torch.Tensor, lengths: torch.Tensor, labels: torch.Tensor, bf16: bool = False):
    model.zero_grad()
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        logits = model(x, lengths)
        loss = F.cross_entropy(logits, labels)
    loss.backward()
    return logits.detach(), torch.cat([p.grad.flatten() for p in model.parameters()])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    generator = torch.Generator().manual_seed(0)
    x = torch.rand(BATCH, 1, SCALES, COLUMNS, generator=generator)
    lengths = torch.tensor([COLUMNS] * 8 + [480, 470, 460, 450, 440, 430, 420, 400])
    labels = torch.randint(0, CLASSES, (BATCH,), generator=generator)
    models = {variant: build(variant) for variant in ("plain", "textbook", "serkit")}
    print(f"one training step, batch {BATCH} of {SCALES} x <= {COLUMNS}, {args.threads} thread(s), "
          f"torch {torch.__version__}, {platform.processor() or platform.machine()}")
    medians = {}
    for variant, model in models.items():
        medians[variant] = statistics.median(timed(lambda: step(model, x, lengths, labels), args.repeats, warmup=1))
        print(f"  {variant:15s} {medians[variant]:6.2f} s/step  x{medians[variant] / medians['plain']:.2f} of plain")
    for variant in ("plain", "serkit"):
        median = statistics.median(timed(lambda: step(models[variant], x, lengths, labels, bf16=True),
                                         args.repeats, warmup=1))
        print(f"  {variant + ' bfloat16':15s} {median:6.2f} s/step  x{median / medians['plain']:.2f} of plain")
    (logits_a, grads_a), (logits_b, grads_b) = (step(models[v], x, lengths, labels) for v in ("textbook", "serkit"))
    print(f"serkit vs textbook: max |logit diff| {float((logits_a - logits_b).abs().max()):.2e}, "
          f"gradient relative diff {float((grads_a - grads_b).norm() / grads_a.norm()):.2e}")
    first_map = torch.rand(BATCH, 64, SCALES, COLUMNS, generator=generator).contiguous(memory_format=torch.channels_last)
    logical, memory = (statistics.median(timed(lambda f=f: f(first_map), args.repeats))
                       for f in (lambda m: m.sum(2), _row_sums))
    print(f"sum over the rows of a {tuple(first_map.shape)} channels_last map: logical order {logical * 1e3:.0f} ms, "
          f"memory order {memory * 1e3:.0f} ms (x{logical / memory:.0f})")


if __name__ == "__main__":
    main()
