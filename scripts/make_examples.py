"""Synthesize the example clips shipped in ``serkit/examples/`` with espeak-ng.

The clips are synthetic speech made by this script, not acted emotional speech: each one
says a sentence that fits a mood, with its prosody set to the vocal cues that studies of
acted emotional speech report for that emotion. They exist so that ``serkit predict``, the
demo and the docs have audio to run on without any corpus; what a model says about them is
an illustration only. ``serkit/examples/README.md`` is written from the same table.

The cues follow the reviews of Scherer (2003) and Juslin & Laukka (2003):

* anger (hot anger): higher mean pitch, wide pitch range, fast rate, loud, more
  high-frequency energy (tense voice);
* happiness (joy): high mean pitch, wide and variable pitch, fast-ish rate, moderately loud;
* neutral: medium pitch, narrow-to-medium range, medium rate and loudness;
* sadness: low mean pitch, narrow range, slow rate, quiet, longer pauses, less
  high-frequency energy;
* fear: high mean pitch, narrow-to-medium but irregular pitch, fast rate, medium loudness.

All five clips use one espeak-ng voice with one baseline (:data:`BASE`), so the differences
between them are the prosody, not a change of speaker. The emotion is carried by SSML
(``espeak-ng -m``) ``<prosody pitch range rate volume>`` relative to that baseline, by
``<break>`` pauses and the word gap (``-g``), by per-word pitch offsets (the irregular
contour of fear, the lively one of happiness) and by a spectral-tilt shelf filter applied to
espeak-ng's output (espeak-ng has no voice-quality setting in SSML). espeak-ng 1.51 honours
``pitch``, ``range`` (up to about 200 %), ``rate`` and ``volume`` given as percentages, and
``<break time>``; it ignores ``volume`` in dB, so only percentages are used here.

Each written clip is then measured (:func:`measure`) and the script fails, writing nothing,
unless the cues come out in the intended order (:func:`check_orderings`): anger, happiness
and fear above neutral above sadness in median pitch; sadness the slowest and quietest;
happiness and anger the widest pitch ranges; anger the loudest and the one with the most
high-frequency energy. The measurements go into the README table so a reader can see the
cues are in the audio.

References:
    Scherer, K. R. (2003). Vocal communication of emotion: A review of research paradigms.
    Speech Communication, 40(1-2), 227-256.
    Juslin, P. N., & Laukka, P. (2003). Communication of emotions in vocal expression and
    music performance: Different channels, same code? Psychological Bulletin, 129(5),
    770-814.

Usage (needs ``espeak-ng`` on PATH, e.g. ``apt-get install espeak-ng``)::

    python scripts/make_examples.py            # rewrites serkit/examples/
    python scripts/make_examples.py --out DIR
"""

from __future__ import annotations

import argparse
import io
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import escape

import librosa
import numpy as np
import scipy.signal
import soundfile as sf
import soxr

from serkit.fileio import atomic_write_bytes, atomic_write_text

SAMPLE_RATE = 16_000
#: What the package promises about the shipped clips (checked, not just hoped for).
MIN_SECONDS, MAX_SECONDS = 2.0, 4.0
MAX_CLIP_BYTES = 100_000
#: Silence kept around the trimmed speech, so the clips do not start or end abruptly.
PAD_SECONDS = 0.15
#: Written clips must stay below full scale: loudness is a cue, clipping is not.
MAX_PEAK = 0.99
#: Corner frequency of the shelf filter that tilts the spectrum (voice tension).
TILT_HZ = 1_000.0
DEFAULT_OUT = Path(__file__).resolve().parents[1] / "serkit" / "examples"

SCHERER_2003 = ('Scherer, K. R. (2003). Vocal communication of emotion: A review of research '
                'paradigms. *Speech Communication*, 40(1–2), 227–256.')
JUSLIN_LAUKKA_2003 = ('Juslin, P. N., & Laukka, P. (2003). Communication of emotions in vocal '
                      'expression and music performance: Different channels, same code? '
                      '*Psychological Bulletin*, 129(5), 770–814.')


