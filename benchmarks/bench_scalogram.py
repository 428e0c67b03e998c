"""The scalogram's CWT against PyWavelets' ``cwt`` on one thread: an 8 s clip, the same
wavelet and scales (serkit's defaults: complex Morlet, 64 scales over 60 Hz–7.5 kHz).

    python benchmarks/bench_scalogram.py [--seconds 8] [--repeats 5]
    python benchmarks/bench_scalogram.py --epoch configs/wavelet/emodb_full_si.yaml \
        [--set training.mixed_precision=true --set model.params.masked_batchnorm=true]

Prints the median seconds of each and the ratios. ``--epoch CONFIG`` instead trains the
config's model for one epoch on its fold 0 (seed 0; features from the cache, extracted
first if needed) and prints seconds per training clip and per evaluated clip: the cost
of a protocol is about epochs × (training clips × the first + evaluated clips × the
second). ``pywt.cwt`` is timed with its default
``method="conv"`` (direct convolution) and with ``method="fft"``; ours is the whole
feature (transform, pooling, dB), after one untimed call that builds the kernel spectra
(once per process). The numbers go in docs/models.md.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"  # before numpy is imported: one core, as the claim says

import argparse  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from timing import timed  # noqa: E402

from serkit.features import make_features  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--epoch", metavar="CONFIG", help="time one training epoch of this config instead")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="with --epoch: override a config key (e.g. training.mixed_precision=true)")
    args = parser.parse_args()
    if args.epoch:
        return time_epoch(args.epoch, args.set)
    import pywt

    scalogram = make_features("scalogram")
    x = np.random.default_rng(0).normal(scale=0.1, size=int(args.seconds * 16_000)).astype(np.float32)
    ours = statistics.median(timed(lambda: scalogram(x), args.repeats, warmup=1))
    x64 = x.astype(np.float64)
    fft = statistics.median(timed(lambda: pywt.cwt(x64, scalogram.scales, scalogram.wavelet, method="fft"),
                                  max(1, args.repeats // 2), warmup=0))
    conv = statistics.median(timed(lambda: pywt.cwt(x64, scalogram.scales, scalogram.wavelet, method="conv"),
                                   1, warmup=0))
    print(f"{args.seconds:g} s clip, {scalogram.n_scales} scales ({scalogram.wavelet}), one thread")
    print(f"  serkit scalogram (whole feature): {ours:.3f} s")
    print(f"  pywt.cwt method='conv' (default): {conv:.3f} s  ({conv / ours:.1f}× ours)")
    print(f"  pywt.cwt method='fft':            {fft:.3f} s  ({fft / ours:.1f}× ours)")


def time_epoch(config_path: str, overrides: list[str]) -> None:
    """One epoch of fold 0 on one thread: seconds per training clip and per evaluated clip."""
    import time

    import torch

    from serkit.models import make_loss, make_model_for
    from serkit.splits import make_split
    from serkit.training.config import load_config
    from serkit.training.fit import fit, predict_proba
    from serkit.training.runner import _side, load_dataset

    torch.set_num_threads(1)
    config = load_config(config_path, overrides=[*overrides, "training.epochs=1", "training.select=last",
                                                 "training.select_window=1"])
    began = time.perf_counter()
    dataset = load_dataset(config, progress=False)
    print(f"features: {time.perf_counter() - began:.1f} s (cached after the first run)")
    plan = make_split(list(dataset.corpus.utterances), config.protocol.split, seed=0, **config.protocol.params)
    fold = list(plan)[0]
    train, val = _side(dataset, fold.train), _side(dataset, fold.val)
    torch.manual_seed(0)
    model = make_model_for(config.model.name, dataset.extractor.spec, len(dataset.classes), **config.model.params)
    began = time.perf_counter()
    fit(model, train, None, loss_fn=make_loss("cross_entropy"), settings=config.training, seed=0, progress=False)
    trained = time.perf_counter() - began
    began = time.perf_counter()
    predict_proba(model, val, batch_size=config.training.batch_size)
    evaluated = time.perf_counter() - began
    print(f"fold {fold.name}: one training epoch of {len(train)} clips {trained:.1f} s = "
          f"{trained / len(train):.3f} s per training clip; {evaluated / len(val):.3f} s per evaluated clip")


if __name__ == "__main__":
    main()
