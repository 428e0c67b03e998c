"""ESD, the Emotional Speech Dataset (Zhou, Sisman, Liu & Li, ICASSP 2021).

Layout of the release: ``<speaker>/<Emotion>/<train|evaluation|test>/<speaker>_<nnnnnn>.wav``
with speakers 0001-0010 Chinese and 0011-0020 English, 5 emotions, 350 parallel texts per
emotion and speaker: 35000 files. Some copies drop the split folders
(``<speaker>/<Emotion>/<file>.wav``); those load with ``official_split`` None.
Speaker genders: the release's README (github.com/HLTSingapore/Emotional-Speech-Data).
"""

from __future__ import annotations

import re
from pathlib import Path

from serkit.corpora.base import LOADERS, Corpus, PublishedCounts, Utterance, find_audio, require_audio, require_dir
from serkit.corpora.check import build_corpus, expected_ids
from serkit.errors import CorpusError

NAME = "esd"

#: Emotion folder name → canonical emotion.
EMOTIONS: dict[str, str] = {
    "Angry": "anger",
    "Happy": "happiness",
    "Neutral": "neutral",
    "Sad": "sadness",
    "Surprise": "surprise",
}
SPLITS: tuple[str, ...] = ("train", "evaluation", "test")
#: Speaker → (language, gender), from the ESD README.
SPEAKERS: dict[str, tuple[str, str]] = {
    "0001": ("zh", "female"), "0002": ("zh", "female"), "0003": ("zh", "female"),
    "0004": ("zh", "male"), "0005": ("zh", "male"), "0006": ("zh", "male"),
    "0007": ("zh", "female"), "0008": ("zh", "male"), "0009": ("zh", "female"),
    "0010": ("zh", "male"),
    "0011": ("en", "male"), "0012": ("en", "male"), "0013": ("en", "male"),
    "0014": ("en", "male"), "0015": ("en", "female"), "0016": ("en", "female"),
    "0017": ("en", "female"), "0018": ("en", "female"), "0019": ("en", "female"),
    "0020": ("en", "male"),
}
LANGUAGES: tuple[str, ...] = ("en", "zh")
#: Parallel texts per emotion and speaker; files number 1-1750, one block of 350 per emotion.
TEXTS_PER_EMOTION = 350

_FILE = re.compile(r"^(\d{4})_(\d{6})$")


def published_counts(languages=LANGUAGES) -> PublishedCounts:
    """The counts of a complete copy restricted to ``languages``."""
    n_speakers = sum(1 for lang, _ in SPEAKERS.values() if lang in languages)
    per_label = n_speakers * TEXTS_PER_EMOTION
    return PublishedCounts(per_label * len(EMOTIONS), n_speakers, {e: per_label for e in EMOTIONS.values()})


PUBLISHED = published_counts()


def parse_filename(name: str) -> dict[str, str]:
    """The fields of an ESD file name such as ``0011_000351.wav``.

    Returns:
        ``speaker``, ``number`` (six digits), ``text_id`` (the parallel text, ``001``-``350``),
        ``language``, ``gender``.

    Raises:
        CorpusError: not ``<speaker>_<six digits>``, an unknown speaker, or a number
            outside 1-1750.
    """
    stem = Path(name).stem
    m = _FILE.match(stem)
    if m is None:
        raise CorpusError(f"ESD file names look like '0011_000351' (speaker_number), not {name!r}")
    speaker, number = m.groups()
    if speaker not in SPEAKERS:
        raise CorpusError(f"ESD speakers are 0001-0020, not {speaker!r}: {name!r}")
    n = int(number)
    if not 1 <= n <= TEXTS_PER_EMOTION * len(EMOTIONS):
        raise CorpusError(f"ESD file numbers run 000001-001750, not {number}: {name!r}")
    language, gender = SPEAKERS[speaker]
    return {
        "speaker": speaker,
        "number": number,
        "text_id": f"{(n - 1) % TEXTS_PER_EMOTION + 1:03d}",
        "language": language,
        "gender": gender,
    }


def _emotion_folder(name: str, path: Path) -> str:
    for folder in EMOTIONS:
        if folder.lower() == name.lower():
            return folder
    raise CorpusError(
        f"ESD emotion folders are {', '.join(EMOTIONS)}, not {name!r} ({str(path)!r}); "
        "the layout is <speaker>/<Emotion>/<train|evaluation|test>/<file>.wav"
    )


@LOADERS.register(NAME)
def load(root: str | Path, *, languages: tuple[str, ...] | list[str] | str | None = None) -> Corpus:
    """Load ESD from the folder holding the speaker folders ``0001`` … ``0020``.

    Args:
        root: the ESD folder (searched recursively).
        languages: ``"en"``, ``"zh"`` or both (default both): which speakers to load.

    Raises:
        CorpusError: the folder is missing or holds no audio, an unknown language, or a
            file outside the ESD layout (its speaker folder and file name must agree).
    """
    root = require_dir(root, "ESD")
    if languages is None:
        languages = LANGUAGES
    elif isinstance(languages, str):
        languages = (languages,)
    bad = [lang for lang in languages if lang not in LANGUAGES]
    if bad:
        raise CorpusError(f"ESD languages are 'en' and 'zh', not {bad}")
    files = require_audio(find_audio(root), root, "ESD")
    utterances = []
    for path in files:
        f = parse_filename(path.name)
        if f["language"] not in languages:
            continue
        folder = path.parent
        split = None
        if folder.name.lower() in SPLITS:
            split = folder.name.lower()
            folder = folder.parent
        emotion = _emotion_folder(folder.name, path)
        if folder.parent.name != f["speaker"]:
            raise CorpusError(
                f"ESD file {path.name!r} of speaker {f['speaker']} lies in the folder "
                f"{folder.parent.name!r}; the layout is <speaker>/<Emotion>/<split>/<file>.wav"
            )
        utterances.append(
            Utterance(
                id=path.stem,
                path=path,
                corpus=NAME,
                emotion=EMOTIONS[emotion],
                corpus_label=emotion,
                speaker=f"{NAME}-{f['speaker']}",
                gender=f["gender"],
                text_id=f["text_id"],
                language=f["language"],
                official_split=split,
            )
        )
    if not utterances:
        raise CorpusError(f"no ESD files of languages {list(languages)} under {str(root)!r}")
    return build_corpus(NAME, root, utterances, published_counts(tuple(languages)))


@expected_ids(NAME)
def _expected(corpus: Corpus) -> set[str]:
    languages = {u.language for u in corpus.utterances}
    return {
        f"{s}_{n:06d}"
        for s, (lang, _) in SPEAKERS.items()
        if lang in languages
        for n in range(1, TEXTS_PER_EMOTION * len(EMOTIONS) + 1)
    }