@dataclass(frozen=True)
class Voice:
    """The speaker's neutral baseline: espeak-ng command-line settings shared by every clip."""

    name: str  # -v (language + variant)
    pitch: int  # -p, 0-99 (espeak default 50)
    speed: int  # -s, words per minute (default 175)
    amplitude: int  # -a, 0-200 (default 100)

    def options(self) -> list[str]:
        return ["-v", self.name, "-p", str(self.pitch), "-s", str(self.speed), "-a", str(self.amplitude)]


BASE = Voice("en-us", pitch=50, speed=160, amplitude=55)


@dataclass(frozen=True)
class Clip:
    """One example: what is said and the prosody, relative to :data:`BASE`, that says it."""

    file: str
    mood: str  # what the settings are meant to suggest, not a ground-truth label
    text: str
    cues: str  # the literature's cues the settings aim at, for the README
    pitch: str = "+0%"  # SSML prosody pitch (mean pitch; espeak scales -p by it)
    range: str = "100%"  # SSML prosody range (pitch excursions)
    rate: str = "100%"  # SSML prosody rate (of -s)
    volume: str = "100%"  # SSML prosody volume (of -a)
    word_gap: int = 0  # -g, extra pause between words in units of 10 ms (default 0)
    pause_ms: int = 0  # <break> after each sentence or clause inside the text
    word_pitch: tuple[int, ...] = ()  # per-word pitch offsets in %, one per word (or none)
    tilt_db: float = 0.0  # spectral tilt about TILT_HZ, dB of high over low (+ tense, - lax voice)

    def ssml(self) -> str:
        words = self.text.split()
        if self.word_pitch and len(self.word_pitch) != len(words):
            raise SystemExit(f"{self.file}: {len(self.word_pitch)} word pitch offsets "
                             f"for {len(words)} words")
        spoken = []
        for i, word in enumerate(words):
            part = escape(word)
            if self.word_pitch and self.word_pitch[i]:
                part = f'<prosody pitch="{self.word_pitch[i]:+d}%">{part}</prosody>'
            if self.pause_ms and i < len(words) - 1 and re.search(r"[.?!,;]$", word):
                part += f'<break time="{self.pause_ms}ms"/>'
            spoken.append(part)
        return (f'<speak><prosody pitch="{self.pitch}" range="{self.range}" rate="{self.rate}" '
                f'volume="{self.volume}">{" ".join(spoken)}</prosody></speak>')

    def command(self, wav: Path) -> list[str]:
        return ["espeak-ng", "-m", *BASE.options(), "-g", str(self.word_gap), "-w", str(wav),
                self.ssml()]

    def settings(self) -> str:
        """The clip's settings in one line for the README table."""
        parts = [f"pitch {self.pitch}", f"range {self.range}", f"rate {self.rate}",
                 f"volume {self.volume}"]
        if self.word_gap:
            parts.append(f"-g {self.word_gap}")
        if self.pause_ms:
            parts.append(f"breaks {self.pause_ms} ms")
        if self.word_pitch:
            parts.append("word pitch " + " ".join(f"{p:+d}" for p in self.word_pitch) + " %")
        if self.tilt_db:
            parts.append(f"tilt {self.tilt_db:+g} dB")
        return ", ".join(parts)


CLIPS = (
    Clip("angry.flac", "anger", "I told you three times already. Stop touching my things!",
         "high pitch, wide range, fast, loud, tense voice",
         pitch="+40%", range="190%", rate="145%", volume="200%", tilt_db=6.0),
    Clip("happy.flac", "happiness", "We won! This is the best day ever!",
         "high pitch, wide and variable range, fast-ish, moderately loud",
         pitch="+45%", range="200%", rate="130%", volume="140%", tilt_db=2.0,
         word_pitch=(20, 10, 0, -10, 10, 25, 0, 15)),
    Clip("neutral.flac", "neutral", "The meeting is at three o'clock in room twelve.",
         "medium pitch, narrow-to-medium range, medium rate and loudness"),
    Clip("sad.flac", "sadness", "I miss her. Nothing feels the same.",
         "low pitch, narrow range, slow, quiet, long pauses, lax voice",
         pitch="-35%", range="45%", rate="85%", volume="50%", word_gap=2, pause_ms=450, tilt_db=-6.0),
    Clip("fearful.flac", "fear", "Did you hear that? Someone is outside the door.",
         "high pitch, narrow-to-medium irregular range, fast, medium loudness",
         pitch="+55%", range="80%", rate="140%", volume="105%",
         word_pitch=(0, 12, -8, 15, -5, 10, -10, 6, 0)),
)


