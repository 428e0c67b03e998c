"""ASED, the Amharic Speech Emotion Dataset v1 (Retta et al., ACM TALLIP 2023,
doi:10.1145/3529759).

Layout: five folders, one per emotion (``01Neutral``, ``02Fearful``, ``03Happy``,
``04Sad``, ``05Angry``), holding ``xn-yy-aa-gg-bb.wav`` (``05Angry/a5-03-01-02-50.wav``):
emotion letter ``x`` and its folder number ``n``, sentence ``yy`` (01-07), repetition
``aa`` (01, 02), gender ``gg`` (01 female, 02 male) and speaker ``bb`` (01-65). Facts from
the corpus's README: 65 speakers (25 female, 40 male), 5 emotions, 2474 recordings (of
4550 made, the rest rejected by the judges, so the file list of a complete copy is not
determinable). The per-emotion counts are those of the release's folders (the README
gives none): neutral 522, fear 510, happiness 486, sadness 470, anger 486.

The emotion is read from the file name's letter and checked against its folder number
and, where the file lies in one of the five emotion folders, against that folder.
``text_id`` is the sentence number as written (``"03"``). The README describes 27 texts
(25 emotion-specific sentences and 2 common ones) but numbers sentences 01-07 only, so
the number is likely counted within each emotion: the same ``text_id`` under two
emotions need not be the same text (grouping by it is over-cautious, never leaky).

Speaker and gender: the speaker is the *last* field. The gender field disagrees with the
rest of its speaker's files in 5 files of the release (``02Fearful/f2-01-01-02-15``,
``f2-02-01-02-25``, ``f2-07-02-02-21``, ``04Sad/s4-01-02-02-09``, ``s4-04-01-02-23``: all
say male for speakers whose other files say female), so each speaker's gender is the
*majority* of its files' gender fields (a tie leaves it None, with a logged warning); a
file whose field disagrees keeps it in ``extra["gender_field"]`` and says so in
``extra["file_name_quirk"]``. Upstream quirk: ``04Sad/S4-04-02-01-29.wav`` writes its
emotion letter in upper case; letters are read case-insensitively and ids are lower case.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from pathlib import Path

from serkit.corpora.base import (
    LOADERS,
    Corpus,
    PublishedCounts,
    find_audio,
    require_audio,
    require_dir,
    utterance_from_fields,
)
from serkit.corpora.check import build_corpus
from serkit.errors import CorpusError

logger = logging.getLogger(__name__)

NAME = "ased"
LANGUAGE = "am"

#: Emotion letter of the file names → canonical emotion.
EMOTIONS: dict[str, str] = {
    "n": "neutral",
    "f": "fear",  # fearful
    "h": "happiness",  # happy
    "s": "sadness",  # sad
    "a": "anger",  # angry
}
#: Emotion letter → its folder number (the digit after the letter) and folder name.
FOLDER_NUMBERS: dict[str, str] = {"n": "1", "f": "2", "h": "3", "s": "4", "a": "5"}
FOLDERS: dict[str, str] = {"n": "01Neutral", "f": "02Fearful", "h": "03Happy", "s": "04Sad", "a": "05Angry"}
GENDERS: dict[str, str] = {"01": "female", "02": "male"}
SENTENCES: tuple[str, ...] = tuple(f"{i:02d}" for i in range(1, 8))
REPETITIONS: tuple[str, ...] = ("01", "02")
SPEAKERS: tuple[str, ...] = tuple(f"{i:02d}" for i in range(1, 66))

PUBLISHED = PublishedCounts(
    2474,
    65,
    {"neutral": 522, "fear": 510, "happiness": 486, "sadness": 470, "anger": 486},
)

_PATTERN = re.compile(r"^([A-Za-z])(\d)-(\d\d)-(\d\d)-(\d\d)-(\d\d)$")
_FOLDER_OF = {folder.lower(): letter for letter, folder in FOLDERS.items()}


def parse_filename(name: str, *, folder: str | None = None) -> dict[str, str]:
    """The fields of an ASED file name such as ``a5-03-01-02-50.wav``.

    Args:
        name: the file name.
        folder: the name of the folder holding it; when it is one of the five emotion
            folders (``05Angry``, any case) the emotion letter must match it.

    Returns:
        ``code`` (emotion letter, lower case), ``emotion``, ``folder_number``,
        ``text_id`` (sentence), ``repetition``, ``gender_field`` (``01``/``02``),
        ``gender`` (the field in words; the loader replaces it by the speaker's
        majority), ``speaker`` (``01``-``65``), ``id`` (the stem, letter in lower case)
        and ``quirk`` (the letter as written where it was upper case, else ``""``).

    Raises:
        CorpusError: the name does not follow the pattern, a field is outside its table,
            or the letter disagrees with the folder number or the folder.
    """
    stem = Path(name).stem
    m = _PATTERN.match(stem)
    if m is None:
        raise CorpusError(
            f"ASED file names look like 'a5-03-01-02-50' (emotion letter and folder number, "
            f"sentence, repetition, gender, speaker), not {name!r}"
        )
    letter, number, sentence, repetition, gender, speaker = m.groups()
    code = letter.lower()
    if code not in EMOTIONS:
        raise CorpusError(f"ASED emotion letter must be one of {', '.join(EMOTIONS)}, not {letter!r}: {name!r}")
    if number != FOLDER_NUMBERS[code]:
        raise CorpusError(
            f"ASED emotion letter {letter!r} goes with folder number {FOLDER_NUMBERS[code]}, "
            f"not {number}: {name!r}"
        )
    tables = {
        "sentence": (sentence, SENTENCES),
        "repetition": (repetition, REPETITIONS),
        "gender": (gender, tuple(GENDERS)),
        "speaker": (speaker, SPEAKERS),
    }
    for key, (value, allowed) in tables.items():
        if value not in allowed:
            raise CorpusError(
                f"ASED {key} field must be {allowed[0]}-{allowed[-1]}, not {value!r}: {name!r}"
            )
    if folder is not None and folder.lower() in _FOLDER_OF and _FOLDER_OF[folder.lower()] != code:
        raise CorpusError(
            f"ASED file {name!r} has emotion letter {letter!r} ({EMOTIONS[code]}) but lies in "
            f"folder {folder!r} ({EMOTIONS[_FOLDER_OF[folder.lower()]]}); move it to "
            f"{FOLDERS[code]!r} or rename it"
        )
    return {
        "code": code,
        "emotion": EMOTIONS[code],
        "folder_number": number,
        "text_id": sentence,
        "repetition": repetition,
        "gender_field": gender,
        "gender": GENDERS[gender],
        "speaker": speaker,
        "id": f"{code}{number}-{sentence}-{repetition}-{gender}-{speaker}",
        "quirk": letter if letter != code else "",
    }


def speaker_genders(fields: list[dict[str, str]]) -> dict[str, str | None]:
    """Speaker → the majority of its files' gender fields (None on a tie)."""
    votes: dict[str, Counter[str]] = {}
    for f in fields:
        votes.setdefault(f["speaker"], Counter())[f["gender"]] += 1
    genders: dict[str, str | None] = {}
    for speaker, counts in sorted(votes.items()):
        (top, n), *rest = counts.most_common()
        if rest and rest[0][1] == n:
            logger.warning(
                "ASED speaker %s: as many files say female as male (%s); gender left unknown",
                speaker, dict(counts),
            )
            genders[speaker] = None
        else:
            genders[speaker] = top
    return genders


