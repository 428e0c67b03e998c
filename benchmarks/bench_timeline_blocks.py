"""Does the timeline follow emotion blocks? A long recording made of blocks of one emotion each.

Issue 19 saw 29 segments, most 1 s long, on a 67 s file of five emotion blocks. This script
builds such a file from one corpus speaker's clips (blocks of about ``--block-s`` seconds, in
the order of ``--blocks``; clips joined by ``--gap-s`` of silence, blocks by ``--pause-s``),
runs the default model's timeline with and without segmenting, and prints per setting:

- segments: how many emotion segments (non-speech ones not counted);
- short: how many of them last under 2 s;
- changes: label changes between consecutive emotion segments (the block truth has
  ``len(blocks) - 1``);
- time-accuracy: the share of the speech time whose segment label is the block's emotion
  (a property of the model as much as of the segmenting: same windows in every row);
- the whole-file summary (share of speech time per label).

Usage:
    python benchmarks/bench_timeline_blocks.py [--corpus emodb] [--speaker all|03]

The default model was trained on all of EmoDB among others, so this speaker is not new to
it: the numbers measure the segmenting, not generalisation (see the model card for that).
"""

from __future__ import annotations

import argparse
import os
import sys
from itertools import pairwise

for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = "1"

import numpy as np

SETTINGS = {
    "raw merge (before)": {"smoothing": "none", "min_segment_s": 0.0, "vad": "none"},
    "default (median 5, min 2 s, energy VAD)": {},
    "viterbi, min 2 s": {"smoothing": "viterbi"},
}


def build_recording(corpus, speaker: str, blocks: list[str], block_s: float, gap_s: float,
                    pause_s: float, rate: int) -> tuple[np.ndarray, list[tuple[float, float, str]]]:
    """The joined audio and its truth: (start_s, end_s, emotion) per block (pauses outside)."""
    from serkit.audio import load_audio

    pieces, truth, t = [], [], 0.0
    speakers = {speaker, f"{corpus.name}-{speaker}"}  # "03" or "emodb-03"
    for emotion in blocks:
        clips = sorted((u for u in corpus.utterances if u.speaker in speakers and u.emotion == emotion),
                       key=lambda u: str(u.path))
        if not clips:
            sys.exit(f"speaker {speaker} has no {emotion} clips; choose another --speaker or --blocks")
        start, filled, i = t, 0.0, 0
        while filled < block_s:
            audio = load_audio(clips[i % len(clips)].path, sample_rate=rate)
            pieces += [audio, np.zeros(int(gap_s * rate), np.float32)]
            filled += len(audio) / rate + gap_s
            i += 1
        t = start + filled
        truth.append((start, t, emotion))
        pieces.append(np.zeros(int(pause_s * rate), np.float32))
        t += pause_s
    return np.concatenate(pieces), truth


def score(timeline, truth) -> dict:
    """Segment counts and the share of block time labelled with the block's emotion."""
    speech = [s for s in timeline.segments if s.label != "non-speech"]
    changes = sum(a.label != b.label for a, b in pairwise(speech))
    right = total = 0.0
    for b0, b1, emotion in truth:
        for s in speech:
            overlap = max(0.0, min(b1, s.end_s) - max(b0, s.start_s))
            total += overlap
            right += overlap * (s.label == emotion)
    return {"segments": len(speech), "short": sum(s.end_s - s.start_s < 2.0 for s in speech),
            "changes": changes, "time_accuracy": right / total if total else float("nan")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", default="emodb")
    parser.add_argument("--speaker", default="all", help="a speaker id, or all")
    parser.add_argument("--blocks", default="anger,neutral,sadness,happiness,anger")
    parser.add_argument("--block-s", type=float, default=12.0)
    parser.add_argument("--gap-s", type=float, default=0.3)
    parser.add_argument("--pause-s", type=float, default=1.0)
    args = parser.parse_args()

    import serkit
    from serkit.corpora import load_corpus
    from serkit.training.runner import corpus_folder, resolve_data_roots

    folder = corpus_folder(args.corpus, resolve_data_roots(None))
    if not folder.is_dir():
        sys.exit(f"corpus {args.corpus} not found at {folder}; set SERKIT_DATA")
    corpus = load_corpus(args.corpus, folder)
    speakers = sorted({u.speaker for u in corpus.utterances}) if args.speaker == "all" else [args.speaker]
    model = serkit.load_model()
    totals = {name: [] for name in SETTINGS}
    print(f"{'speaker / setting':42s} {'segments':>8s} {'short':>5s} {'changes':>7s} {'time-acc':>8s}  summary")
    for speaker in speakers:
        audio, truth = build_recording(corpus, speaker, args.blocks.split(","), args.block_s,
                                       args.gap_s, args.pause_s, model.sample_rate)
        print(f"{speaker}: {len(audio) / model.sample_rate:.1f} s, "
              f"blocks {' | '.join(f'{e} {b1 - b0:.1f} s' for b0, b1, e in truth)}")
        for name, options in SETTINGS.items():
            timeline = model.timeline(audio, sample_rate=model.sample_rate, **options)
            s = score(timeline, truth)
            totals[name].append(s)
            shares = ", ".join(f"{k} {v:.0%}" for k, v in sorted(timeline.summary.shares.items(),
                                                                 key=lambda kv: -kv[1]) if v > 0)
            print(f"  {name:40s} {s['segments']:8d} {s['short']:5d} {s['changes']:7d} "
                  f"{s['time_accuracy']:8.1%}  {shares}")
    print(f"mean over {len(speakers)} speaker(s); truth: {len(args.blocks.split(','))} blocks, "
          f"{len(args.blocks.split(',')) - 1} changes")
    for name, rows in totals.items():
        mean = {k: float(np.mean([r[k] for r in rows])) for k in rows[0]}
        print(f"  {name:40s} {mean['segments']:8.1f} {mean['short']:5.1f} {mean['changes']:7.1f} "
              f"{mean['time_accuracy']:8.1%}")

if __name__ == "__main__":
    main()