def tilt(signal: np.ndarray, gain_db: float) -> np.ndarray:
    """Tilt the spectrum by ``gain_db`` about :data:`TILT_HZ`: half of it down below, half up above.

    A second-order high shelf (RBJ audio-EQ cookbook, slope 1) of ``gain_db`` with
    ``-gain_db / 2`` of broadband gain, so that tilting changes the voice quality rather than
    mostly the level.
    """
    if not gain_db:
        return signal
    a = 10 ** (gain_db / 40)
    w0 = 2 * np.pi * TILT_HZ / SAMPLE_RATE
    alpha = np.sin(w0) / 2 * np.sqrt(2)
    cos, root = np.cos(w0), 2 * np.sqrt(a) * alpha
    b = [a * ((a + 1) + (a - 1) * cos + root), -2 * a * ((a - 1) + (a + 1) * cos),
         a * ((a + 1) + (a - 1) * cos - root)]
    den = [(a + 1) - (a - 1) * cos + root, 2 * ((a - 1) - (a + 1) * cos), (a + 1) - (a - 1) * cos - root]
    return (scipy.signal.lfilter(b, den, signal) / a).astype(np.float32)


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
    if np.max(np.abs(signal)) >= MAX_PEAK:
        raise SystemExit(f"{clip.file}: espeak-ng's output reaches full scale (it clips); "
                         "lower its volume or the base amplitude")
    signal = tilt(soxr.resample(signal, rate, SAMPLE_RATE, quality="HQ"), clip.tilt_db)
    # espeak-ng pads its output with silence of varying length; trim it to a fixed pad.
    speech, _ = librosa.effects.trim(signal, top_db=45)
    pad = np.zeros(int(PAD_SECONDS * SAMPLE_RATE), dtype=np.float32)
    # No normalization: the level espeak-ng writes (-a and the prosody volume) is the cue.
    return np.concatenate([pad, speech, pad]).astype(np.float32)


def encode(clip: Clip, speech: np.ndarray) -> bytes:
    """The clip as 16-bit FLAC bytes, after checking its length, level and size."""
    seconds = speech.size / SAMPLE_RATE
    if not MIN_SECONDS <= seconds <= MAX_SECONDS:
        raise SystemExit(f"{clip.file}: {seconds:.2f} s is outside {MIN_SECONDS}-{MAX_SECONDS} s; "
                         "shorten the text or change its rate")
    peak = float(np.max(np.abs(speech)))
    if peak > MAX_PEAK:
        raise SystemExit(f"{clip.file}: peak {peak:.3f} is over {MAX_PEAK} (it would clip); "
                         "lower its volume or the base amplitude")
    buffer = io.BytesIO()
    sf.write(buffer, speech, SAMPLE_RATE, format="FLAC", subtype="PCM_16")
    data = buffer.getvalue()
    if len(data) > MAX_CLIP_BYTES:
        raise SystemExit(f"{clip.file}: {len(data)} bytes is over the {MAX_CLIP_BYTES} byte budget")
    return data


# --- measuring the cues in the written audio ---------------------------------------------------

HOP = 160  # 10 ms frames
F0_MIN, F0_MAX = 50.0, 500.0
#: A syllable nucleus is an intensity peak this many dB above its surroundings in a voiced frame.
NUCLEUS_PROMINENCE_DB = 2.0
#: Silences at least this long inside the speech count as pauses.
MIN_PAUSE_SECONDS = 0.1


@dataclass(frozen=True)
class Cues:
    """Prosodic cues measured in one written clip (its speech, the silent pads excluded)."""

    seconds: float  # whole clip, pads included
    median_f0: float  # Hz, over voiced frames (pYIN)
    f0_range: float  # semitones between the 5th and 95th percentile of voiced f0
    syllable_rate: float  # syllable nuclei per second of speech (pauses included)
    pause_share: float  # share of the speech time spent in pauses of >= MIN_PAUSE_SECONDS
    rms_dbfs: float  # RMS level of the speech
    alpha_ratio: float  # dB, energy 1-5 kHz over 50 Hz-1 kHz in voiced frames


