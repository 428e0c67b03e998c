"""TESS, the Toronto Emotional Speech Set (Dupuis & Pichora-Fuller, 2010).

Two women (OAF aged 64, YAF aged 26) say "Say the word _" with 200 target words in 7
emotions: 2800 files (TESS documentation on the University of Toronto Dataverse).
File names are ``<speaker>_<word>_<emotion>`` (``OAF_back_angry``, ``YAF_dog_ps``; ``ps``
is pleasant surprise). Folder names differ between public copies (``OAF_Fear``,
``OAF_fear``, ``YAF_pleasant_surprised``), so the emotion is read from the file name only.
Upstream quirk: ``OAF_bite_neutral`` is misnamed ``OA_bite_neutral``; it is read as OAF.
"""

from __future__ import annotations

from pathlib import Path

from serkit.corpora.base import LOADERS, Corpus, PublishedCounts, find_audio, require_audio, require_dir, utterance_from_fields
from serkit.corpora.check import build_corpus, expected_ids
from serkit.errors import CorpusError

NAME = "tess"
LANGUAGE = "en"

#: Emotion word at the end of the file name → canonical emotion.
EMOTIONS: dict[str, str] = {
    "angry": "anger",
    "disgust": "disgust",
    "fear": "fear",
    "happy": "happiness",
    "neutral": "neutral",
    "ps": "surprise",  # pleasant surprise
    "sad": "sadness",
}
#: Speaker → (gender, age in years).
SPEAKERS: dict[str, tuple[str, int]] = {"OAF": ("female", 64), "YAF": ("female", 26)}
#: Misspelled speaker codes found in the public release → the speaker they stand for.
SPEAKER_QUIRKS: dict[str, str] = {"OA": "OAF"}

PUBLISHED = PublishedCounts(2800, 2, {e: 400 for e in EMOTIONS.values()})


def parse_filename(name: str) -> dict[str, str]:
    """The fields of a TESS file name such as ``OAF_back_angry.wav``.

    Returns:
        ``speaker`` (``OAF``/``YAF``, the ``OA`` quirk corrected), ``word``, ``code``
        (the emotion word as written, lower case), ``emotion``, ``gender``, ``age``, and
        ``quirk`` (the misspelled speaker code, or ``""``).

    Raises:
        CorpusError: not three underscore-separated fields, or an unknown speaker or emotion.
    """
    stem = Path(name).stem
    parts = stem.split("_")
    if len(parts) != 3:
        raise CorpusError(
            f"TESS file names have 3 underscore-separated fields (speaker_word_emotion), "
            f"not {len(parts)}: {name!r}"
        )
    speaker, word, code = parts[0].upper(), parts[1].lower(), parts[2].lower()
    quirk = ""
    if speaker in SPEAKER_QUIRKS:
        quirk, speaker = parts[0], SPEAKER_QUIRKS[speaker]
    if speaker not in SPEAKERS:
        raise CorpusError(f"TESS speakers are OAF and YAF, not {parts[0]!r}: {name!r}")
    if code not in EMOTIONS:
        raise CorpusError(
            f"TESS emotion must be one of {', '.join(EMOTIONS)}, not {parts[2]!r}: {name!r}"
        )
    if not word.isalpha():
        raise CorpusError(f"TESS target words are letters only, not {parts[1]!r}: {name!r}")
    gender, age = SPEAKERS[speaker]
    return {
        "speaker": speaker,
        "word": word,
        "code": code,
        "emotion": EMOTIONS[code],
        "gender": gender,
        "age": str(age),
        "quirk": quirk,
    }


@LOADERS.register(NAME)
def load(root: str | Path) -> Corpus:
    """Load TESS from ``root`` (searched recursively; any folder names).

    Utterance ids are ``<speaker>_<word>_<emotion>`` with the speaker corrected, so
    ``OA_bite_neutral`` has the id ``OAF_bite_neutral``.

    Raises:
        CorpusError: the folder is missing, holds no audio, or a file name is not TESS's.
    """
    root = require_dir(root, "TESS")
    files = require_audio(find_audio(root), root, "TESS")
    utterances = []
    for path in files:
        f = parse_filename(path.name)
        extra = {"age": f["age"]}
        if f["quirk"]:
            extra["file_name_quirk"] = f"speaker written {f['quirk']!r} upstream"
        utterances.append(
            utterance_from_fields(
                f, id=f"{f['speaker']}_{f['word']}_{f['code']}", path=path, corpus=NAME, language=LANGUAGE, text_id=f["word"], extra=extra
            )
        )
    return build_corpus(NAME, root, utterances, PUBLISHED)


@expected_ids(NAME)
def _expected(corpus: Corpus) -> set[str]:
    # Both speakers say every target word in every emotion: the words seen anywhere
    # determine which files a complete copy holds.
    words = {u.text_id for u in corpus.utterances}
    return {f"{s}_{w}_{e}" for s in SPEAKERS for w in words for e in EMOTIONS}
