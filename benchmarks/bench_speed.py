"""Issue 17's speed figures, each as a ratio against a reference measured in the same run.

Usage:
    python benchmarks/bench_speed.py [--repeats 30] [--seconds 3] [--fresh 3] [--skip-fresh]

On one thread in one process, for a synthetic speech-like clip (benchmarks/bench_latency):

* the reference: a plain librosa pipeline for fusion107's descriptors (MFCC + Δ + Δ²,
  chroma, contrast, tonnetz of that chroma, ZCR, centroid, roll-off, bandwidth, YIN),
  each librosa function called on the signal as a user would;
* fusion107 (serkit.features), frames of all 107 descriptors;
* ``Recognizer.predict`` of the bundled default model on WAV bytes, end to end;
* in fresh processes (``--fresh`` runs each): ``python -c "import serkit;
  serkit.load_model().predict(path)"`` and ``serkit predict path``, against the start-up of
  ``python -c "import numpy"`` as the floor.

The timed functions run round-robin, one call of each per round, so that load from other
processes on a shared machine falls on all of them alike; medians over rounds, of the
process's CPU time (the work done on one thread) and of wall time. The load average is
printed with the results. To compare with an older commit, run this script with
``PYTHONPATH`` pointing at a ``git worktree`` of it (docs/speed.md). The server and batch
figures are printed by bench_server.py and bench_predict.py.
"""

from __future__ import annotations

import argparse
import os

for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ[var] = "1"

import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
from bench_latency import clip_bytes  # noqa: E402


def librosa_pipeline(y: np.ndarray, sr: int = 16_000) -> np.ndarray:
    """fusion107's descriptors the plain way: each librosa function on the signal."""
    import librosa

    kw = dict(n_fft=1024, hop_length=256)
    mfcc = librosa.feature.mfcc(y=y, sr=sr, n_mfcc=25, n_mels=64, **kw)
    chroma = librosa.feature.chroma_stft(y=y, sr=sr, tuning=0.0, **kw)
    blocks = [
        mfcc, librosa.feature.delta(mfcc), librosa.feature.delta(mfcc, order=2),
        librosa.feature.zero_crossing_rate(y, frame_length=1024, hop_length=256),
        chroma,
        librosa.feature.spectral_contrast(y=y, sr=sr, fmin=200.0, n_bands=6, **kw),
        librosa.feature.spectral_centroid(y=y, sr=sr, **kw),
        librosa.feature.spectral_rolloff(y=y, sr=sr, roll_percent=0.85, **kw),
        librosa.feature.spectral_bandwidth(y=y, sr=sr, **kw),
        librosa.feature.tonnetz(chroma=chroma),
        librosa.yin(y, fmin=60.0, fmax=600.0, sr=sr, frame_length=1024, hop_length=256)[None],
    ]
    n = min(b.shape[-1] for b in blocks)
    return np.concatenate([b[:, :n] for b in blocks]).T


def round_robin(fns: dict[str, Callable[[], object]], repeats: int) -> dict[str, tuple[float, float]]:
    """Median (CPU, wall) seconds per call of each function, one call of each per round.

    CPU time of the process is the figure to compare on a shared machine: on one thread
    it is the work done, whereas wall time also counts the waits for a core."""
    for fn in fns.values():
        fn()  # first calls: lazy imports, numba compilation, caches
    cpu: dict[str, list[float]] = {name: [] for name in fns}
    wall: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            start, start_cpu = time.perf_counter(), time.process_time()
            fn()
            cpu[name].append(time.process_time() - start_cpu)
            wall[name].append(time.perf_counter() - start)
    return {name: (float(np.median(cpu[name])), float(np.median(wall[name]))) for name in fns}


def in_process(args: argparse.Namespace) -> None:
    import torch

    torch.set_num_threads(1)
    from serkit.audio import load_audio
    from serkit.features import make_features
    from serkit.inference import load_model

    data = clip_bytes(args.seconds)
    y = load_audio(data, sample_rate=16_000)
    fusion = make_features("fusion107", pooling="none")
    recognizer = load_model("default")
    medians = round_robin({
        "librosa pipeline (reference)": lambda: librosa_pipeline(y),
        "fusion107 features": lambda: fusion(y),
        "predict, default model, WAV bytes": lambda: recognizer.predict(data),
    }, args.repeats)
    ref_cpu, ref_wall = medians["librosa pipeline (reference)"]
    print(f"one thread, {args.seconds:g} s clip, {args.repeats} rounds, medians "
          "(CPU time of the process; wall time)")
    for name, (cpu, wall) in medians.items():
        print(f"  {name:<36} CPU {1000 * cpu:7.2f} ms {ref_cpu / cpu:6.1f}x   "
              f"wall {1000 * wall:7.2f} ms {ref_wall / wall:6.1f}x the reference")


def fresh_process(args: argparse.Namespace) -> None:
    """Wall seconds of whole fresh processes, median of ``--fresh`` runs each."""
    with tempfile.TemporaryDirectory() as folder:
        clip = Path(folder) / "clip.wav"
        clip.write_bytes(clip_bytes(args.seconds))
        serkit_cli = str(Path(sys.executable).with_name("serkit"))
        commands = {
            "python -c 'import numpy' (floor)": [sys.executable, "-c", "import numpy"],
            "import serkit; load_model().predict": [
                sys.executable, "-c", f"import serkit; serkit.load_model().predict({str(clip)!r})"],
            "serkit predict clip.wav": [serkit_cli, "predict", str(clip)],
        }
        env = {**os.environ, "PYTHONWARNINGS": "ignore"}
        times: dict[str, list[float]] = {name: [] for name in commands}
        for _ in range(args.fresh):
            for name, command in commands.items():
                start = time.perf_counter()
                subprocess.run(command, check=True, capture_output=True, env=env)
                times[name].append(time.perf_counter() - start)
    print(f"fresh processes, median of {args.fresh} runs each")
    for name, t in times.items():
        print(f"  {name:<36} {np.median(t):8.2f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--fresh", type=int, default=3)
    parser.add_argument("--skip-fresh", action="store_true")
    args = parser.parse_args()
    print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()} cores")
    in_process(args)
    if not args.skip_fresh:
        fresh_process(args)
    print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