def measure(flac: bytes) -> Cues:
    """Measure the cues in a clip as written (decoded from its FLAC bytes)."""
    audio, rate = sf.read(io.BytesIO(flac), dtype="float32")
    assert rate == SAMPLE_RATE
    speech, _ = librosa.effects.trim(audio, top_db=60)
    f0, voiced, _ = librosa.pyin(speech, fmin=F0_MIN, fmax=F0_MAX, sr=SAMPLE_RATE,
                                 frame_length=1024, hop_length=HOP)
    voiced &= ~np.isnan(f0)
    f0_voiced = f0[voiced]
    low, high = np.percentile(f0_voiced, [5, 95])

    # Speaking rate: syllable nuclei as intensity peaks in voiced frames (after de Jong &
    # Wempe 2009, Behavior Research Methods 41), counted per second of speech.
    level = 20 * np.log10(librosa.feature.rms(y=speech, frame_length=400, hop_length=HOP)[0] + 1e-9)
    window = np.hanning(5)
    level = np.convolve(level, window / window.sum(), mode="same")
    frames = min(level.size, voiced.size)
    level, voiced_frames = level[:frames], voiced[:frames]
    peaks, _ = scipy.signal.find_peaks(level, prominence=NUCLEUS_PROMINENCE_DB,
                                       distance=int(0.08 * SAMPLE_RATE / HOP))
    nuclei = [p for p in peaks
              if level[p] > level.max() - 25 and voiced_frames[max(0, p - 2):p + 3].any()]
    seconds = speech.size / SAMPLE_RATE

    # Pauses: runs of frames 35 dB below the loudest frame, at least MIN_PAUSE_SECONDS long.
    silent = np.concatenate([[False], level < level.max() - 35, [False]])
    edges = np.flatnonzero(np.diff(silent.astype(int)))
    runs = (edges[1::2] - edges[::2]) * HOP / SAMPLE_RATE
    pause = float(runs[runs >= MIN_PAUSE_SECONDS].sum())

    # Alpha ratio over voiced frames: how much energy the voice has above 1 kHz.
    power = np.abs(librosa.stft(speech, n_fft=1024, hop_length=HOP)) ** 2
    freqs = librosa.fft_frequencies(sr=SAMPLE_RATE, n_fft=1024)
    frames = min(power.shape[1], voiced.size)
    spectrum = power[:, :frames][:, voiced[:frames]].sum(axis=1)
    low_band = spectrum[(freqs >= 50) & (freqs < 1000)].sum()
    high_band = spectrum[(freqs >= 1000) & (freqs < 5000)].sum()

    return Cues(
        seconds=audio.size / SAMPLE_RATE,
        median_f0=float(np.median(f0_voiced)),
        f0_range=float(12 * np.log2(high / low)),
        syllable_rate=len(nuclei) / seconds,
        pause_share=pause / seconds,
        rms_dbfs=float(10 * np.log10(np.mean(speech.astype(np.float64) ** 2))),
        alpha_ratio=float(10 * np.log10(high_band / low_band)),
    )


#: Smallest differences that count as "in the intended order".
MIN_PITCH_STEP = 1.0  # semitones between median f0s
MIN_RANGE_STEP = 0.5  # semitones between f0 ranges
MIN_RATE_STEP = 0.2  # syllables per second
MIN_LEVEL_STEP = 1.0  # dB
MIN_TILT_STEP = 1.0  # dB of alpha ratio


