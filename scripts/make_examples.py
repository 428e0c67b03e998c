"""Synthesize the example clips shipped in ``serkit/examples/`` with espeak-ng.

The clips are synthetic speech made by this script, not acted emotional speech: each one
says a sentence that fits a mood, with espeak-ng voice, pitch, pauses, speed and
loudness chosen to suggest it. They exist so that ``serkit predict``, the demo and the
docs have audio to run on without any corpus; what a model says about them is an
illustration only. ``serkit/examples/README.md`` is written from the same table.

Usage (needs ``espeak-ng`` on PATH, e.g. ``apt-get install espeak-ng``)::

    python scripts/make_examples.py            # rewrites serkit/examples/
    python scripts/make_examples.py --out DIR
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import librosa
import numpy as np
import soundfile as sf
import soxr

from serkit.fileio import atomic_open, atomic_write_text

SAMPLE_RATE = 16_000
#: What the package promises about the shipped clips (checked, not just hoped for).
MIN_SECONDS, MAX_SECONDS = 2.0, 4.0
MAX_CLIP_BYTES = 100_000
#: Silence kept around the trimmed speech, so the clips do not start or end abruptly.
PAD_SECONDS = 0.15
DEFAULT_OUT = Path(__file__).resolve().parents[1] / "serkit" / "examples"


@dataclass(frozen=True)
class Clip:
    """One example: what is said and the espeak-ng settings that say it."""

    file: str
    mood: str  # what the settings are meant to suggest, not a ground-truth label
    text: str
    voice: str  # espeak-ng -v (language + variant)
    pitch: int  # -p, 0-99 (espeak default 50)
    word_gap: int  # -g, extra pause between words in units of 10 ms (default 0)
    speed: int  # -s, words per minute (default 175)
    amplitude: int  # -a, 0-200 (default 100)
    peak: float  # peak level of the written clip (loud vs quiet moods)

    def command(self, wav: Path) -> list[str]:
        return ["espeak-ng", "-v", self.voice, "-p", str(self.pitch), "-g", str(self.word_gap),
                "-s", str(self.speed), "-a", str(self.amplitude), "-w", str(wav), self.text]


CLIPS = (
    Clip("angry.flac", "anger", "I told you three times already. Stop touching my things!",
         "en-us+m3", pitch=38, word_gap=0, speed=200, amplitude=190, peak=0.95),
    Clip("happy.flac", "happiness", "We won! This is the best day ever!",
         "en-us+f3", pitch=72, word_gap=0, speed=185, amplitude=160, peak=0.85),
    Clip("neutral.flac", "neutral", "The meeting is at three o'clock in room twelve.",
         "en-gb", pitch=50, word_gap=1, speed=165, amplitude=100, peak=0.6),
    Clip("sad.flac", "sadness", "I miss her. Nothing feels the same.",
         "en-gb+m1", pitch=30, word_gap=2, speed=140, amplitude=70, peak=0.35),
    Clip("fearful.flac", "fear", "Did you hear that? Someone is outside the door.",
         "en-us+f2", pitch=80, word_gap=0, speed=215, amplitude=110, peak=0.55),
)


def synthesize(clip: Clip) -> np.ndarray:
    """The clip's speech as float32 mono at :data:`SAMPLE_RATE`, trimmed and padded."""
    # A file, not --stdout: the streamed WAV header has no length and libsndfile rejects it.
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "speech.wav"
        done = subprocess.run(clip.command(wav), check=False, capture_output=True, text=True)
        # espeak-ng exits 0 even on a bad option or voice; its stderr says what went wrong.
        if done.returncode != 0 or done.stderr.strip() or not wav.exists():
            raise SystemExit(f"{clip.file}: espeak-ng failed: {done.stderr.strip()}")
        signal, rate = sf.read(wav, dtype="float32")
    signal = soxr.resample(signal, rate, SAMPLE_RATE, quality="HQ")
    # espeak-ng pads its output with silence of varying length; trim it to a fixed pad.
    speech, _ = librosa.effects.trim(signal, top_db=45)
    pad = np.zeros(int(PAD_SECONDS * SAMPLE_RATE), dtype=np.float32)
    speech = np.concatenate([pad, speech, pad])
    return (speech * (clip.peak / np.max(np.abs(speech)))).astype(np.float32)


def write_clip(clip: Clip, out_dir: Path) -> tuple[float, int]:
    """Synthesize and write one clip as 16-bit FLAC; returns (seconds, bytes)."""
    speech = synthesize(clip)
    seconds = speech.size / SAMPLE_RATE
    if not MIN_SECONDS <= seconds <= MAX_SECONDS:
        raise SystemExit(f"{clip.file}: {seconds:.2f} s is outside {MIN_SECONDS}-{MAX_SECONDS} s; "
                         "shorten the text or change its speed")
    path = out_dir / clip.file
    with atomic_open(path, "wb") as handle:
        sf.write(handle, speech, SAMPLE_RATE, format="FLAC", subtype="PCM_16")
    size = path.stat().st_size
    if size > MAX_CLIP_BYTES:
        raise SystemExit(f"{clip.file}: {size} bytes is over the {MAX_CLIP_BYTES} byte budget")
    return seconds, size


def readme(durations: dict[str, float]) -> str:
    """serkit/examples/README.md: where the clips come from and what they are not."""
    rows = "\n".join(
        f"| `{c.file}` | {durations[c.file]:.1f} s | “{c.text}” | {c.mood} | `{c.voice}` | "
        f"-p {c.pitch} -g {c.word_gap} -s {c.speed} -a {c.amplitude}, peak {c.peak:g} |"
        for c in CLIPS
    )
    return f"""# Example clips

These clips are **synthetic speech** made by `scripts/make_examples.py` with the
[espeak-ng](https://github.com/espeak-ng/espeak-ng) formant synthesizer; no recording of a
person and no audio from any corpus or other source is used. Each clip says one English
sentence whose wording fits a mood, with espeak-ng's voice, pitch (`-p`), pause between
words (`-g`, in 10 ms), speed in words per minute (`-s`) and loudness (`-a`, then the written peak level)
chosen to *suggest* that mood.

They are **not acted emotional speech** and have no emotion labels: the "suggested mood"
column is only what the settings aim at. A synthesizer does not express emotion the way
people do, so whatever a model predicts for these clips is an illustration of the tools
(`serkit predict serkit/examples`, the demo), not evidence of how well it works.

All clips are 16 kHz mono 16-bit FLAC, trimmed to the speech with {PAD_SECONDS:g} s of
silence at each end.

| file | length | text | suggested mood | voice | settings |
|---|---|---|---|---|---|
{rows}

Regenerate them (needs `espeak-ng` on PATH; the exact bytes can differ between espeak-ng
versions):

```bash
python scripts/make_examples.py
```
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"folder (default {DEFAULT_OUT})")
    args = parser.parse_args(argv)
    if shutil.which("espeak-ng") is None:
        print("make_examples: espeak-ng is not installed; install it (apt-get install espeak-ng)",
              file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    durations, total = {}, 0
    for clip in CLIPS:
        durations[clip.file], size = write_clip(clip, args.out)
        total += size
        print(f"{clip.file}: {durations[clip.file]:.2f} s, {size / 1000:.1f} kB")
    atomic_write_text(args.out / "README.md", readme(durations))
    print(f"wrote {len(CLIPS)} clips ({total / 1000:.1f} kB) and README.md to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
