"""Peak memory and wall time of predict and timeline on long recordings (issue 18, item 3).

Writes speech-like synthetic clips (voiced harmonics under a syllable envelope, plus
noise and a few pauses) block by block to temporary files, then runs each case in a fresh
Python process (one torch thread) that loads the model, warms it up on a short clip,
and times one call. ``ru_maxrss`` is the peak resident memory of that process; "growth"
is the peak minus the peak after loading and warming up the model.

    python benchmarks/bench_long_audio.py [--minutes 10 30] [--ops predict timeline]
        [--format flac|wav] [--rate 44100] [--channels 1] [--model default]

Each case prints one line; ``--json`` prints them as JSON lines instead.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(var, "1")

import numpy as np

OPS = ("predict", "timeline", "predict_bytes")


def write_clip(path: Path, minutes: float, *, rate: int = 44_100, channels: int = 1,
               block_s: float = 10.0, seed: int = 0) -> Path:
    """A speech-like clip of ``minutes``, written ``block_s`` seconds at a time."""
    import soundfile as sf

    rng = np.random.default_rng(seed)
    total = round(minutes * 60 * rate)
    block = int(block_s * rate)
    phase = 0.0
    with sf.SoundFile(str(path), "w", samplerate=rate, channels=channels,
                      subtype="PCM_16") as out:
        for start in range(0, total, block):
            t = (start + np.arange(min(block, total - start))) / rate
            f0 = 140 + 40 * np.sin(2 * np.pi * 0.23 * t) + 20 * np.sin(2 * np.pi * 1.7 * t)
            ph = phase + 2 * np.pi * np.cumsum(f0) / rate
            phase = float(ph[-1])
            voiced = sum(np.sin(k * ph) / k for k in range(1, 9))
            envelope = np.clip(np.sin(2 * np.pi * 2.3 * t), 0, None) ** 0.7
            pause = (np.sin(2 * np.pi * 0.05 * t) > -0.8).astype(float)  # a pause every 20 s
            x = 0.25 * envelope * pause * voiced + 0.004 * rng.standard_normal(t.size)
            if channels > 1:
                x = np.stack([x * (1 - 0.1 * c) for c in range(channels)], axis=1)
            out.write(x.astype(np.float32))
    return path


def child(op: str, path: str, model: str) -> None:
    """Runs in the fresh process: one call, then a JSON line of the numbers."""
    import resource

    import torch

    torch.set_num_threads(1)
    from serkit.inference import load_model

    rec = load_model(model)
    rate = rec.sample_rate
    tone = (0.3 * np.sin(2 * np.pi * 220 * np.arange(2 * rate) / rate)).astype(np.float32)
    rec.predict(tone, sample_rate=rate)  # warm up: librosa's lazy imports, numba
    rec.timeline(tone, sample_rate=rate)
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    start = time.perf_counter()
    if op == "predict":
        result = rec.predict(path).label
    elif op == "predict_bytes":
        result = rec.predict(Path(path).read_bytes()).label
    else:
        tl = rec.timeline(path)
        result = f"{len(tl.windows)} windows, {len(tl.segments)} segments"
    wall = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"op": op, "wall_s": round(wall, 2), "peak_mb": round(peak),
                      "baseline_mb": round(base), "growth_mb": round(peak - base),
                      "result": result}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, nargs="+", default=[10.0, 30.0])
    parser.add_argument("--ops", nargs="+", choices=OPS, default=["predict", "timeline"])
    parser.add_argument("--format", choices=("flac", "wav"), default="flac")
    parser.add_argument("--rate", type=int, default=44_100)
    parser.add_argument("--channels", type=int, default=1)
    parser.add_argument("--model", default="default")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--child", nargs=2, metavar=("OP", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], args.child[1], args.model)
        return

    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(root), os.environ.get("PYTHONPATH")]))}
    with tempfile.TemporaryDirectory(prefix="serkit-long-") as tmp:
        for minutes in args.minutes:
            path = write_clip(Path(tmp) / f"clip_{minutes:g}min.{args.format}", minutes,
                              rate=args.rate, channels=args.channels)
            size_mb = path.stat().st_size / 2**20
            for op in args.ops:
                proc = subprocess.run(
                    [sys.executable, __file__, "--model", args.model, "--child", op, str(path)],
                    capture_output=True, text=True, env=env, check=False)
                if proc.returncode != 0:
                    print(f"{minutes:g} min {op}: failed\n{proc.stderr[-2000:]}", file=sys.stderr)
                    continue
                row = {"minutes": minutes, "file": f"{args.format} {args.rate} Hz "
                       f"{args.channels} ch {size_mb:.1f} MB",
                       **json.loads(proc.stdout.strip().splitlines()[-1])}
                if args.json:
                    print(json.dumps(row), flush=True)
                else:
                    print(f"{minutes:5g} min  {row['file']:<28} {op:<13} {row['wall_s']:8.1f} s  "
                          f"peak {row['peak_mb']:6d} MB  growth {row['growth_mb']:6d} MB  "
                          f"({row['result']})", flush=True)


if __name__ == "__main__":
    main()
