"""End-to-end latency of one prediction on one CPU core: decode, features, model.

Target (issue: recognize emotions in anyone's audio): median ≤ 20 ms for a 3-second clip
with the default model. Prints the median and p90 of the whole call and of each stage,
so that what dominates is visible.

    python benchmarks/bench_latency.py [--model default|BUNDLE] [--repeats 50] [--seconds 3]
"""

from __future__ import annotations

import argparse
import io
import os

# One core: set before numpy/torch start their thread pools.
for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ[var] = "1"

import numpy as np  # noqa: E402
import soundfile as sf  # noqa: E402
import torch  # noqa: E402
from timing import timed  # noqa: E402


def clip_bytes(seconds: float, rate: int = 16_000) -> bytes:
    """A speech-like test clip (voiced harmonics with a syllable envelope) as WAV bytes."""
    rng = np.random.default_rng(0)
    t = np.arange(int(seconds * rate)) / rate
    f0 = 140 + 30 * np.sin(2 * np.pi * 0.7 * t)
    phase = 2 * np.pi * np.cumsum(f0) / rate
    voiced = sum(np.sin(k * phase) / k for k in range(1, 8))
    envelope = np.clip(np.sin(2 * np.pi * 2.5 * t), 0, None)
    x = 0.2 * envelope * voiced + 0.003 * rng.standard_normal(t.size)
    buffer = io.BytesIO()
    sf.write(buffer, x.astype(np.float32), rate, format="WAV")
    return buffer.getvalue()




def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="default")
    parser.add_argument("--repeats", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=3.0)
    args = parser.parse_args()
    torch.set_num_threads(1)

    from serkit.audio import load_audio
    from serkit.inference import load_model

    recognizer = load_model(args.model)
    data = clip_bytes(args.seconds)
    recognizer.predict(data)  # warm up: librosa's lazy imports and numba compilation
    signal = load_audio(data, sample_rate=recognizer.sample_rate)
    extractor = recognizer._extractor
    features = recognizer._features(signal, "clip")

    stages = {
        "end to end (predict on WAV bytes)": lambda: recognizer.predict(data),
        "  decode + resample": lambda: load_audio(data, sample_rate=recognizer.sample_rate),
        f"  features ({extractor.name}) + standardise": lambda: recognizer._features(signal, "clip"),
        "  model + softmax": lambda: recognizer._probabilities([features], 1),
    }
    print(f"model {recognizer.name!r}, {args.seconds:g} s clip, 1 thread, {args.repeats} repeats")
    for name, fn in stages.items():
        ms = 1000 * np.array(timed(fn, args.repeats, warmup=0))
        print(f"{name:<40} median {np.median(ms):7.2f} ms   p90 {np.percentile(ms, 90):7.2f} ms")


if __name__ == "__main__":
    main()
