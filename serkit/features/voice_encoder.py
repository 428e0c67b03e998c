"""A pretrained voice encoder as features: Resemblyzer's speaker embedding and LSTM states.

The encoder (Jemine, Resemble AI, Apache-2.0; credited in NOTICE) is a 3-layer LSTM over
40-band mel power frames (25 ms window, 10 ms step) trained for speaker verification.
Speaker embeddings carry voice quality, pitch range and speaking style, which emotion
changes too; its hidden states are a learned frame-level representation of the voice.
serkit reimplements the network and the front end (:mod:`serkit.features.voice_encoder_net`)
and loads the weights file that the ``resemblyzer`` wheel ships; no resemblyzer module is
imported.

What is computed, for one clip at 16 kHz:

1. Volume: ``volume="increase_only"`` (default) scales a clip quieter than -30 dBFS RMS up
   to -30 dBFS and leaves louder ones alone, as resemblyzer's ``preprocess_wav`` does
   (``normalize_volume(wav, -30, increase_only=True)``); ``"always"`` brings every clip to
   -30 dBFS; ``"off"`` leaves it. An all-zero clip is left as it is (the package's
   formula would multiply it by infinity and return NaN).
2. No voice-activity trimming: ``preprocess_wav`` also shortens long pauses with webrtcvad,
   which serkit does not depend on (its wheel imports the removed ``pkg_resources``), and
   the emotion corpora's clips are short single utterances whose pauses are part of how
   they are spoken.
3. Partial utterances, exactly as the package's ``embed_utterance``: windows of 160 frames
   (1.6 s) every ``round(16000 / 1.3 / 160) = 77`` frames, the clip zero-padded to cover
   the last window when at least 75 % of it is audio (the last window is dropped
   otherwise, unless it is the only one). A 3 s clip gives 3 windows; one under 1.6 s, 1.
4. One LSTM pass over every window of the clip (or, in :meth:`VoiceEncoder.embed_many`,
   of every clip at once). From that one pass come

   - ``embedding`` (256): each window's embedding (last frame's state → linear → ReLU →
     L2 norm), averaged and L2-normed: the package's utterance embedding;
   - ``states`` (512): the mean and the standard deviation (population) over time of the
     last LSTM layer's hidden output, over the frames of every window. A frame in two
     overlapping windows counts twice, with the two states the windows give it. Frames
     of the zero padding after the clip (past frame ``samples // 160``, the clip's own
     last frame) are left out, so that a short clip's statistics are not mostly those
     of padded silence; the LSTM runs forward only, so the padding does not change the
     states of the frames kept. Taking the states from the windows rather than from a
     second pass over the whole clip keeps the cost at one pass: ``"both"`` costs what
     ``"embedding"`` costs.

``pooling`` chooses the output: ``"both"`` (default, 768: embedding then states),
``"embedding"`` (256), ``"states"`` (512), or ``"none"``: the last layer's hidden output
at every frame of one pass over the whole clip (not windowed, not padded),
``(1 + samples // 160, 256)`` at 100 frames/s, for sequence models.

Example:
    >>> import numpy as np
    >>> from serkit.features import make_features
    >>> enc = make_features("voice_encoder")
    >>> enc.dim, enc.feature_names[0], enc.feature_names[256], enc.feature_names[-1]
    (768, 'vemb_000', 'vstate_mean_000', 'vstate_std_255')
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np

from serkit.errors import ConfigError
from serkit.features.fusion import _check_signal
from serkit.inputs import InputSpec

SAMPLE_RATE = 16_000
HOP = 160
HIDDEN = 256
EMBEDDING = 256
#: Frames in one partial utterance (1.6 s) and the partials per second.
PARTIAL_FRAMES = 160
PARTIAL_RATE = 1.3
#: The last partial is kept when this share of it is audio (the rest zero padding).
MIN_COVERAGE = 0.75
#: Volume normalisation target, dBFS RMS (resemblyzer's audio_norm_target_dBFS).
TARGET_DBFS = -30.0
INT16_MAX = 2**15 - 1
#: Partial utterances per LSTM call (bounds memory: about 2.5 MB each, mostly the LSTM's gate
#: pre-activations; 64 keep a 20-minute call within 150 MB and batch as fast as more).
MAX_BATCH_PARTIALS = 64

_POOLINGS = ("both", "embedding", "states", "none")
_VOLUMES = ("increase_only", "always", "off")


class VoiceEncoder:
    """Resemblyzer's pretrained speaker encoder as features (module docstring).

    Args:
        pooling: ``"both"`` → embedding (256) then mean and std of the LSTM states (512),
            768 values; ``"embedding"`` → 256; ``"states"`` → 512; ``"none"`` → the
            ``(frames, 256)`` LSTM states of the whole clip at 100 frames/s.
        volume: ``"increase_only"`` (raise quiet clips to -30 dBFS, as resemblyzer's
            preprocessing), ``"always"`` (every clip to -30 dBFS) or ``"off"``.

    Raises:
        ConfigError: a parameter out of range. Computing raises ConfigError when the
            ``resemblyzer`` package (which ships the weights) is not installed.

    Example:
        >>> VoiceEncoder(pooling="none").spec
        InputSpec(kind='frames', shape=(256,), length=None, rate=100.0)
    """

    name = "voice_encoder"

    def __init__(
        self,
        *,
        pooling: Literal["both", "embedding", "states", "none"] = "both",
        volume: Literal["increase_only", "always", "off"] = "increase_only",
    ):
        if pooling not in _POOLINGS:
            raise ConfigError(f"voice_encoder pooling must be one of "
                              f"{', '.join(map(repr, _POOLINGS))}, not {pooling!r}")
        if volume not in _VOLUMES:
            raise ConfigError(f"voice_encoder volume must be one of "
                              f"{', '.join(map(repr, _VOLUMES))}, not {volume!r}")
        self.pooling = pooling
        self.volume = volume
        self.sample_rate = SAMPLE_RATE

    # --- description -------------------------------------------------------------------

    @property
    def params(self) -> dict[str, Any]:
        return {"pooling": self.pooling, "volume": self.volume}

    @property
    def dim(self) -> int:
        return {"both": EMBEDDING + 2 * HIDDEN, "embedding": EMBEDDING,
                "states": 2 * HIDDEN, "none": HIDDEN}[self.pooling]

    @property
    def spec(self) -> InputSpec:
        """One vector per clip, or ``pooling="none"``'s 256-d frames at 100 a second."""
        if self.pooling == "none":
            return InputSpec("frames", (HIDDEN,), rate=SAMPLE_RATE / HOP)
        return InputSpec("vector", (self.dim,))

    @property
    def feature_names(self) -> list[str]:
        emb = [f"vemb_{i:03d}" for i in range(EMBEDDING)]
        states = ([f"vstate_mean_{i:03d}" for i in range(HIDDEN)]
                  + [f"vstate_std_{i:03d}" for i in range(HIDDEN)])
        if self.pooling == "none":
            return [f"vstate_{i:03d}" for i in range(HIDDEN)]
        return {"both": emb + states, "embedding": emb, "states": states}[self.pooling]

    def __repr__(self) -> str:
        return f"VoiceEncoder(pooling={self.pooling!r}, volume={self.volume!r})"

    # --- computation -------------------------------------------------------------------

    def __call__(self, signal: np.ndarray) -> np.ndarray:
        """Features of one mono 16 kHz signal.

        Returns:
            float32 ``(dim,)``, or ``(1 + samples // 160, 256)`` with ``pooling="none"``.

        Raises:
            AudioError: not 1-D, empty, or with NaN/infinite samples.
            ConfigError: resemblyzer (the weights) not installed.
        """
        return self.embed_many([signal])[0]

    def embed_many(self, signals: Sequence[np.ndarray]) -> list[np.ndarray] | np.ndarray:
        """Features of many clips, their partial utterances batched into one LSTM call.

        Batching gives the same values as one call per clip up to float32 rounding (the
        LSTM's matrix products block differently by batch size; about 1e-7). At most
        :data:`MAX_BATCH_PARTIALS` partials go into one call, to bound memory.

        Returns:
            ``(len(signals), dim)`` float32 for the pooled outputs; with ``pooling="none"``
            a list of ``(frames, 256)`` arrays (clips differ in length).
        """
        import torch

        from serkit.features import voice_encoder_net as net

        network = net.load_network()
        waves = [self.prepare(s) for s in signals]
        with torch.inference_mode():
            if self.pooling == "none":
                return self._frames(network, waves)
            return self._pooled(network, waves)

    def prepare(self, signal: np.ndarray) -> np.ndarray:
        """The checked float32 signal after volume normalisation (step 1)."""
        y = _check_signal(signal, 1)
        if self.volume == "off":
            return y
        return normalize_volume(y, TARGET_DBFS, increase_only=self.volume == "increase_only")

    def partial_mels(self, wave: np.ndarray):
        """``(partials, 160, 40)`` mel tensor of one prepared clip (step 3)."""
        from serkit.features import voice_encoder_net as net

        starts = partial_starts(len(wave))
        stop = (starts[-1] + PARTIAL_FRAMES) * HOP
        if stop >= len(wave):
            wave = np.pad(wave, (0, stop - len(wave)))
        mel = net.mel_power(wave)
        index = np.asarray(starts)[:, None] + np.arange(PARTIAL_FRAMES)
        return mel[index]

    def _pooled(self, network, waves: list[np.ndarray]) -> np.ndarray:
        """Pooled outputs of prepared clips, :data:`MAX_BATCH_PARTIALS` partials at a time.

        Each batch's spectrogram covers only its partials' frames and its LSTM states are
        folded into running sums at once, so memory stays bounded however long a clip is
        (a 20-minute call has about 1560 partials).
        """
        import torch

        from serkit.features import voice_encoder_net as net

        starts = [np.asarray(partial_starts(len(w))) for w in waves]
        # Frames of each partial that lie in the clip (not in its zero padding).
        kept = [np.clip(len(w) // HOP + 1 - s, 0, PARTIAL_FRAMES) for w, s in zip(waves, starts)]
        items = [(i, k) for i, s in enumerate(starts) for k in range(len(s))]
        embeds: list[list[np.ndarray]] = [[] for _ in waves]
        sums = np.zeros((len(waves), 2, net.HIDDEN))  # per clip: sum and sum of squares (float64)
        counts = np.zeros(len(waves))
        for c0 in range(0, len(items), MAX_BATCH_PARTIALS):
            chunk = items[c0:c0 + MAX_BATCH_PARTIALS]
            e, s = network(torch.cat([self._chunk_mels(waves[i], starts[i][[k for _, k in group]])
                                      for i, group in itertools.groupby(chunk, key=lambda item: item[0])]))
            e, s = e.numpy(), s.numpy()
            for row, (i, k) in enumerate(chunk):
                embeds[i].append(e[row])
                block = s[row, :kept[i][k]].astype(np.float64)
                sums[i, 0] += block.sum(axis=0)
                sums[i, 1] += np.square(block).sum(axis=0)
                counts[i] += block.shape[0]
        out = np.empty((len(waves), self.dim), dtype=np.float32)
        for i in range(len(waves)):
            parts = []
            if self.pooling in ("both", "embedding"):
                parts.append(utterance_embedding(np.stack(embeds[i])))
            if self.pooling in ("both", "states"):
                mean = sums[i, 0] / counts[i]
                parts += [mean, np.sqrt(np.maximum(sums[i, 1] / counts[i] - np.square(mean), 0.0))]
            out[i] = np.concatenate(parts)
        return out

    @staticmethod
    def _chunk_mels(wave: np.ndarray, starts: np.ndarray):
        """``(len(starts), 160, 40)`` mels of the partials starting at frames ``starts``."""
        from serkit.features import voice_encoder_net as net

        first = int(starts[0])
        mel = net.mel_frames(wave, first, int(starts[-1]) + PARTIAL_FRAMES)
        return mel[(starts - first)[:, None] + np.arange(PARTIAL_FRAMES)]

    def _frames(self, network, waves: list[np.ndarray]) -> list[np.ndarray]:
        import torch

        from serkit.features import voice_encoder_net as net

        mels = [net.mel_power(w) for w in waves]
        out: list[np.ndarray | None] = [None] * len(mels)
        # The LSTM runs forward only, so zero frames appended after a clip do not change
        # its states: clips of similar length are padded to one batch.
        order = sorted(range(len(mels)), key=lambda i: mels[i].shape[0])
        budget = MAX_BATCH_PARTIALS * PARTIAL_FRAMES
        k = 0
        while k < len(order):
            group = [order[k]]
            while (k + len(group) < len(order)
                   and (len(group) + 1) * mels[order[k + len(group)]].shape[0] <= budget):
                group.append(order[k + len(group)])
            k += len(group)
            padded = torch.nn.utils.rnn.pad_sequence([mels[i] for i in group], batch_first=True)
            _, states = network(padded)
            for row, i in enumerate(group):
                out[i] = states[row, :mels[i].shape[0]].numpy().copy()
        return out  # type: ignore[return-value]


def normalize_volume(wave: np.ndarray, target_dbfs: float = TARGET_DBFS, *,
                     increase_only: bool = False) -> np.ndarray:
    """``wave`` scaled to ``target_dbfs`` RMS (dB below full scale), as resemblyzer's
    ``audio.normalize_volume`` computes it, in the same dtype arithmetic (identical values
    on float32 input). With ``increase_only`` a louder wave is returned unchanged. A wave of
    zero RMS (or one whose gain would overflow) is returned unchanged instead of NaN.

    Example:
        >>> x = np.full(100, 0.001, dtype=np.float32)
        >>> y = normalize_volume(x, -30.0)
        >>> round(float(20 * np.log10(np.sqrt(np.mean(y ** 2)))), 3)
        -30.0
    """
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        rms = np.sqrt(np.mean((wave * INT16_MAX) ** 2))
        if not (np.isfinite(rms) and rms > 0):
            return wave
        wave_dbfs = 20 * np.log10(rms / INT16_MAX)
        change = target_dbfs - wave_dbfs
        if change < 0 and increase_only:
            return wave
        gain = 10 ** (change / 20)
        if not np.isfinite(gain):
            return wave
        return wave * gain


def partial_starts(n_samples: int, rate: float = PARTIAL_RATE,
                   min_coverage: float = MIN_COVERAGE) -> list[int]:
    """First mel frame of each partial utterance of an ``n_samples`` clip.

    The arithmetic of resemblyzer's ``VoiceEncoder.compute_partial_slices``; partial k
    covers mel frames ``[s, s + 160)`` and samples ``[160 s, 160 (s + 160))``.

    Example:
        >>> partial_starts(48_000), partial_starts(8_000)
        ([0, 77, 154], [0])
    """
    n_frames = int(np.ceil((n_samples + 1) / HOP))
    frame_step = int(np.round((SAMPLE_RATE / rate) / HOP))
    steps = max(1, n_frames - PARTIAL_FRAMES + frame_step + 1)
    starts = list(range(0, steps, frame_step))
    coverage = (n_samples - starts[-1] * HOP) / (PARTIAL_FRAMES * HOP)
    if coverage < min_coverage and len(starts) > 1:
        starts.pop()
    return starts


def utterance_embedding(partial_embeds: np.ndarray) -> np.ndarray:
    """The mean of ``(partials, 256)`` embeddings, L2-normed (zero stays zero)."""
    raw = np.mean(partial_embeds, axis=0)
    norm = float(np.linalg.norm(raw, 2))
    return raw / norm if norm > 0 and math.isfinite(norm) else raw
