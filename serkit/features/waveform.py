"""The signal itself, as SERCT reads it: a raw waveform for an end-to-end network.

Zheng 2024 (the SERCT thesis), section 4.2: each file is loaded at its own rate and
zero-padded or cut at the end to 144 000 samples ("3 s at 48 kHz"), without amplitude
normalisation and without a padding mask. serkit's default differs in three ways, each
configurable:

- every clip is resampled to 16 kHz (``serkit.audio`` does that on loading), so one model
  serves files of any rate;
- the clip is normalised to zero mean and unit variance (``normalize="zscore"``), so the
  recording gain does not change the input; ``"peak"`` scales the largest sample to 1 and
  ``"none"`` keeps the thesis's raw amplitudes;
- clips keep their own length up to ``max_seconds`` (6 s) and batches carry their lengths,
  so the model masks padding instead of reading silence.

``fixed_samples=144000`` is the thesis's mode: every clip becomes exactly that long with
zeros appended, and the zeros are then part of the input (no lengths to mask them). At
16 kHz that is 9 s, not the thesis's 3 s: its 144 000 samples were 3 s only for 48 kHz
files (NOTES.md; TESS is 24.4 kHz, so there it was 5.9 s).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from serkit.errors import ConfigError
from serkit.inputs import InputSpec

#: Per-utterance amplitude normalisations.
NORMALIZATIONS = ("zscore", "peak", "none")


class Waveform:
    """``(T,)`` float32 samples of a clip: normalised, capped, or padded/cropped to a fixed length.

    Args:
        sample_rate: the rate the signal must have (16 000).
        max_seconds: clips longer than this keep their first ``max_seconds`` (the thesis cuts
            at the end too); ignored with ``fixed_samples``.
        fixed_samples: pad with zeros or cut at the end to exactly this many samples (the
            thesis: 144 000); None keeps each clip's own length.
        normalize: "zscore" (zero mean, unit variance; the default), "peak" (largest
            |sample| = 1) or "none" (the thesis's raw amplitudes). Computed on the kept part;
            a silent clip stays zeros.

    Example:
        >>> import numpy as np
        >>> wave = Waveform(max_seconds=1.0)
        >>> x = wave(np.full(24000, 0.5, dtype="float32") + np.sin(np.arange(24000)).astype("float32"))
        >>> x.shape, round(float(x.std()), 3)
        ((16000,), 1.0)
        >>> Waveform(fixed_samples=144000, normalize="none")(np.ones(100, "float32")).shape
        (144000,)
    """

    name = "waveform"

    def __init__(self, *, sample_rate: int = 16_000, max_seconds: float = 6.0, fixed_samples: int | None = None,
                 normalize: str = "zscore"):
        if normalize not in NORMALIZATIONS:
            raise ConfigError(f"waveform: normalize must be one of {', '.join(NORMALIZATIONS)}, not {normalize!r}")
        if not max_seconds > 0:
            raise ConfigError(f"waveform: max_seconds must be > 0, not {max_seconds!r}")
        if fixed_samples is not None and int(fixed_samples) < 1:
            raise ConfigError(f"waveform: fixed_samples must be a positive sample count or null, not {fixed_samples!r}")
        self.sample_rate = int(sample_rate)
        self.max_seconds = float(max_seconds)
        self.fixed_samples = None if fixed_samples is None else int(fixed_samples)
        self.normalize = normalize

    @property
    def params(self) -> dict[str, Any]:
        return {"sample_rate": self.sample_rate, "max_seconds": self.max_seconds,
                "fixed_samples": self.fixed_samples, "normalize": self.normalize}

    @property
    def spec(self) -> InputSpec:
        return InputSpec("waveform", (), length=self.fixed_samples, rate=float(self.sample_rate))

    @property
    def dim(self) -> int:
        return 1

    @property
    def feature_names(self) -> list[str]:
        return ["sample"]

    @property
    def max_samples(self) -> int:
        """The longest output: ``fixed_samples``, else ``max_seconds`` of samples."""
        return self.fixed_samples or max(1, round(self.max_seconds * self.sample_rate))

    def __call__(self, signal: np.ndarray) -> np.ndarray:
        kept = np.asarray(signal, dtype=np.float32).reshape(-1)[: self.max_samples]
        kept = _normalized(kept, self.normalize)
        if self.fixed_samples is not None:
            kept = np.pad(kept, (0, self.fixed_samples - kept.size))  # never cut: kept is capped above
        return np.ascontiguousarray(kept, dtype=np.float32)


def _normalized(x: np.ndarray, how: str) -> np.ndarray:
    if how == "none" or x.size == 0:
        return x
    if how == "peak":
        peak = float(np.max(np.abs(x)))
        return x / peak if peak > 0 else x
    # The mean in float64: in float32 it is off by ~1e-4 on a large DC offset, which is a
    # large share of a quiet signal's spread.
    centred = x - x.mean(dtype=np.float64)
    std = float(centred.std())
    # A silent (constant) clip has nothing to scale: zeros, not a division by zero.
    return centred / std if std > 1e-8 else np.zeros_like(centred)