def check_orderings(cues: dict[str, Cues]) -> list[str]:
    """Every way the measured cues fail the intended order (empty when they all hold)."""
    by_mood = {clip.mood: cues[clip.file] for clip in CLIPS}
    anger, happy, neutral, sad, fear = (
        by_mood[mood] for mood in ("anger", "happiness", "neutral", "sadness", "fear"))
    failures = []

    def others(*moods: str) -> list[Cues]:
        return [cue for mood, cue in by_mood.items() if mood not in moods]

    def semitones(high: float, low: float) -> float:
        return float(12 * np.log2(high / low))

    def need(ok: bool, what: str) -> None:
        if not ok:
            failures.append(what)

    for mood, cue in (("anger", anger), ("happiness", happy), ("fear", fear)):
        need(semitones(cue.median_f0, neutral.median_f0) >= MIN_PITCH_STEP,
             f"median f0 of {mood} ({cue.median_f0:.0f} Hz) is not above neutral "
             f"({neutral.median_f0:.0f} Hz)")
    need(semitones(neutral.median_f0, sad.median_f0) >= MIN_PITCH_STEP,
         f"median f0 of neutral ({neutral.median_f0:.0f} Hz) is not above sadness "
         f"({sad.median_f0:.0f} Hz)")
    for mood, cue in (("happiness", happy), ("anger", anger)):
        for other in others("happiness", "anger"):
            need(cue.f0_range - other.f0_range >= MIN_RANGE_STEP,
                 f"f0 range of {mood} ({cue.f0_range:.1f} st) is not among the two widest")
    need(all(c.syllable_rate - sad.syllable_rate >= MIN_RATE_STEP for c in others("sadness")),
         f"sadness ({sad.syllable_rate:.2f} syllables/s) is not the slowest")
    for mood, cue in (("anger", anger), ("fear", fear)):
        need(cue.syllable_rate - neutral.syllable_rate >= MIN_RATE_STEP,
             f"{mood} ({cue.syllable_rate:.2f} syllables/s) is not faster than neutral "
             f"({neutral.syllable_rate:.2f})")
    need(all(c.rms_dbfs - sad.rms_dbfs >= MIN_LEVEL_STEP for c in others("sadness")),
         f"sadness ({sad.rms_dbfs:.1f} dBFS) is not the quietest")
    need(all(anger.rms_dbfs - c.rms_dbfs >= MIN_LEVEL_STEP for c in others("anger")),
         f"anger ({anger.rms_dbfs:.1f} dBFS) is not the loudest")
    need(all(anger.alpha_ratio - c.alpha_ratio >= MIN_TILT_STEP for c in others("anger")),
         f"anger (alpha ratio {anger.alpha_ratio:.1f} dB) does not have the most high-frequency energy")
    need(all(sad.pause_share > c.pause_share for c in others("sadness")),
         f"sadness (pauses {sad.pause_share:.0%}) does not pause the most")
    return failures


def table(cues: dict[str, Cues]) -> str:
    """The measured cues as markdown rows (also printed by :func:`main`)."""
    rows = []
    for clip in CLIPS:
        c = cues[clip.file]
        rows.append(f"| `{clip.file}` | {clip.mood} | {c.seconds:.1f} s | {c.median_f0:.0f} | "
                    f"{c.f0_range:.1f} | {c.syllable_rate:.1f} | {c.pause_share:.0%} | "
                    f"{c.rms_dbfs:.1f} | {c.alpha_ratio:.1f} |")
    return "\n".join(rows)


