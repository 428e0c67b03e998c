"""EmoDB, the Berlin Database of Emotional Speech (Burkhardt et al., Interspeech 2005).

Layout: ``wav/03a01Fa.wav``: speaker ``03``, text ``a01``, emotion letter ``F`` (German
initials), version ``a``. Facts from the corpus's documentation (``erklaerung.txt`` and
emodb.de): 10 speakers, 5 male and 5 female; 535 utterances.
"""

from __future__ import annotations

import re
from pathlib import Path

from serkit.corpora.base import LOADERS, Corpus, PublishedCounts, find_audio, require_audio, require_dir, utterance_from_fields
from serkit.corpora.check import build_corpus
from serkit.errors import CorpusError

NAME = "emodb"
LANGUAGE = "de"

#: Emotion letter (German initial) → canonical emotion.
EMOTIONS: dict[str, str] = {
    "W": "anger",  # Wut
    "L": "boredom",  # Langeweile
    "E": "disgust",  # Ekel
    "A": "fear",  # Angst
    "F": "happiness",  # Freude
    "T": "sadness",  # Trauer
    "N": "neutral",
}

#: Speaker number → gender (emodb.de speaker table).
SPEAKER_GENDERS: dict[str, str] = {
    "03": "male", "08": "female", "09": "female", "10": "male", "11": "male",
    "12": "male", "13": "female", "14": "female", "15": "male", "16": "female",
}

PUBLISHED = PublishedCounts(
    utterances=535,
    speakers=10,
    labels={"anger": 127, "boredom": 81, "disgust": 46, "fear": 69, "happiness": 71,
            "sadness": 62, "neutral": 79},
)

_PATTERN = re.compile(r"^(\d\d)([ab]\d\d)([A-Z])([a-z])$")


def parse_filename(name: str) -> dict[str, str]:
    """The fields of an EmoDB file name such as ``03a01Fa.wav``.

    Returns:
        ``speaker``, ``text_id``, ``code`` (emotion letter), ``emotion``, ``gender``,
        ``version``.

    Raises:
        CorpusError: the name does not follow the pattern, or names an unknown speaker or
            emotion letter.
    """
    stem = Path(name).stem
    m = _PATTERN.match(stem)
    if m is None:
        raise CorpusError(
            f"EmoDB file names look like '03a01Fa' (speaker, text a01-b10, emotion letter, "
            f"version), not {name!r}"
        )
    speaker, text, code, version = m.groups()
    if code not in EMOTIONS:
        raise CorpusError(
            f"EmoDB emotion letter must be one of {''.join(EMOTIONS)}, not {code!r}: {name!r}"
        )
    if speaker not in SPEAKER_GENDERS:
        raise CorpusError(
            f"EmoDB speakers are {', '.join(SPEAKER_GENDERS)}, not {speaker!r}: {name!r}"
        )
    return {
        "speaker": speaker,
        "text_id": text,
        "code": code,
        "emotion": EMOTIONS[code],
        "gender": SPEAKER_GENDERS[speaker],
        "version": version,
    }


@LOADERS.register(NAME)
def load(root: str | Path) -> Corpus:
    """Load EmoDB from its folder (the one holding ``wav/``, or ``wav/`` itself).

    Raises:
        CorpusError: the folder is missing, holds no audio, or a file name is not EmoDB's.
    """
    root = require_dir(root, "EmoDB")
    files = require_audio(find_audio(root), root, "EmoDB")
    utterances = []
    for path in files:
        f = parse_filename(path.name)
        utterances.append(
            utterance_from_fields(
                f, id=path.stem, path=path, corpus=NAME, language=LANGUAGE, extra={"version": f["version"]}
            )
        )
    return build_corpus(NAME, root, utterances, PUBLISHED)
