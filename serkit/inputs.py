"""The input contract between feature extractors and models.

An extractor declares what it produces as an :class:`InputSpec`; a model declares the
input kinds it accepts when it is registered (:data:`serkit.models.MODELS`). A config
pairs them, and the pair is checked once, when the config is read
(:func:`check_compatible`), not deep inside a training run.

The four kinds, and one item's array (``T`` varies between clips unless ``length`` fixes it):

========  ======================  =============================================
kind      one item                a batch (see :func:`serkit.batching.collate`)
========  ======================  =============================================
vector    ``(dim,)``              ``(batch, dim)``, no lengths
frames    ``(T, dim)``            ``(batch, T_max, dim)`` zero-padded + lengths
image     ``(channels, height, T)``  ``(batch, channels, height, T_max)`` + lengths
waveform  ``(T,)``                ``(batch, T_max)`` zero-padded + lengths
========  ======================  =============================================

This module holds no torch, so feature extractors and the prediction path can use it
without loading a network library.

Example:
    >>> spec = InputSpec("frames", shape=(128,), length=188, rate=62.5)
    >>> spec.dim, spec.time_axis
    (128, 0)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from serkit.errors import ConfigError

#: Every input kind, in the order the docs list them.
INPUT_KINDS = ("vector", "frames", "image", "waveform")
#: The axis of one item that runs over time (None: a vector has no time axis).
TIME_AXES = {"vector": None, "frames": 0, "image": 2, "waveform": 0}


@dataclass(frozen=True)
class InputSpec:
    """What a feature extractor produces for one clip.

    Args:
        kind: one of :data:`INPUT_KINDS`.
        shape: the sizes of the axes that are not time: ``(dim,)`` for vector and frames,
            ``(channels, height)`` for an image, ``()`` for a waveform.
        length: the time-axis length when every clip has the same (a fixed-length
            spectrogram), else None.
        rate: time steps per second along the time axis (frames/s, samples/s), if known.
    """

    kind: str
    shape: tuple[int, ...] = ()
    length: int | None = None
    rate: float | None = None

    def __post_init__(self):
        if self.kind not in INPUT_KINDS:
            raise ConfigError(f"input kind must be one of {', '.join(INPUT_KINDS)}, not {self.kind!r}")
        object.__setattr__(self, "shape", tuple(int(s) for s in self.shape))
        expected = {"vector": 1, "frames": 1, "image": 2, "waveform": 0}[self.kind]
        if len(self.shape) != expected:
            raise ConfigError(f"a {self.kind} input has {expected} non-time axes, not shape {self.shape}")

    @property
    def dim(self) -> int:
        """Values per time step: the vector or frame size, channels × height, 1 for a waveform."""
        return math.prod(self.shape)

    @property
    def channels(self) -> int | None:
        """An image's channel count (None for the other kinds)."""
        return self.shape[0] if self.kind == "image" else None

    @property
    def height(self) -> int | None:
        """An image's height, e.g. its number of frequency bands or scales (None otherwise)."""
        return self.shape[1] if self.kind == "image" else None

    @property
    def time_axis(self) -> int | None:
        return TIME_AXES[self.kind]

    @property
    def varies(self) -> bool:
        """Whether batches of this kind are padded and carry lengths."""
        return self.kind != "vector"


def check_compatible(model: str, accepts: str, features: str, spec: InputSpec) -> None:
    """ConfigError unless model ``model`` (which takes ``accepts``) can read ``spec``.

    Example:
        >>> check_compatible("serct", "waveform", "logmel", InputSpec("frames", (128,)))
        Traceback (most recent call last):
        ...
        serkit.errors.ConfigError: model 'serct' expects 'waveform' input, not the 'frames' that features 'logmel' produce; choose features that give waveform, or another model
    """
    if accepts != spec.kind:
        raise ConfigError(f"model {model!r} expects {accepts!r} input, not the {spec.kind!r} that features "
                          f"{features!r} produce; choose features that give {accepts}, or another model")