def readme(cues: dict[str, Cues]) -> str:
    """serkit/examples/README.md: where the clips come from and what they are not."""
    settings = "\n".join(
        f"| `{c.file}` | “{c.text}” | {c.mood} | {c.cues} | {c.settings()} |" for c in CLIPS
    )
    return f"""# Example clips

These clips are **synthetic speech** made by `scripts/make_examples.py` with the
[espeak-ng](https://github.com/espeak-ng/espeak-ng) formant synthesizer; no recording of a
person and no audio from any corpus or other source is used. Each clip says one English
sentence whose wording fits a mood, with its prosody set to the vocal cues that reviews of
acted emotional speech report for that emotion (Scherer 2003; Juslin & Laukka 2003): pitch
level and range, speaking rate, loudness, pauses and voice tension.

They are **not acted emotional speech** and have no emotion labels: the "suggested mood"
column is only what the settings aim at. A synthesizer does not express emotion the way
people do, and a handful of prosodic settings is a crude imitation of the cues people use,
so whatever a model predicts for these clips is an illustration of the tools
(`serkit predict serkit/examples`, the demo), not evidence of how well it works.

All clips are 16 kHz mono 16-bit FLAC, trimmed to the speech with {PAD_SECONDS:g} s of
silence at each end, and written at the level espeak-ng produces (no normalization), so
loudness differs between them on purpose.

## Settings

Every clip uses the same voice and baseline, `espeak-ng -m {" ".join(BASE.options())}`, so
the differences between clips are prosody, not a change of speaker. The settings below are
relative to that baseline: SSML `<prosody>` pitch (espeak-ng scales `-p` by it), range
(pitch excursions), rate (of `-s`) and volume (of `-a`); extra word gap (`-g`, in 10 ms);
`<break>` pauses after each sentence or clause; per-word pitch offsets (irregular or lively
intonation); and a shelf filter applied to espeak-ng's output that tilts its spectrum about
{TILT_HZ:g} Hz (half the tilt as a cut below, half as a boost above) towards a tenser (+)
or laxer (−) voice, as espeak-ng's SSML has no voice-quality setting.

| file | text | suggested mood | cues aimed at | settings |
|---|---|---|---|---|
{settings}

## Measured cues

Measured by the script in each clip as written (its speech, the silent ends excluded); the
script refuses to write the clips unless these come out in the intended order: anger,
happiness and fear above neutral above sadness in median pitch, happiness and anger with
the widest pitch ranges, sadness the slowest and quietest with the most pausing, anger the
loudest with the most high-frequency energy.

- **median f0**: median fundamental frequency of the voiced frames (librosa `pyin`,
  {F0_MIN:g}–{F0_MAX:g} Hz).
- **f0 range**: 5th to 95th percentile of voiced f0, in semitones.
- **rate**: syllable nuclei (intensity peaks at least {NUCLEUS_PROMINENCE_DB:g} dB above their
  surroundings, in voiced frames) per second of speech, pauses included. It is a proxy: the
  sentences differ, fast speech can hide an unstressed syllable from it, and pauses count,
  so a clip of two short exclamations (happy) measures slower than its rate setting alone
  would make it.
- **pauses**: share of the speech time in silences of at least {MIN_PAUSE_SECONDS * 1000:g} ms.
- **RMS**: RMS level of the speech, dB relative to full scale.
- **alpha ratio**: energy 1–5 kHz relative to 50 Hz–1 kHz in voiced frames; higher means more
  high-frequency energy (a tenser voice).

| file | suggested mood | length | median f0 (Hz) | f0 range (st) | rate (syll./s) | pauses | RMS (dBFS) | alpha ratio (dB) |
|---|---|---|---|---|---|---|---|---|
{table(cues)}

Regenerate them (needs `espeak-ng` on PATH; the exact bytes and measurements can differ
between espeak-ng versions, and the script fails if the cues stop ordering as intended):

```bash
python scripts/make_examples.py
```

## References

- {SCHERER_2003}
- {JUSLIN_LAUKKA_2003}
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"folder (default {DEFAULT_OUT})")
    args = parser.parse_args(argv)
    if shutil.which("espeak-ng") is None:
        print("make_examples: espeak-ng is not installed; install it (apt-get install espeak-ng)",
              file=sys.stderr)
        return 2
    # Synthesize, encode and measure everything first: nothing is written unless all clips
    # pass their checks and the cues order as intended.
    encoded = {clip.file: encode(clip, synthesize(clip)) for clip in CLIPS}
    cues = {name: measure(data) for name, data in encoded.items()}
    print(table(cues))
    failures = check_orderings(cues)
    if failures:
        raise SystemExit("make_examples: the measured cues do not order as intended, "
                         "nothing written:\n  "
                         + "\n  ".join(failures))
    args.out.mkdir(parents=True, exist_ok=True)
    for name, data in encoded.items():
        atomic_write_bytes(args.out / name, data)
        print(f"{name}: {cues[name].seconds:.2f} s, {len(data) / 1000:.1f} kB")
    atomic_write_text(args.out / "README.md", readme(cues))
    total = sum(len(data) for data in encoded.values())
    print(f"wrote {len(CLIPS)} clips ({total / 1000:.1f} kB) and README.md to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
