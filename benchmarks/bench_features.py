"""Time fusion107 feature extraction over a corpus folder, cold and from the cache.

Usage:
    python benchmarks/bench_features.py [FOLDER] [--n-jobs N] [--pooling mean|none]
                                        [--pitch-trackers]

FOLDER defaults to ../shared/data/emodb beside the checkout. Every .wav/.flac under it is
extracted three times: without a cache, into an empty cache (a temporary folder, removed
afterwards), and again from that cache. ``--pitch-trackers`` also times librosa.yin and
librosa.pyin on one 3 s clip from the folder, with fusion107's frame settings.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from serkit.features import FeatureCache, extract_corpus, make_features

DEFAULT_FOLDER = Path(__file__).resolve().parents[2] / "shared" / "data" / "emodb"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", nargs="?", type=Path, default=DEFAULT_FOLDER)
    parser.add_argument("--n-jobs", type=int, default=-1, help="worker processes (-1: all cores)")
    parser.add_argument("--pooling", choices=["mean", "none"], default="mean")
    parser.add_argument("--pitch-trackers", action="store_true",
                        help="also time librosa.yin against librosa.pyin on a 3 s clip")
    args = parser.parse_args(argv)

    files = sorted(p for p in args.folder.rglob("*") if p.suffix.lower() in {".wav", ".flac"})
    if not files:
        print(f"no .wav or .flac files under {args.folder}", file=sys.stderr)
        return 2
    extractor = make_features("fusion107", pooling=args.pooling)
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    jobs = cores if args.n_jobs == -1 else args.n_jobs
    print(f"{len(files)} files under {args.folder}; {extractor!r}; n_jobs={jobs} "
          f"({cores} cores available)")

    def timed(label: str, cache: FeatureCache | None) -> list[np.ndarray]:
        start = time.perf_counter()
        out = extract_corpus(files, extractor, cache=cache, n_jobs=args.n_jobs)
        seconds = time.perf_counter() - start
        print(f"{label:<28} {seconds:8.2f} s  {1000 * seconds / len(files):8.2f} ms/file")
        return out

    timed("no cache", None)
    with tempfile.TemporaryDirectory(prefix="serkit-bench-cache-") as root:
        cache = FeatureCache(root)
        cold = timed("empty cache (fill)", cache)
        warm = timed("from cache", cache)
    same = all(np.array_equal(a, b) for a, b in zip(cold, warm))
    print(f"cached features identical to computed ones: {same}")

    if args.pitch_trackers:
        time_pitch_trackers(files, extractor)
    return 0


def time_pitch_trackers(files: list[Path], extractor) -> None:
    import librosa

    from serkit.audio import load_audio, pad_or_crop

    rate = extractor.sample_rate
    clip = pad_or_crop(load_audio(files[0], sample_rate=rate), 3 * rate)
    settings = dict(fmin=extractor.fmin, fmax=extractor.fmax, sr=rate,
                    frame_length=extractor.n_fft, hop_length=extractor.hop_length)
    librosa.pyin(clip[:rate], **settings)  # compile numba code before timing
    for name, track, repeats in (("yin", librosa.yin, 20), ("pyin", librosa.pyin, 3)):
        start = time.perf_counter()
        for _ in range(repeats):
            track(clip, **settings)
        ms = 1000 * (time.perf_counter() - start) / repeats
        print(f"librosa.{name:<5} on a 3 s clip: {ms:8.1f} ms")
    start = time.perf_counter()
    for _ in range(20):
        extractor(clip)
    print(f"whole fusion107 on a 3 s clip: {1000 * (time.perf_counter() - start) / 20:8.1f} ms")


if __name__ == "__main__":
    sys.exit(main())
