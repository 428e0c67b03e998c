"""The scalogram's CWT against PyWavelets' ``cwt`` on one thread: an 8 s clip, the same
wavelet and scales (serkit's defaults: complex Morlet, 64 scales over 60 Hz–7.5 kHz).

    python benchmarks/bench_scalogram.py [--seconds 8] [--repeats 5]

Prints the median seconds of each and the ratios. ``pywt.cwt`` is timed with its default
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
    args = parser.parse_args()
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


if __name__ == "__main__":
    main()
