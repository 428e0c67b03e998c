"""Feature extractors: a mono float32 signal → named features, and their on-disk cache.

Every extractor is a small object whose constructor only stores keyword-only parameters
(no work), with:

- ``name``: the registry name (also the "input kind" a model declares it expects);
- ``params``: a JSON-serialisable dict of its parameters (cache keys, model bundles);
- ``sample_rate``: the rate the signal must have;
- ``spec``: what it produces, an :class:`~serkit.inputs.InputSpec` (kind ``vector``,
  ``frames``, ``image`` or ``waveform``, sizes, rate), checked against the model's input
  when a config is read;
- ``dim`` and ``feature_names`` (``len(feature_names) == dim``, all unique);
- ``__call__(signal) -> np.ndarray`` float32 ``(dim,)`` or ``(frames, dim)``.

Example:
    >>> import numpy as np
    >>> from serkit.features import make_features
    >>> fusion = make_features("fusion107")
    >>> tone = (0.3 * np.sin(2 * np.pi * 220 * np.arange(8000) / 16000)).astype("float32")
    >>> fusion(tone).shape, fusion.dim, fusion.feature_names[0]
    ((107,), 107, 'mfcc_01')
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import numpy as np

from serkit.features.cache import FeatureCache, default_cache_root, file_sha256
from serkit.features.extract import Standardizer, extract_corpus
from serkit.features.fusion import Fusion107
from serkit.features.logmel import LogMel
from serkit.features.scalogram import Scalogram
from serkit.features.voice_encoder import VoiceEncoder
from serkit.features.waveform import Waveform
from serkit.inputs import InputSpec
from serkit.registry import Registry


@runtime_checkable
class FeatureExtractor(Protocol):
    """What every registered feature extractor provides (see the module docstring)."""

    name: str
    sample_rate: int

    @property
    def params(self) -> dict[str, Any]: ...

    @property
    def spec(self) -> InputSpec: ...

    @property
    def dim(self) -> int: ...

    @property
    def feature_names(self) -> list[str]: ...

    def __call__(self, signal: np.ndarray) -> np.ndarray: ...


#: Feature kinds by name. Registering here (not in the modules) keeps the list in one place.
FEATURES: Registry[type] = Registry("feature")
FEATURES.register("fusion107")(Fusion107)
FEATURES.register("logmel")(LogMel)
FEATURES.register("scalogram")(Scalogram)
FEATURES.register("waveform")(Waveform)
# Imports no torch until it computes (torch takes ~0.8 s to import; serkit.features ~0.1 s).
FEATURES.register("voice_encoder")(VoiceEncoder)


def make_features(name: str, **params: Any) -> FeatureExtractor:
    """Build the feature extractor registered as ``name`` with ``params``.

    Args:
        name: a name in :data:`FEATURES`, e.g. ``"fusion107"``.
        **params: its keyword parameters; omitted ones take their defaults.

    Returns:
        The extractor (no work done yet).

    Raises:
        ConfigError: unknown name (with the closest known one), an unknown parameter
            (listing the valid ones), or a parameter value out of range.

    Example:
        >>> make_features("fusion107", pooling="none").spec.kind
        'frames'
    """
    return FEATURES.create(name, **params)


__all__ = [
    "FEATURES",
    "FeatureCache",
    "FeatureExtractor",
    "Fusion107",
    "LogMel",
    "Scalogram",
    "Standardizer",
    "VoiceEncoder",
    "Waveform",
    "default_cache_root",
    "extract_corpus",
    "file_sha256",
    "make_features",
]
