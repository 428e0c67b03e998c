"""Canonical emotion vocabulary and named label schemes.

Loaders map each corpus's own label to one canonical emotion (keeping the corpus label
too); label *policy* (which classes an experiment uses, which are merged) lives in named
schemes here, never in the loaders.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from serkit.registry import Registry

#: Every canonical emotion a loader may assign.
EMOTIONS: tuple[str, ...] = (
    "anger",
    "boredom",
    "calm",
    "contempt",
    "disgust",
    "excitement",
    "fear",
    "frustration",
    "happiness",
    "neutral",
    "other",
    "sadness",
    "surprise",
)


@dataclass(frozen=True)
class LabelScheme:
    """Which canonical emotions an experiment keeps, and what class each becomes.

    Args:
        name: the scheme's name, e.g. ``"4class"``.
        mapping: canonical emotion → class label; emotions absent from it are dropped.
            ``None`` keeps every emotion under its own name.
    """

    name: str
    mapping: Mapping[str, str] | None = None

    def classes(self, emotions: Iterable[str]) -> list[str]:
        """Sorted class labels this scheme yields on data with these ``emotions``."""
        return sorted({c for e in emotions if (c := self.label_of(e)) is not None})

    def label_of(self, emotion: str) -> str | None:
        """The class label of a canonical emotion, or None where the scheme drops it."""
        if self.mapping is None:
            return emotion
        return self.mapping.get(emotion)


_SCHEMES = {
    "all": LabelScheme("all"),
    # The four classes shared by most corpora (IEMOCAP practice: excited merged into happiness).
    "4class": LabelScheme(
        "4class",
        {
            "anger": "anger",
            "happiness": "happiness",
            "excitement": "happiness",
            "neutral": "neutral",
            "sadness": "sadness",
        },
    ),
    # The same four classes without merging excitement (for corpora without it).
    "4class-strict": LabelScheme(
        "4class-strict",
        {e: e for e in ("anger", "happiness", "neutral", "sadness")},
    ),
    # Six basic emotions + neutral, shared by EmoDB/RAVDESS/TESS/SAVEE (CASIA lacks disgust).
    "ekman+neutral": LabelScheme(
        "ekman+neutral",
        {e: e for e in ("anger", "disgust", "fear", "happiness", "neutral", "sadness", "surprise")},
    ),
    # EmoDB's classes without boredom: the six the SERCT thesis tests zero-shot on (454
    # clips), which TESS, SAVEE and RAVDESS have too.
    "emodb6": LabelScheme(
        "emodb6",
        {e: e for e in ("anger", "disgust", "fear", "happiness", "neutral", "sadness")},
    ),
    # CASIA's six classes, which TESS, SAVEE and RAVDESS have too (a TESS -> CASIA test).
    "casia6": LabelScheme(
        "casia6",
        {e: e for e in ("anger", "fear", "happiness", "neutral", "sadness", "surprise")},
    ),
    # Five classes shared by all five corpora in ../shared/data (EmoDB has no surprise,
    # CASIA no disgust).
    "5class": LabelScheme(
        "5class",
        {e: e for e in ("anger", "fear", "happiness", "neutral", "sadness")},
    ),
}


#: Label schemes by name.
SCHEMES: Registry[LabelScheme] = Registry("label scheme")
for _scheme in _SCHEMES.values():
    SCHEMES.register(_scheme.name, _scheme)


def get_scheme(name: str | LabelScheme) -> LabelScheme:
    """Look up a named scheme; a LabelScheme passes through.

    Raises:
        ConfigError: unknown scheme name (with the closest known one).
    """
    if isinstance(name, LabelScheme):
        return name
    return SCHEMES.get(name)
