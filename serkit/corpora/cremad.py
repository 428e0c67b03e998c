"""CREMA-D, the Crowd-sourced Emotional Multimodal Actors Dataset (Cao et al., 2014).

Layout: ``AudioWAV/1001_DFA_ANG_XX.wav``: actor (1001-1091), sentence code, emotion,
level. 91 actors, 7442 clips (the CREMA-D README, github.com/CheyneyComputerScience/CREMA-D).
Actor sex, age, race and ethnicity are in ``VideoDemographics.csv`` beside ``AudioWAV``;
without it genders stay None. Upstream quirk: older copies name one file
``1040_ITH_SAD_X.wav`` (level ``X`` for ``XX``, CREMA-D issue #6); it is accepted.
"""

from __future__ import annotations

import csv
from pathlib import Path

from serkit.corpora.base import LOADERS, Corpus, PublishedCounts, Utterance, find_audio, require_audio, require_dir
from serkit.corpora.check import build_corpus
from serkit.errors import CorpusError

NAME = "cremad"
LANGUAGE = "en"
DEMOGRAPHICS = "VideoDemographics.csv"

EMOTIONS: dict[str, str] = {
    "ANG": "anger",
    "DIS": "disgust",
    "FEA": "fear",
    "HAP": "happiness",
    "NEU": "neutral",
    "SAD": "sadness",
}
LEVELS: dict[str, str] = {"LO": "low", "MD": "medium", "HI": "high", "XX": "unspecified"}
#: Misspelled level codes of public copies → the code they stand for.
LEVEL_QUIRKS: dict[str, str] = {"X": "XX"}
SENTENCES: dict[str, str] = {
    "IEO": "It's eleven o'clock",
    "TIE": "That is exactly what happened",
    "IOM": "I'm on my way to the meeting",
    "IWW": "I wonder what this is about",
    "TAI": "The airplane is almost full",
    "MTI": "Maybe tomorrow it will be cold",
    "IWL": "I would like a new alarm clock",
    "ITH": "I think I have a doctor's appointment",
    "DFA": "Don't forget a jacket",
    "ITS": "I think I've seen this before",
    "TSI": "The surface is slick",
    "WSI": "We'll stop in a couple of minutes",
}
ACTORS: range = range(1001, 1092)

PUBLISHED = PublishedCounts(
    7442, 91, {"anger": 1271, "disgust": 1271, "fear": 1271, "happiness": 1271, "sadness": 1271, "neutral": 1087}
)
_SEX = {"male": "male", "female": "female"}


def parse_filename(name: str) -> dict[str, str]:
    """The fields of a CREMA-D file name such as ``1001_DFA_ANG_XX.wav``.

    Returns:
        ``actor``, ``text_id`` (sentence code), ``code`` (emotion code), ``emotion``,
        ``level`` (code, the ``X`` quirk corrected), ``intensity``.

    Raises:
        CorpusError: not four underscore-separated fields, or a field outside its table.
    """
    stem = Path(name).stem
    parts = stem.split("_")
    if len(parts) != 4:
        raise CorpusError(
            f"CREMA-D file names have 4 underscore-separated fields "
            f"(actor_sentence_emotion_level), not {len(parts)}: {name!r}"
        )
    actor, sentence, code, level = parts
    level = LEVEL_QUIRKS.get(level, level)
    if not actor.isdigit() or int(actor) not in ACTORS:
        raise CorpusError(f"CREMA-D actors are 1001-1091, not {actor!r}: {name!r}")
    if sentence not in SENTENCES:
        raise CorpusError(f"CREMA-D sentence must be one of {', '.join(SENTENCES)}, not {sentence!r}: {name!r}")
    if code not in EMOTIONS:
        raise CorpusError(f"CREMA-D emotion must be one of {', '.join(EMOTIONS)}, not {code!r}: {name!r}")
    if level not in LEVELS:
        raise CorpusError(f"CREMA-D level must be one of {', '.join(LEVELS)}, not {parts[3]!r}: {name!r}")
    return {
        "actor": actor,
        "text_id": sentence,
        "code": code,
        "emotion": EMOTIONS[code],
        "level": level,
        "intensity": LEVELS[level],
    }


def read_demographics(path: Path) -> dict[str, dict[str, str]]:
    """Actor id → ``gender``/``age``/``race``/``ethnicity`` from ``VideoDemographics.csv``.

    Raises:
        CorpusError: the file lacks the ``ActorID`` or ``Sex`` column, or a sex is neither
            Male nor Female.
    """
    with open(path, newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        columns = reader.fieldnames or []
        if "ActorID" not in columns or "Sex" not in columns:
            raise CorpusError(
                f"{str(path)!r} needs the columns ActorID and Sex, found {', '.join(columns) or 'none'}"
            )
        table = {}
        for row in reader:
            sex = (row.get("Sex") or "").strip().lower()
            if sex not in _SEX:
                raise CorpusError(f"{str(path)!r}: actor {row['ActorID']} has Sex {row['Sex']!r}, expected Male or Female")
            table[row["ActorID"].strip()] = {
                "gender": _SEX[sex],
                "age": (row.get("Age") or "").strip(),
                "race": (row.get("Race") or "").strip(),
                "ethnicity": (row.get("Ethnicity") or "").strip(),
            }
    return table


def _find_demographics(root: Path, files: list[Path]) -> Path | None:
    candidates = [root / DEMOGRAPHICS, root.parent / DEMOGRAPHICS]
    candidates += sorted({f.parent.parent / DEMOGRAPHICS for f in files})
    return next((c for c in candidates if c.is_file()), None)


@LOADERS.register(NAME)
def load(root: str | Path, *, demographics: str | Path | None = None) -> Corpus:
    """Load CREMA-D audio from ``root`` (the CREMA-D folder or ``AudioWAV``).

    Args:
        root: searched recursively for audio.
        demographics: ``VideoDemographics.csv``; by default looked for in ``root``, its
            parent and beside the audio folder. Without it, genders are None.

    Raises:
        CorpusError: the folder is missing, holds no audio, or a file name is not CREMA-D's.
    """
    root = require_dir(root, "CREMA-D")
    files = require_audio(find_audio(root), root, "CREMA-D")
    table_path = Path(demographics) if demographics is not None else _find_demographics(root, files)
    if table_path is not None and not table_path.is_file():
        raise CorpusError(f"CREMA-D demographics file {str(table_path)!r} does not exist")
    table = read_demographics(table_path) if table_path is not None else {}
    utterances = []
    for path in files:
        f = parse_filename(path.name)
        info = table.get(f["actor"], {})
        extra = {k: info[k] for k in ("age", "race", "ethnicity") if info.get(k)}
        extra["level"] = f["level"]
        utterances.append(
            Utterance(
                id=f"{f['actor']}_{f['text_id']}_{f['code']}_{f['level']}",
                path=path,
                corpus=NAME,
                emotion=f["emotion"],
                corpus_label=f["code"],
                speaker=f"{NAME}-{f['actor']}",
                gender=info.get("gender"),
                intensity=f["intensity"],
                text_id=f["text_id"],
                language=LANGUAGE,
                extra=extra,
            )
        )
    return build_corpus(NAME, root, utterances, PUBLISHED)
