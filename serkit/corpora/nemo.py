"""nEMO, a dataset of emotional speech in Polish (Christop, LREC-COLING 2024).

Licence: CC BY-NC-SA 4.0 (non-commercial, share-alike; see the corpus's ``LICENSE``).

Layout: ``data.tsv`` (tab-separated, one row per clip, columns ``file_id``, ``emotion``,
``raw_text``, ``normalized_text``, ``speaker_id``, ``gender``, ``age``) beside
``samples/<file_id>`` (``samples/WR0_surprised_64.wav``, 24 kHz mono). ``file_id`` is
``{speaker_id}_{emotion}_{sentence_id}.wav``; the speaker ids of the release's tsv carry
leading spaces, which are stripped. Labels, speaker, gender, age and text are taken from
``data.tsv``; the file name's speaker and emotion must agree with its row.

Counts: the corpus's README says nine actors and six emotional states (anger, fear,
happiness, sadness, surprised, neutral), "over 3 hours", but gives no clip counts. The
4481 clips are those of the nEMO dataset card on Hugging Face (``num_examples``); the
per-emotion counts are those of the release's ``data.tsv`` (anger 749, fear 736,
happiness 749, neutral 809, sadness 769, surprised 669), which sum to 4481.

``text_id`` is the ``sentence_id`` of the file name (``"64"``); in the release each of the
90 sentence ids stands for exactly one ``normalized_text`` (a sentence id with two texts
is logged as a warning). ``extra`` holds ``age``, ``normalized_text`` and ``raw_text``.
"""

from __future__ import annotations

import csv
import logging
import re
from pathlib import Path

from serkit.corpora.base import (
    AUDIO_EXTENSIONS,
    LOADERS,
    Corpus,
    PublishedCounts,
    Utterance,
    find_audio,
    require_dir,
)
from serkit.corpora.check import MAX_NAMED, build_corpus, expected_ids
from serkit.errors import CorpusError

logger = logging.getLogger(__name__)

NAME = "nemo"
LANGUAGE = "pl"
METADATA = "data.tsv"
SAMPLES = "samples"
COLUMNS: tuple[str, ...] = ("file_id", "emotion", "raw_text", "normalized_text", "speaker_id", "gender", "age")

#: Emotion label of ``data.tsv`` → canonical emotion.
EMOTIONS: dict[str, str] = {
    "anger": "anger",
    "fear": "fear",
    "happiness": "happiness",
    "neutral": "neutral",
    "sadness": "sadness",
    "surprised": "surprise",
}
GENDERS: tuple[str, ...] = ("female", "male")
LABEL_COUNTS: dict[str, int] = {
    "anger": 749, "fear": 736, "happiness": 749, "neutral": 809, "sadness": 769, "surprised": 669,
}
PUBLISHED = PublishedCounts(4481, 9, {EMOTIONS[c]: n for c, n in LABEL_COUNTS.items()})

_FILE_ID = re.compile(r"^([A-Za-z0-9]+)_([a-z]+)_(\d+)$")


def parse_filename(name: str) -> dict[str, str]:
    """The fields of a nEMO file id such as ``WR0_surprised_64.wav``.

    Returns:
        ``speaker``, ``code`` (the emotion label as written), ``emotion``, ``text_id``
        (the sentence id) and ``id`` (the stem).

    Raises:
        CorpusError: the name is not ``{speaker_id}_{emotion}_{sentence_id}`` or names an
            unknown emotion.
    """
    stem = Path(name).stem if Path(name).suffix.lower() in AUDIO_EXTENSIONS else name
    m = _FILE_ID.match(stem)
    if m is None:
        raise CorpusError(
            f"nEMO file ids look like 'WR0_surprised_64.wav' (speaker_emotion_sentence), not {name!r}"
        )
    speaker, code, sentence = m.groups()
    if code not in EMOTIONS:
        raise CorpusError(f"nEMO emotion must be one of {', '.join(EMOTIONS)}, not {code!r}: {name!r}")
    return {"speaker": speaker, "code": code, "emotion": EMOTIONS[code], "text_id": sentence, "id": stem}


def read_metadata(path: Path) -> list[dict[str, str]]:
    """The rows of ``data.tsv``, values stripped of surrounding spaces.

    Raises:
        CorpusError: the file is not UTF-8 text, lacks a column of :data:`COLUMNS`, has
            no rows, or a row has the wrong number of fields or an empty ``file_id``, ``emotion``,
            ``speaker_id`` or ``gender`` (the row is named: row 1 is the line after the
            header).
    """
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh, delimiter="\t", quoting=csv.QUOTE_NONE)
            columns = [c.strip() for c in (reader.fieldnames or [])]
            missing = [c for c in COLUMNS if c not in columns]
            if missing:
                raise CorpusError(
                    f"nEMO {str(path)!r} needs the tab-separated columns {', '.join(COLUMNS)}; "
                    f"missing {', '.join(missing)} (found: {', '.join(columns) or 'no header'})"
                )
            reader.fieldnames = columns
            raw = list(reader)
    except UnicodeDecodeError as exc:
        raise CorpusError(f"nEMO {str(path)!r} is not UTF-8 text ({exc.reason})") from None
    except csv.Error as exc:
        raise CorpusError(f"nEMO {str(path)!r} is not a valid TSV ({exc})") from None
    if not raw:
        raise CorpusError(f"nEMO {str(path)!r} has a header but no rows")
    rows = []
    for i, row in enumerate(raw, start=1):
        where = f"{path.name} row {i} (line {i + 1})"
        if None in row.values() or None in row:
            n = len(columns) - list(row.values()).count(None) + len(row.get(None) or [])
            raise CorpusError(f"{where}: {len(columns)} tab-separated fields expected, found {n}")
        row = {k: v.strip() for k, v in row.items()}
        empty = [c for c in ("file_id", "emotion", "speaker_id", "gender") if not row[c]]
        if empty:
            raise CorpusError(f"{where}: empty {', '.join(empty)}")
        row["_where"] = where
        rows.append(row)
    return rows


