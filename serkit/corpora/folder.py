"""A generic corpus: one folder per label (``root/<label>/**/*.wav|flac``).

Folder names are matched to canonical emotions through common spellings (``angry``,
``Happy``, ``fearful``, ``pleasant_surprise`` …); any other name is an error listing the
accepted ones, so a typo never becomes a silent new class.
"""

from __future__ import annotations

from pathlib import Path

from serkit.corpora.base import LOADERS, Corpus, Utterance, find_audio, require_audio, require_dir
from serkit.corpora.check import build_corpus
from serkit.errors import CorpusError
from serkit.labels import EMOTIONS

NAME = "folder"

#: Spellings of label names (lower case, ``-`` and spaces read as ``_``) → canonical emotion.
LABEL_SYNONYMS: dict[str, str] = {
    **{e: e for e in EMOTIONS},
    "angry": "anger", "ang": "anger", "mad": "anger",
    "happy": "happiness", "hap": "happiness", "joy": "happiness", "joyful": "happiness",
    "sad": "sadness", "sadness": "sadness",
    "fearful": "fear", "fea": "fear", "afraid": "fear", "scared": "fear",
    "disgusted": "disgust", "dis": "disgust",
    "surprised": "surprise", "sur": "surprise", "ps": "surprise",
    "pleasant_surprise": "surprise", "pleasant_surprised": "surprise",
    "neu": "neutral",
    "bored": "boredom",
    "excited": "excitement", "exc": "excitement",
    "frustrated": "frustration", "fru": "frustration",
    "contemptuous": "contempt",
    "oth": "other",
}
#: Spellings of genders → ``"female"``/``"male"``.
GENDER_SYNONYMS: dict[str, str] = {
    "f": "female", "female": "female", "w": "female", "woman": "female",
    "m": "male", "male": "male", "man": "male",
}


def canonical_emotion(label: str) -> str | None:
    """The canonical emotion a label name stands for, or None if it is not known."""
    key = label.strip().lower().replace("-", "_").replace(" ", "_")
    return LABEL_SYNONYMS.get(key)


def canonical_gender(value: str) -> str | None:
    """``"female"``/``"male"`` for common spellings, None for an empty value.

    Raises:
        CorpusError: any other value.
    """
    key = value.strip().lower()
    if not key:
        return None
    if key not in GENDER_SYNONYMS:
        raise CorpusError(f"gender must be female or male (or f/m), not {value!r}")
    return GENDER_SYNONYMS[key]


def accepted_labels() -> str:
    return ", ".join(sorted(LABEL_SYNONYMS))


@LOADERS.register(NAME)
def load(root: str | Path, *, corpus_name: str = NAME, language: str | None = None) -> Corpus:
    """Load a folder-per-label tree: ``root/<label>/**/*.wav|flac``.

    Args:
        root: the folder holding one folder per label.
        corpus_name: the corpus name the utterances carry.
        language: ISO 639-1 code set on every utterance, if known.

    Utterance ids are the file paths relative to ``root`` without suffix; the folder name
    is kept as ``corpus_label``. Speakers are unknown (None).

    Raises:
        CorpusError: no audio, audio lying directly in ``root``, or label folders whose
            names are not emotions (all of them listed, with the accepted names).
    """
    root = require_dir(root, "label-folder corpus")
    files = require_audio(find_audio(root), root, "label-folder corpus")
    loose = [f.name for f in files if f.parent == root]
    if loose:
        raise CorpusError(
            f"{len(loose)} audio files lie directly in {str(root)!r} (e.g. {loose[0]!r}); "
            "put each file in a folder named after its label (root/<label>/<file>)"
        )
    folders = sorted({f.relative_to(root).parts[0] for f in files})
    unknown = [f for f in folders if canonical_emotion(f) is None]
    if unknown:
        raise CorpusError(
            f"label folders {', '.join(map(repr, unknown))} in {str(root)!r} are not emotion "
            f"names; rename them to one of: {accepted_labels()}"
        )
    utterances = []
    for path in files:
        rel = path.relative_to(root)
        label = rel.parts[0]
        utterances.append(
            Utterance(
                id=rel.with_suffix("").as_posix(),
                path=path,
                corpus=corpus_name,
                emotion=canonical_emotion(label),
                corpus_label=label,
                language=language,
            )
        )
    return build_corpus(corpus_name, root, utterances, None)
