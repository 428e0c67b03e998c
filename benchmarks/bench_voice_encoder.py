"""Time the voice_encoder features on one torch thread, against Resemblyzer's own encoder.

Target: at most 20 ms per 3-second clip for serkit's extractor on one thread. Prints the
median milliseconds per clip for a single clip at a time, for 32 clips batched through
``embed_many`` (one LSTM call), for ``pooling="none"``, and for resemblyzer's
``embed_utterance`` on the same volume-normalised clips, with their ratio; then where one
clip's time goes (volume, mel front end, LSTM, pooling), and the largest difference
between the two embeddings.

Usage:
    python benchmarks/bench_voice_encoder.py [FOLDER] [--repeats 20] [--clips 32]

Clips are the first ``--clips`` EmoDB files of FOLDER (default ../shared/data/emodb
beside the checkout) cut or zero-padded to 3 s, or synthetic speech-like clips where the
folder is absent.
"""

from __future__ import annotations

import argparse
import os
import sys
import types
import warnings
from pathlib import Path

# One core: set before numpy/torch start their thread pools.
for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ[var] = "1"

import numpy as np  # noqa: E402
import torch  # noqa: E402
from timing import timed  # noqa: E402

DEFAULT_FOLDER = Path(__file__).resolve().parents[2] / "shared" / "data" / "emodb"
RATE = 16_000


def load_clips(folder: Path, n: int, seconds: float = 3.0) -> tuple[list[np.ndarray], str]:
    from serkit.audio import load_audio, pad_or_crop

    files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in {".wav", ".flac"})[:n]
    if len(files) == n:
        clips = [pad_or_crop(load_audio(p, sample_rate=RATE), int(seconds * RATE)) for p in files]
        return [c.astype(np.float32) for c in clips], f"{n} EmoDB clips from {folder}"
    rng = np.random.default_rng(0)
    t = np.arange(int(seconds * RATE)) / RATE
    clips = []
    for k in range(n):
        f0 = 110 + 10 * k + 30 * np.sin(2 * np.pi * 0.7 * t)
        phase = 2 * np.pi * np.cumsum(f0) / RATE
        voiced = sum(np.sin(h * phase) / h for h in range(1, 8))
        envelope = np.clip(np.sin(2 * np.pi * 2.5 * t + k), 0, None)
        clips.append((0.2 * envelope * voiced + 0.003 * rng.standard_normal(t.size)).astype(np.float32))
    return clips, f"{n} synthetic speech-like clips ({folder} not found)"


def import_resemblyzer():
    """resemblyzer, with an empty stand-in for webrtcvad where that fails to import (its
    wheel imports pkg_resources, gone from setuptools 81 on; only VAD trimming uses it)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        try:
            import webrtcvad  # noqa: F401
        except ImportError:
            sys.modules["webrtcvad"] = types.ModuleType("webrtcvad")
        import resemblyzer
    return resemblyzer


def median_ms(fn, repeats: int, per: int = 1) -> float:
    return 1000 * float(np.median(timed(fn, repeats))) / per


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", nargs="?", type=Path, default=DEFAULT_FOLDER)
    parser.add_argument("--repeats", type=int, default=20, help="timed calls per measurement")
    parser.add_argument("--clips", type=int, default=32, help="clips in the batched call")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)

    from serkit.features import make_features
    from serkit.features import voice_encoder_net as net

    clips, where = load_clips(args.folder, args.clips)
    print(f"{where}; 3 s each; torch {torch.__version__}, {torch.get_num_threads()} thread")
    ours = make_features("voice_encoder")
    ours.embed_many(clips[:2])  # load the weights before timing

    single = [median_ms(lambda c=c: ours(c), max(3, args.repeats // 4)) for c in clips[:8]]
    ours_single = float(np.median(single))
    ours_batched = median_ms(lambda: ours.embed_many(clips), max(3, args.repeats // 4), len(clips))
    frames = make_features("voice_encoder", pooling="none")
    ours_frames = median_ms(lambda: frames(clips[0]), args.repeats)

    resemblyzer = import_resemblyzer()
    ref = resemblyzer.VoiceEncoder("cpu", verbose=False)
    wavs = [resemblyzer.normalize_volume(c, -30, increase_only=True) for c in clips]

    def ref_embed(w):
        with torch.no_grad():
            return ref.embed_utterance(w)

    ref_single = float(np.median([median_ms(lambda w=w: ref_embed(w), max(3, args.repeats // 4))
                                  for w in wavs[:8]]))

    print(f"{'serkit voice_encoder, one clip per call':<46} {ours_single:7.2f} ms/clip")
    print(f"{f'serkit voice_encoder, embed_many of {len(clips)}':<46} {ours_batched:7.2f} ms/clip")
    print(f"{'serkit voice_encoder pooling=none, one clip':<46} {ours_frames:7.2f} ms/clip")
    print(f"{'resemblyzer embed_utterance, one clip per call':<46} {ref_single:7.2f} ms/clip")
    print(f"ratio resemblyzer / serkit: one clip {ref_single / ours_single:.2f}x, "
          f"batched {ref_single / ours_batched:.2f}x")

    # Where one clip's time goes.
    network = net.load_network()
    clip = clips[0]
    wave = ours.prepare(clip)
    mels = ours.partial_mels(wave)

    def lstm():
        with torch.inference_mode():
            network(mels)

    stages = {
        "volume normalisation": lambda: ours.prepare(clip),
        "mel front end + partials": lambda: ours.partial_mels(wave),
        f"network on {mels.shape[0]} partials x 160 frames": lstm,
        "whole call": lambda: ours(clip),
    }
    print("one 3 s clip, median:")
    for label, fn in stages.items():
        print(f"  {label:<40} {median_ms(fn, args.repeats):7.2f} ms")

    diff = max(float(np.abs(ours.embed_many([c])[0][:256] - ref_embed(w)).max())
               for c, w in zip(clips, wavs, strict=True))
    print(f"largest |serkit - resemblyzer| over the {len(clips)} embeddings: {diff:.2e}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
