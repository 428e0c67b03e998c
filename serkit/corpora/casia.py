"""CASIA Chinese emotional speech corpus (Institute of Automation, Chinese Academy of
Sciences), public 1200-utterance subset.

Layout: ``<speaker>/<emotion>/<text number>.wav``: 4 speakers × 6 emotions × texts
201-250 = 1200 files. Speaker genders as usually reported (2 men: wangzhe, ZhaoZuoxiang;
2 women: liuchanhg, zhaoquanyin); the release itself does not state them.
"""

from __future__ import annotations

from pathlib import Path

from serkit.corpora.base import LOADERS, Corpus, PublishedCounts, find_audio, require_audio, require_dir, utterance_from_fields
from serkit.corpora.check import build_corpus, expected_ids
from serkit.errors import CorpusError

NAME = "casia"
LANGUAGE = "zh"

EMOTIONS: dict[str, str] = {
    "angry": "anger",
    "fear": "fear",
    "happy": "happiness",
    "neutral": "neutral",
    "sad": "sadness",
    "surprise": "surprise",
}
#: Speaker folder → gender (spellings as in the release, "liuchanhg" included).
SPEAKER_GENDERS: dict[str, str] = {
    "wangzhe": "male",
    "ZhaoZuoxiang": "male",
    "liuchanhg": "female",
    "zhaoquanyin": "female",
}
#: Text numbers of the public subset.
PUBLIC_TEXTS: range = range(201, 251)

PUBLISHED = PublishedCounts(1200, 4, {e: 200 for e in EMOTIONS.values()})


def parse_filename(name: str, *, speaker: str, emotion: str) -> dict[str, str]:
    """The fields of a CASIA file ``<speaker>/<emotion>/<number>.wav``.

    Args:
        name: the file name, e.g. ``"201.wav"``.
        speaker: its speaker folder name.
        emotion: its emotion folder name.

    Returns:
        ``speaker``, ``code`` (the emotion folder), ``emotion``, ``text_id``, ``gender``.

    Raises:
        CorpusError: unknown speaker or emotion folder, or a file name that is not a number.
    """
    stem = Path(name).stem
    if speaker not in SPEAKER_GENDERS:
        raise CorpusError(
            f"CASIA speaker folders are {', '.join(SPEAKER_GENDERS)}, not {speaker!r} "
            f"(file {name!r}); the layout is <speaker>/<emotion>/<number>.wav"
        )
    if emotion not in EMOTIONS:
        raise CorpusError(
            f"CASIA emotion folders are {', '.join(EMOTIONS)}, not {emotion!r} (file {name!r})"
        )
    if not stem.isdigit():
        raise CorpusError(f"CASIA file names are text numbers such as '201', not {name!r}")
    return {
        "speaker": speaker,
        "code": emotion,
        "emotion": EMOTIONS[emotion],
        "text_id": stem,
        "gender": SPEAKER_GENDERS[speaker],
    }


@LOADERS.register(NAME)
def load(root: str | Path) -> Corpus:
    """Load CASIA from the folder holding the four speaker folders (searched recursively).

    Raises:
        CorpusError: the folder is missing, holds no audio, or a file is not in the
            ``<speaker>/<emotion>/<number>`` layout.
    """
    root = require_dir(root, "CASIA")
    files = require_audio(find_audio(root), root, "CASIA")
    utterances = []
    for path in files:
        f = parse_filename(path.name, speaker=path.parent.parent.name, emotion=path.parent.name)
        utterances.append(
            utterance_from_fields(
                f, id=f"{f['speaker']}_{f['code']}_{f['text_id']}", path=path, corpus=NAME, language=LANGUAGE
            )
        )
    return build_corpus(NAME, root, utterances, PUBLISHED)


@expected_ids(NAME)
def _expected(corpus: Corpus) -> set[str]:
    return {f"{s}_{e}_{t}" for s in SPEAKER_GENDERS for e in EMOTIONS for t in PUBLIC_TEXTS}
