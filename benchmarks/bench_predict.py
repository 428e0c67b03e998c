"""Throughput of `serkit predict` with one and with two worker processes.

Usage:
    python benchmarks/bench_predict.py [--n 1000] [--seconds 3] [--model NAME|PATH]
                                       [--jobs 1 2]

Writes N synthetic clips (a harmonic tone with a wandering pitch plus noise; 16 kHz wav)
into a temporary folder, then runs ``serkit predict FOLDER --format jsonl --output ...``
once per ``--jobs`` value as a separate process and prints files/s and the CPU
utilisation: user + sys CPU time of the command and every process it started, divided by
the wall time (2.0 means two cores busy all along). Wall time includes start-up (imports,
loading the model, starting workers), as a user sees it.

On Linux this process becomes a "child subreaper", so that the fork server and the
workers it forks, which outlive their parent's wait, are reaped here and their CPU time
is counted; elsewhere that CPU time may be missing from the utilisation.
"""

from __future__ import annotations

import argparse
import ctypes
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

REPO = Path(__file__).resolve().parents[1]
SAMPLE_RATE = 16_000
_PR_SET_CHILD_SUBREAPER = 36


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000, help="number of clips (default 1000)")
    parser.add_argument("--seconds", type=float, default=3.0, help="clip length (default 3 s)")
    parser.add_argument("--model", default="default", help="bundled model name or bundle folder")
    parser.add_argument("--jobs", type=int, nargs="+", default=[1, 2], help="--jobs values to run")
    args = parser.parse_args(argv)
    counted_everywhere = _become_subreaper()
    model = str(Path(args.model).resolve()) if Path(args.model).is_dir() else args.model
    with tempfile.TemporaryDirectory(prefix="bench_predict_") as tmp:
        folder = Path(tmp) / "clips"
        start = time.perf_counter()
        write_clips(folder, args.n, args.seconds)
        print(f"wrote {args.n} clips of {args.seconds:g} s in {time.perf_counter() - start:.1f} s; "
              f"model {args.model}; {_cores()} cores available")
        print(f"{'jobs':>4}  {'wall s':>7}  {'files/s':>7}  {'CPU s':>7}  {'CPU util':>8}")
        for jobs in args.jobs:
            wall, cpu = run_predict(folder, Path(tmp) / f"jobs{jobs}.jsonl", model, jobs, args.n)
            print(f"{jobs:>4}  {wall:7.1f}  {args.n / wall:7.1f}  {cpu:7.1f}  {cpu / wall:8.2f}")
    if not counted_everywhere:
        print("note: not on Linux; CPU time of the worker processes may be missing")
    return 0


def write_clips(folder: Path, n: int, seconds: float) -> None:
    """N voiced-like clips: harmonics of a pitch that wanders, an envelope, and noise."""
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    for i in range(n):
        f0 = rng.uniform(90, 320) * (1 + 0.1 * np.sin(2 * np.pi * rng.uniform(0.3, 2) * t))
        phase = 2 * np.pi * np.cumsum(f0) / SAMPLE_RATE
        voiced = sum(np.sin(k * phase) / k for k in range(1, 6))
        envelope = 0.5 + 0.5 * np.sin(2 * np.pi * rng.uniform(1, 4) * t) ** 2
        signal = 0.2 * envelope * voiced + 0.02 * rng.standard_normal(t.size)
        sf.write(folder / f"clip{i:05d}.wav", signal.astype(np.float32), SAMPLE_RATE, subtype="PCM_16")


def run_predict(folder: Path, output: Path, model: str, jobs: int, n: int) -> tuple[float, float]:
    """Run `serkit predict` as a process; its wall time and the CPU time of its process tree."""
    command = [sys.executable, "-m", "serkit.cli", "predict", str(folder), "--model", model,
               "--format", "jsonl", "--output", str(output), "--jobs", str(jobs), "--no-progress"]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    before = _children_cpu()
    start = time.perf_counter()
    done = subprocess.run(command, check=False, cwd=REPO, env=env, capture_output=True, text=True)
    _reap_orphans()  # the fork server exits once its parent has; wait for it
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"serkit predict --jobs {jobs} failed ({done.returncode}):\n{done.stderr}")
    lines = output.read_text().count("\n")
    if lines != n:
        raise SystemExit(f"serkit predict --jobs {jobs} wrote {lines} results for {n} files")
    return wall, _children_cpu() - before


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _become_subreaper() -> bool:
    """Adopt orphaned descendants (Linux), so that their CPU time reaches RUSAGE_CHILDREN."""
    if not sys.platform.startswith("linux"):
        return False
    libc = ctypes.CDLL(None, use_errno=True)
    return libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0


def _reap_orphans() -> None:
    while True:
        try:
            os.waitpid(-1, 0)
        except ChildProcessError:
            return


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - macOS, Windows
        return os.cpu_count() or 1


if __name__ == "__main__":
    sys.exit(main())
