"""IEMOCAP, the Interactive Emotional Dyadic Motion Capture database (Busso et al., 2008).

Layout (``IEMOCAP_full_release``): labels in ``Session{1..5}/dialog/EmoEvaluation/*.txt``,
one line per utterance: ``[start - end]<TAB>Ses01F_impro01_F000<TAB>neu<TAB>[v, a, d]``;
audio in ``Session{n}/sentences/wav/<dialog>/<utterance>.wav``.

The speaker of an utterance is its session plus the F/M letter of the utterance's *own*
suffix: ``Ses01F_script02_2_M000`` is the man of session 1 (``iemocap-Ses01M``), although
the dialog prefix says F (the prefix names who wore the motion-capture markers).
Label policy such as merging excitement into happiness (the usual 4 classes) lives in the
named scheme ``serkit.labels.SCHEMES["4class"]``, not here.

Counts from the label files of the release (10039 utterances, widely reported): neu 1708,
fru 1849, ang 1103, sad 1084, exc 1041, hap 595, sur 107, fea 40, oth 3, dis 2, and 2507
``xxx`` (no majority among the evaluators).
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

from serkit.corpora.base import AUDIO_EXTENSIONS, LOADERS, Corpus, PublishedCounts, Utterance, require_dir
from serkit.corpora.check import build_corpus, expected_ids
from serkit.errors import CorpusError

logger = logging.getLogger(__name__)

NAME = "iemocap"
LANGUAGE = "en"

#: Label code of the EmoEvaluation files → canonical emotion (``xxx``: no agreement).
EMOTIONS: dict[str, str] = {
    "neu": "neutral",
    "hap": "happiness",
    "sad": "sadness",
    "ang": "anger",
    "exc": "excitement",
    "fru": "frustration",
    "sur": "surprise",
    "fea": "fear",
    "dis": "disgust",
    "oth": "other",
}
NO_AGREEMENT = "xxx"
GENDERS: dict[str, str] = {"F": "female", "M": "male"}
MODES: dict[str, str] = {"impro": "improvised", "script": "scripted"}
SESSIONS: tuple[int, ...] = (1, 2, 3, 4, 5)

LABEL_COUNTS: dict[str, int] = {
    "neu": 1708, "fru": 1849, "ang": 1103, "sad": 1084, "exc": 1041, "hap": 595,
    "sur": 107, "fea": 40, "oth": 3, "dis": 2, "xxx": 2507,
}
PUBLISHED = PublishedCounts(
    sum(n for c, n in LABEL_COUNTS.items() if c != NO_AGREEMENT),
    10,
    {EMOTIONS[c]: n for c, n in LABEL_COUNTS.items() if c != NO_AGREEMENT},
)
PUBLISHED_WITH_UNLABELLED = PublishedCounts(
    sum(LABEL_COUNTS.values()),
    10,
    {**PUBLISHED.labels, "other": LABEL_COUNTS["oth"] + LABEL_COUNTS[NO_AGREEMENT]},
)

_UTTERANCE = re.compile(r"^(Ses(\d\d)([FM])_(impro|script)[0-9A-Za-z_]*?)_([FM])(\d{3})$")
_LINE = re.compile(r"^\[\s*([\d.]+)\s*-\s*([\d.]+)\s*\]\t(\S+)\t(\S+)\t\[([^\]]*)\]")


def parse_filename(name: str) -> dict[str, str]:
    """The fields of an IEMOCAP utterance id or wav name such as ``Ses01F_script02_2_M000``.

    Returns:
        ``session`` (``Ses01``), ``dialog`` (``Ses01F_script02_2``), ``speaker_letter``
        (the utterance's own ``F``/``M``), ``speaker`` (``Ses01M``), ``gender``, ``mode``
        (``improvised``/``scripted``), ``turn`` (``000``).

    Raises:
        CorpusError: the name is not an IEMOCAP utterance id.
    """
    stem = Path(name).stem if Path(name).suffix.lower() in AUDIO_EXTENSIONS else name
    m = _UTTERANCE.match(stem)
    if m is None:
        raise CorpusError(
            f"IEMOCAP utterance ids look like 'Ses01F_impro01_F000' or "
            f"'Ses01F_script02_2_M000', not {name!r}"
        )
    dialog, session, _, mode, letter, turn = m.groups()
    return {
        "session": f"Ses{session}",
        "dialog": dialog,
        "speaker_letter": letter,
        "speaker": f"Ses{session}{letter}",
        "gender": GENDERS[letter],
        "mode": MODES[mode],
        "turn": turn,
    }


def parse_label_line(line: str) -> dict[str, str] | None:
    """One utterance line of an EmoEvaluation file, or None for other lines.

    Returns:
        ``start_s``, ``end_s``, ``id``, ``code`` (``neu``, ``xxx``, …), ``vad`` (the
        valence, activation, dominance text).
    """
    m = _LINE.match(line)
    if m is None:
        return None
    start, end, uid, code, vad = m.groups()
    return {"start_s": start, "end_s": end, "id": uid, "code": code, "vad": vad.strip()}


def read_labels(root: Path, sessions=SESSIONS) -> list[tuple[int, dict[str, str]]]:
    """Every labelled utterance of the EmoEvaluation files: (session number, line fields)."""
    rows = []
    for n in sessions:
        folder = root / f"Session{n}" / "dialog" / "EmoEvaluation"
        if not folder.is_dir():
            continue
        for txt in sorted(folder.glob("*.txt")):
            if txt.name.startswith("."):  # macOS "._" resource files in some copies
                continue
            for line in txt.read_text(encoding="utf-8", errors="replace").splitlines():
                row = parse_label_line(line)
                if row is not None:
                    rows.append((n, row))
    return rows


@LOADERS.register(NAME)
def load(
    root: str | Path,
    *,
    sessions: tuple[int, ...] | list[int] | None = None,
    include_unlabelled: bool = False,
) -> Corpus:
    """Load IEMOCAP from ``IEMOCAP_full_release`` (the folder holding ``Session1`` …).

    Args:
        root: the release folder.
        sessions: session numbers to load (1-5); all by default.
        include_unlabelled: keep ``xxx`` utterances (no majority label) as emotion
            ``"other"`` with corpus label ``"xxx"``; skipped by default.

    Extra fields: ``mode`` (improvised/scripted), ``dialog``, ``start_s``, ``end_s``,
    ``vad``. Labelled utterances without an audio file are skipped with a logged warning
    (``check_corpus`` lists them as missing).

    Raises:
        CorpusError: no ``Session{n}/dialog/EmoEvaluation`` folder, an unknown session or
            label code, or an utterance id that is not IEMOCAP's.
    """
    root = require_dir(root, "IEMOCAP")
    wanted = tuple(sessions) if sessions is not None else SESSIONS
    bad = [s for s in wanted if s not in SESSIONS]
    if bad:
        raise CorpusError(f"IEMOCAP sessions are 1-5, not {bad}")
    rows = read_labels(root, wanted)
    if not rows:
        raise CorpusError(
            f"no IEMOCAP label files under {str(root)!r}: expected "
            "Session1/dialog/EmoEvaluation/*.txt; pass the IEMOCAP_full_release folder"
        )
    utterances = []
    absent = []
    for n, row in rows:
        code = row["code"]
        if code == NO_AGREEMENT:
            if not include_unlabelled:
                continue
            emotion = "other"
        elif code in EMOTIONS:
            emotion = EMOTIONS[code]
        else:
            raise CorpusError(
                f"IEMOCAP label of {row['id']} must be one of {', '.join(EMOTIONS)} or xxx, not {code!r}"
            )
        f = parse_filename(row["id"])
        if f["session"] != f"Ses{n:02d}":
            raise CorpusError(f"IEMOCAP utterance {row['id']} is listed under Session{n}")
        path = _audio_path(root, n, f["dialog"], row["id"])
        if path is None:
            absent.append(row["id"])
            continue
        utterances.append(
            Utterance(
                id=row["id"],
                path=path,
                corpus=NAME,
                emotion=emotion,
                corpus_label=code,
                speaker=f"{NAME}-{f['speaker']}",
                gender=f["gender"],
                language=LANGUAGE,
                session=f["session"],
                extra={
                    "mode": f["mode"],
                    "dialog": f["dialog"],
                    "start_s": row["start_s"],
                    "end_s": row["end_s"],
                    "vad": row["vad"],
                },
            )
        )
    if absent:
        logger.warning(
            "IEMOCAP: %d labelled utterances have no audio file under %s (first: %s)",
            len(absent), root, absent[0],
        )
    if not utterances:
        raise CorpusError(
            f"IEMOCAP: none of the {len(rows)} labelled utterances has an audio file under "
            f"{str(root)!r}; expected Session{{n}}/sentences/wav/<dialog>/<utterance>.wav"
        )
    published = None
    if sessions is None:
        published = PUBLISHED_WITH_UNLABELLED if include_unlabelled else PUBLISHED
    return build_corpus(NAME, root, utterances, published)


def _audio_path(root: Path, session: int, dialog: str, uid: str) -> Path | None:
    folder = root / f"Session{session}" / "sentences" / "wav" / dialog
    for ext in AUDIO_EXTENSIONS:
        path = folder / f"{uid}{ext}"
        if path.is_file():
            return path
    return None


@expected_ids(NAME)
def _expected(corpus: Corpus) -> set[str]:
    # The label files list every utterance; expect those of the sessions loaded (and
    # the xxx ones only where they were asked for).
    sessions = sorted({int(u.session[3:]) for u in corpus.utterances if u.session})
    with_xxx = any(u.corpus_label == NO_AGREEMENT for u in corpus.utterances) or (
        corpus.published is PUBLISHED_WITH_UNLABELLED
    )
    return {
        row["id"]
        for _, row in read_labels(corpus.root, sessions)
        if with_xxx or row["code"] != NO_AGREEMENT
    }
