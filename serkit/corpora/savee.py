"""SAVEE, Surrey Audio-Visual Expressed Emotion (Haq & Jackson, 2009).

Four male speakers (DC, JE, JK, KL), 120 utterances each: 15 per emotion and 30 neutral,
480 in all (SAVEE documentation, kahlan.eps.surrey.ac.uk/savee). Two layouts exist: the
flat one of public copies (``DC_sa07.wav``) and the release's per-speaker one
(``AudioData/DC/sa07.wav``).
"""

from __future__ import annotations

import re
from pathlib import Path

from serkit.corpora.base import LOADERS, Corpus, PublishedCounts, find_audio, require_audio, require_dir, utterance_from_fields
from serkit.corpora.check import build_corpus, expected_ids
from serkit.errors import CorpusError

NAME = "savee"
LANGUAGE = "en"

EMOTIONS: dict[str, str] = {
    "a": "anger",
    "d": "disgust",
    "f": "fear",
    "h": "happiness",
    "n": "neutral",
    "sa": "sadness",
    "su": "surprise",
}
#: Utterances per emotion code and speaker.
PER_SPEAKER: dict[str, int] = {code: (30 if code == "n" else 15) for code in EMOTIONS}
SPEAKER_GENDERS: dict[str, str] = {"DC": "male", "JE": "male", "JK": "male", "KL": "male"}

PUBLISHED = PublishedCounts(
    480, 4, {EMOTIONS[c]: n * len(SPEAKER_GENDERS) for c, n in PER_SPEAKER.items()}
)

_FLAT = re.compile(r"^([A-Za-z]{2})_([a-z]{1,2})(\d{1,2})$")
_NESTED = re.compile(r"^([a-z]{1,2})(\d{1,2})$")


def parse_filename(name: str, *, speaker: str | None = None) -> dict[str, str]:
    """The fields of a SAVEE file name: flat ``DC_sa07.wav``, or ``sa07.wav`` with the
    speaker given by its folder (``speaker="DC"``).

    Returns:
        ``speaker``, ``code``, ``emotion``, ``index`` (two digits), ``gender``.

    Raises:
        CorpusError: the name matches neither layout, or the speaker, emotion code or
            index is unknown.
    """
    stem = Path(name).stem
    m = _FLAT.match(stem)
    if m is not None:
        spk, code, index = m.groups()
    else:
        m = _NESTED.match(stem)
        if m is None or speaker is None:
            raise CorpusError(
                f"SAVEE file names look like 'DC_sa07' (or 'sa07' in a speaker folder such "
                f"as AudioData/DC/), not {name!r}"
            )
        spk, (code, index) = speaker, m.groups()
    if spk not in SPEAKER_GENDERS:
        raise CorpusError(f"SAVEE speakers are {', '.join(SPEAKER_GENDERS)}, not {spk!r}: {name!r}")
    if code not in EMOTIONS:
        raise CorpusError(
            f"SAVEE emotion code must be one of {', '.join(EMOTIONS)}, not {code!r}: {name!r}"
        )
    if not 1 <= int(index) <= PER_SPEAKER[code]:
        raise CorpusError(
            f"SAVEE index for {code!r} runs 1-{PER_SPEAKER[code]}, not {index}: {name!r}"
        )
    return {
        "speaker": spk,
        "code": code,
        "emotion": EMOTIONS[code],
        "index": f"{int(index):02d}",
        "gender": SPEAKER_GENDERS[spk],
    }


@LOADERS.register(NAME)
def load(root: str | Path) -> Corpus:
    """Load SAVEE from ``root`` in either layout (searched recursively).

    Utterance ids are ``<speaker>_<code><index>`` (``DC_sa07``) in both layouts.

    Raises:
        CorpusError: the folder is missing, holds no audio, a file name is not SAVEE's, or
            the same recording appears in both layouts.
    """
    root = require_dir(root, "SAVEE")
    files = require_audio(find_audio(root), root, "SAVEE")
    utterances = []
    for path in files:
        folder = path.parent.name
        f = parse_filename(path.name, speaker=folder if folder in SPEAKER_GENDERS else None)
        utterances.append(
            utterance_from_fields(
                f, id=f"{f['speaker']}_{f['code']}{f['index']}", path=path, corpus=NAME, language=LANGUAGE, extra={"index": f["index"]}
            )
        )
    return build_corpus(NAME, root, utterances, PUBLISHED)


@expected_ids(NAME)
def _expected(corpus: Corpus) -> set[str]:
    return {
        f"{s}_{c}{i:02d}" for s in SPEAKER_GENDERS for c, n in PER_SPEAKER.items() for i in range(1, n + 1)
    }
