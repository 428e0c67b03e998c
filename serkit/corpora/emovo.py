"""EMOVO, Italian emotional speech (Costantini et al., LREC 2014).

Layout: ``<speaker>/<emotion>-<speaker>-<sentence>.wav`` (``f1/dis-f1-b1.wav``): 6 actors
(f1-f3 women, m1-m3 men) × 7 emotions × 14 sentences = 588 files (the LREC paper).
Sentence codes: b1-b3 (short), l1-l4 (long), n1-n5 (nonsense), d1-d2 (two-syllable).
"""

from __future__ import annotations

from pathlib import Path

from serkit.corpora.base import LOADERS, Corpus, PublishedCounts, find_audio, require_audio, require_dir, utterance_from_fields
from serkit.corpora.check import build_corpus, expected_ids
from serkit.errors import CorpusError

NAME = "emovo"
LANGUAGE = "it"

EMOTIONS: dict[str, str] = {
    "dis": "disgust",  # disgusto
    "gio": "happiness",  # gioia
    "neu": "neutral",
    "pau": "fear",  # paura
    "rab": "anger",  # rabbia
    "sor": "surprise",  # sorpresa
    "tri": "sadness",  # tristezza
}
SPEAKER_GENDERS: dict[str, str] = {
    "f1": "female", "f2": "female", "f3": "female",
    "m1": "male", "m2": "male", "m3": "male",
}
SENTENCES: tuple[str, ...] = (
    "b1", "b2", "b3", "l1", "l2", "l3", "l4", "n1", "n2", "n3", "n4", "n5", "d1", "d2",
)

PUBLISHED = PublishedCounts(588, 6, {e: 84 for e in EMOTIONS.values()})


def parse_filename(name: str) -> dict[str, str]:
    """The fields of an EMOVO file name such as ``dis-f1-b1.wav``.

    Returns:
        ``code``, ``emotion``, ``speaker``, ``gender``, ``text_id``.

    Raises:
        CorpusError: not three dash-separated fields, or a field outside its table.
    """
    stem = Path(name).stem
    parts = stem.split("-")
    if len(parts) != 3:
        raise CorpusError(
            f"EMOVO file names have 3 dash-separated fields (emotion-speaker-sentence), "
            f"not {len(parts)}: {name!r}"
        )
    code, speaker, sentence = (p.lower() for p in parts)
    if code not in EMOTIONS:
        raise CorpusError(f"EMOVO emotion must be one of {', '.join(EMOTIONS)}, not {parts[0]!r}: {name!r}")
    if speaker not in SPEAKER_GENDERS:
        raise CorpusError(f"EMOVO speakers are {', '.join(SPEAKER_GENDERS)}, not {parts[1]!r}: {name!r}")
    if sentence not in SENTENCES:
        raise CorpusError(f"EMOVO sentence must be one of {', '.join(SENTENCES)}, not {parts[2]!r}: {name!r}")
    return {
        "code": code,
        "emotion": EMOTIONS[code],
        "speaker": speaker,
        "gender": SPEAKER_GENDERS[speaker],
        "text_id": sentence,
    }


@LOADERS.register(NAME)
def load(root: str | Path) -> Corpus:
    """Load EMOVO from the folder holding ``f1`` … ``m3`` (searched recursively).

    Raises:
        CorpusError: the folder is missing, holds no audio, or a file name is not EMOVO's.
    """
    root = require_dir(root, "EMOVO")
    files = require_audio(find_audio(root), root, "EMOVO")
    utterances = []
    for path in files:
        f = parse_filename(path.name)
        utterances.append(
            utterance_from_fields(
                f, id=f"{f['code']}-{f['speaker']}-{f['text_id']}", path=path, corpus=NAME, language=LANGUAGE
            )
        )
    return build_corpus(NAME, root, utterances, PUBLISHED)


@expected_ids(NAME)
def _expected(corpus: Corpus) -> set[str]:
    return {f"{e}-{s}-{t}" for e in EMOTIONS for s in SPEAKER_GENDERS for t in SENTENCES}
