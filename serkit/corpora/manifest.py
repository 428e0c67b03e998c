"""A generic corpus from a CSV manifest: ``path,label`` and optional columns.

Recognised optional columns: ``id``, ``speaker``, ``gender``, ``intensity``, ``language``,
``text_id``, ``session``, ``official_split``, ``corpus``, ``duration_s``; any other column
goes into ``extra``. Relative paths are read from the CSV's folder.
"""

from __future__ import annotations

import csv
from pathlib import Path

from serkit.corpora.base import LOADERS, Corpus, Utterance
from serkit.corpora.check import build_corpus
from serkit.corpora.folder import accepted_labels, canonical_emotion, canonical_gender
from serkit.errors import CorpusError

NAME = "csv"
REQUIRED: tuple[str, ...] = ("path", "label")
OPTIONAL: tuple[str, ...] = (
    "id", "speaker", "gender", "intensity", "language", "text_id", "session",
    "official_split", "corpus", "duration_s",
)


@LOADERS.register(NAME)
def load(root: str | Path, *, corpus_name: str = NAME) -> Corpus:
    """Load the corpus a CSV manifest describes.

    Args:
        root: the CSV file (header row required, comma-separated, UTF-8).
        corpus_name: the corpus name for rows without a ``corpus`` column.

    Labels may be canonical emotions or common spellings (``angry``, ``happy`` …); the
    value as written is kept as ``corpus_label``. Speakers are prefixed with the row's
    corpus (``speaker 12`` of corpus ``csv`` becomes ``csv-12``) unless they already are.
    Ids default to the path relative to the CSV's folder, without suffix.

    Raises:
        CorpusError: the file is missing or not a CSV with ``path`` and ``label`` columns;
            a row with an empty path, a missing audio file, an unknown label or gender, or
            a duration that is not a number (the row is named: row 1 is the line after the
            header).
    """
    manifest = Path(root).expanduser()
    if not manifest.is_file():
        raise CorpusError(f"manifest {str(manifest)!r} does not exist or is not a file; pass a CSV file")
    base = manifest.parent
    try:
        with open(manifest, newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            columns = [c.strip() for c in (reader.fieldnames or [])]
            missing = [c for c in REQUIRED if c not in columns]
            if missing:
                raise CorpusError(
                    f"manifest {str(manifest)!r} needs the header columns path,label; "
                    f"missing {', '.join(missing)} (found: {', '.join(columns) or 'no header'})"
                )
            reader.fieldnames = columns
            rows = list(reader)
    except UnicodeDecodeError as exc:
        raise CorpusError(f"manifest {str(manifest)!r} is not UTF-8 text ({exc.reason})") from None
    except csv.Error as exc:
        raise CorpusError(f"manifest {str(manifest)!r} is not a valid CSV ({exc})") from None
    if not rows:
        raise CorpusError(f"manifest {str(manifest)!r} has a header but no rows")
    utterances = [_utterance(i, row, base, manifest, corpus_name) for i, row in enumerate(rows, start=1)]
    return build_corpus(corpus_name, base, utterances, None)


def _utterance(i: int, row: dict, base: Path, manifest: Path, name: str) -> Utterance:
    where = f"{manifest.name} row {i} (line {i + 1})"

    def get(key: str) -> str | None:
        value = row.get(key)
        value = value.strip() if isinstance(value, str) else None
        return value or None

    raw_path, label = get("path"), get("label")
    if raw_path is None:
        raise CorpusError(f"{where}: the path is empty")
    if label is None:
        raise CorpusError(f"{where}: the label is empty")
    path = Path(raw_path).expanduser()
    if not path.is_absolute():
        path = base / path
    if not path.is_file():
        raise CorpusError(f"{where}: audio file {raw_path!r} not found (relative paths are read from {str(base)!r})")
    emotion = canonical_emotion(label)
    if emotion is None:
        raise CorpusError(f"{where}: label {label!r} is not an emotion; use one of: {accepted_labels()}")
    try:
        gender = canonical_gender(get("gender") or "")
    except CorpusError as exc:
        raise CorpusError(f"{where}: {exc}") from None
    duration = get("duration_s")
    if duration is not None:
        try:
            duration = float(duration)
        except ValueError:
            raise CorpusError(f"{where}: duration_s must be a number of seconds, not {duration!r}") from None
    corpus = get("corpus") or name
    speaker = get("speaker")
    if speaker is not None and not speaker.startswith(f"{corpus}-"):
        speaker = f"{corpus}-{speaker}"
    uid = get("id")
    if uid is None:
        try:
            uid = path.relative_to(base).with_suffix("").as_posix()
        except ValueError:
            uid = path.with_suffix("").as_posix()
    extra = {k: v.strip() for k, v in row.items() if k not in REQUIRED + OPTIONAL and isinstance(v, str) and v.strip()}
    return Utterance(
        id=uid,
        path=path,
        corpus=corpus,
        emotion=emotion,
        corpus_label=label,
        speaker=speaker,
        gender=gender,
        intensity=get("intensity"),
        text_id=get("text_id"),
        language=get("language"),
        session=get("session"),
        official_split=get("official_split"),
        duration_s=duration,
        extra=extra,
    )