@LOADERS.register(NAME)
def load(root: str | Path) -> Corpus:
    """Load ASED from the folder holding ``01Neutral`` … ``05Angry`` (searched recursively).

    Each speaker's gender is the majority of its files' gender fields (see the module
    docstring). Extra fields: ``repetition``, ``gender_field`` and ``file_name_quirk``
    (only where the file's gender field or letter case differs).

    Raises:
        CorpusError: the folder is missing, holds no audio, a file name is not ASED's, or
            a file's emotion letter disagrees with its folder.
    """
    root = require_dir(root, "ASED")
    files = require_audio(find_audio(root), root, "ASED")
    parsed = [(path, parse_filename(path.name, folder=path.parent.name)) for path in files]
    genders = speaker_genders([f for _, f in parsed])
    utterances = []
    for path, f in parsed:
        gender = genders[f["speaker"]]
        extra = {"repetition": f["repetition"]}
        quirks = []
        if f["quirk"]:
            quirks.append(f"emotion letter written {f['quirk']!r} upstream")
        if gender is not None and f["gender"] != gender:
            extra["gender_field"] = f["gender_field"]
            quirks.append(
                f"gender field {f['gender_field']} ({f['gender']}) disagrees with the speaker's "
                f"other files ({gender})"
            )
        if quirks:
            extra["file_name_quirk"] = "; ".join(quirks)
        utterances.append(
            utterance_from_fields(
                f, id=f["id"], path=path, corpus=NAME, language=LANGUAGE, gender=gender, extra=extra
            )
        )
    return build_corpus(NAME, root, utterances, PUBLISHED)
