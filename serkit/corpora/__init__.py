"""Corpus loaders: one module per corpus, plus a folder-per-label tree and a CSV manifest.

Example:
    >>> from serkit.corpora import load_corpus, check_corpus
    >>> corpus = load_corpus("emodb", "../shared/data/emodb")   # doctest: +SKIP
    >>> check_corpus(corpus)["utterances"]                      # doctest: +SKIP
    535
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from serkit.corpora import (  # noqa: F401  (imported so that each registers its loader)
    ased,
    casia,
    cremad,
    emodb,
    emovo,
    esd,
    folder,
    iemocap,
    manifest,
    nemo,
    ravdess,
    savee,
    tess,
)
from serkit.corpora.base import LOADERS, Corpus, PublishedCounts, Utterance, merge_corpora
from serkit.corpora.check import check_corpus, format_check, with_durations

__all__ = [
    "CORPORA",
    "Corpus",
    "CorpusInfo",
    "LOADERS",
    "PublishedCounts",
    "Utterance",
    "check_corpus",
    "format_check",
    "load_corpus",
    "loader_options",
    "merge_corpora",
    "with_durations",
]


@dataclass(frozen=True)
class CorpusInfo:
    """One line of ``serkit corpora``: a loader's name, language and description."""

    name: str
    language: str
    description: str


CORPORA: tuple[CorpusInfo, ...] = (
    CorpusInfo("emodb", "de", "Berlin Database of Emotional Speech: 10 actors, 7 emotions, 535 utterances"),
    CorpusInfo("ravdess", "en", "RAVDESS speech (song with song=True): 24 actors, 8 emotions, 2 intensities, 1440 files"),
    CorpusInfo("tess", "en", "Toronto Emotional Speech Set: 2 women, 200 words, 7 emotions, 2800 files"),
    CorpusInfo("savee", "en", "Surrey Audio-Visual Expressed Emotion: 4 men, 7 emotions, 480 utterances"),
    CorpusInfo("casia", "zh", "CASIA Chinese emotional speech, public subset: 4 speakers, 6 emotions, 1200 utterances"),
    CorpusInfo("iemocap", "en", "IEMOCAP: 5 dyadic sessions, 10 speakers, improvised and scripted, 10039 utterances"),
    CorpusInfo("esd", "en, zh", "Emotional Speech Dataset: 10 English + 10 Chinese speakers, 5 emotions, 35000 files, official split"),
    CorpusInfo("cremad", "en", "CREMA-D: 91 actors, 6 emotions, 12 sentences, 7442 clips"),
    CorpusInfo("emovo", "it", "EMOVO Italian emotional speech: 6 actors, 7 emotions, 588 utterances"),
    CorpusInfo("ased", "am", "Amharic Speech Emotion Dataset: 65 speakers, 5 emotions, 2474 utterances"),
    CorpusInfo("nemo", "pl", "nEMO Polish emotional speech: 9 actors, 6 emotions, 4481 clips (CC BY-NC-SA 4.0)"),
    CorpusInfo("folder", "-", "any folder-per-label tree: ROOT/<label>/**/*.wav|flac"),
    CorpusInfo("csv", "-", "a CSV manifest with columns path,label (optional speaker, gender, ...)"),
)


def loader_options(name: str) -> list[str]:
    """The keyword options a corpus loader accepts (``song`` for RAVDESS, …).

    Raises:
        ConfigError: unknown corpus name (with a "did you mean").
    """
    return list(LOADERS.params(name))


def load_corpus(name: str, root: str | Path, **options) -> Corpus:
    """Load corpus ``name`` from ``root`` (a folder; for ``"csv"`` the manifest file).

    Args:
        name: a registered loader: emodb, ravdess, tess, savee, casia, iemocap, esd,
            cremad, emovo, ased, nemo, folder or csv.
        root: where the corpus lies.
        **options: loader options, e.g. ``song=True`` (RAVDESS), ``sessions=[1, 2]`` and
            ``include_unlabelled=True`` (IEMOCAP), ``languages="en"`` (ESD).

    Returns:
        The corpus, utterances sorted by id, with its published counts where known.

    Raises:
        ConfigError: unknown corpus name or option.
        CorpusError: the folder or a file does not match the corpus's layout.
    """
    return LOADERS.create(name, root, **options)