def _check_row(row: dict[str, str]) -> dict[str, str]:
    where = row["_where"]
    try:
        f = parse_filename(row["file_id"])
    except CorpusError as exc:
        raise CorpusError(f"{where}: {exc}") from None
    if row["emotion"] not in EMOTIONS:
        raise CorpusError(f"{where}: emotion must be one of {', '.join(EMOTIONS)}, not {row['emotion']!r}")
    if f["code"] != row["emotion"] or f["speaker"] != row["speaker_id"]:
        raise CorpusError(
            f"{where}: file {row['file_id']!r} names speaker {f['speaker']!r} and emotion "
            f"{f['code']!r}, but the row says speaker {row['speaker_id']!r} and emotion {row['emotion']!r}"
        )
    if row["gender"] not in GENDERS:
        raise CorpusError(f"{where}: gender must be female or male, not {row['gender']!r}")
    return f


def find_metadata(root: Path) -> Path:
    """``data.tsv`` in ``root``, or beside it when ``root`` is the ``samples`` folder.

    Raises:
        CorpusError: neither exists.
    """
    candidates = [root / METADATA]
    if root.name == SAMPLES:
        candidates.append(root.parent / METADATA)
    found = next((c for c in candidates if c.is_file()), None)
    if found is None:
        raise CorpusError(
            f"no nEMO {METADATA} in {str(root)!r}; pass the nEMO folder holding {METADATA} and {SAMPLES}/"
        )
    return found


@LOADERS.register(NAME)
def load(root: str | Path) -> Corpus:
    """Load nEMO from its folder (the one holding ``data.tsv`` and ``samples/``).

    Rows of ``data.tsv`` whose audio file is absent are skipped with a logged warning
    (``check_corpus`` lists them as missing); audio is looked for as
    ``samples/<file_id>``, under any audio extension (``.wav``, ``.flac``).

    Raises:
        CorpusError: the folder or ``data.tsv`` is missing or malformed (a row's file id,
            emotion, speaker or gender is bad, or two rows name one file); an audio file
            under ``samples/`` has no row in ``data.tsv``; or no row has its audio.
    """
    root = require_dir(root, "nEMO")
    metadata = find_metadata(root)
    base = metadata.parent
    samples = base / SAMPLES
    rows = read_metadata(metadata)
    audio = {}
    for path in find_audio(samples) if samples.is_dir() else []:
        if path.stem in audio:
            raise CorpusError(
                f"nEMO: two audio files for {path.stem!r}: {str(audio[path.stem])!r} and {str(path)!r}; keep one"
            )
        audio[path.stem] = path
    utterances = []
    absent = []
    seen: dict[str, str] = {}
    texts: dict[str, tuple[str, str]] = {}
    for row in rows:
        f = _check_row(row)
        if f["id"] in seen:
            raise CorpusError(f"{row['_where']}: file {row['file_id']!r} is listed twice (also {seen[f['id']]})")
        seen[f["id"]] = row["_where"]
        text = texts.setdefault(f["text_id"], (row["normalized_text"], row["file_id"]))
        if text[0] != row["normalized_text"]:
            logger.warning(
                "nEMO sentence %s has two normalized texts: %r (%s) and %r (%s)",
                f["text_id"], text[0], text[1], row["normalized_text"], row["file_id"],
            )
        path = audio.get(f["id"])
        if path is None:
            absent.append(row["file_id"])
            continue
        utterances.append(
            Utterance(
                id=f["id"],
                path=path,
                corpus=NAME,
                emotion=f["emotion"],
                corpus_label=f["code"],
                speaker=f"{NAME}-{row['speaker_id']}",
                gender=row["gender"],
                text_id=f["text_id"],
                language=LANGUAGE,
                extra={
                    "age": row["age"],
                    "normalized_text": row["normalized_text"],
                    "raw_text": row["raw_text"],
                },
            )
        )
    unlisted = sorted(set(audio) - set(seen))
    if unlisted:
        shown = ", ".join(audio[s].name for s in unlisted[:MAX_NAMED])
        more = f" and {len(unlisted) - MAX_NAMED} more" if len(unlisted) > MAX_NAMED else ""
        raise CorpusError(
            f"nEMO: {len(unlisted)} audio file(s) under {str(samples)!r} have no row in "
            f"{str(metadata)!r}, so no label: {shown}{more}; remove them or add their rows"
        )
    if absent:
        logger.warning(
            "nEMO: %d rows of %s have no audio file under %s (first: %s)",
            len(absent), metadata, samples, absent[0],
        )
    if not utterances:
        raise CorpusError(
            f"nEMO: none of the {len(rows)} rows of {str(metadata)!r} has an audio file; "
            f"expected {SAMPLES}/<file_id> beside it"
        )
    return build_corpus(NAME, root, utterances, PUBLISHED)


@expected_ids(NAME)
def _expected(corpus: Corpus) -> set[str]:
    # data.tsv lists every clip of the release.
    return {Path(row["file_id"]).stem for row in read_metadata(find_metadata(corpus.root))}
