"""RAVDESS, the Ryerson Audio-Visual Database of Emotional Speech and Song (Livingstone &
Russo, PLoS ONE 2018).

Layout: ``Audio_Speech_Actors_01-24/Actor_12/03-01-05-02-01-01-12.wav`` (song:
``Audio_Song_Actors_01-24``). Seven dash-separated two-digit fields: modality, vocal
channel, emotion, intensity, statement, repetition, actor. Facts from the corpus's README
on Zenodo: 24 actors, odd numbers male; neutral has no strong intensity; the song part has
no disgust or surprise and no files of actor 18; speech 1440 files, song 1012.
"""

from __future__ import annotations

from pathlib import Path

from serkit.corpora.base import LOADERS, Corpus, PublishedCounts, Utterance, find_audio, require_audio, require_dir
from serkit.corpora.check import build_corpus, expected_ids
from serkit.errors import CorpusError

NAME = "ravdess"
LANGUAGE = "en"

MODALITIES: dict[str, str] = {"01": "audio-video", "02": "video-only", "03": "audio-only"}
CHANNELS: dict[str, str] = {"01": "speech", "02": "song"}
EMOTIONS: dict[str, str] = {
    "01": "neutral",
    "02": "calm",
    "03": "happiness",
    "04": "sadness",
    "05": "anger",
    "06": "fear",
    "07": "disgust",
    "08": "surprise",
}
INTENSITIES: dict[str, str] = {"01": "normal", "02": "strong"}
STATEMENTS: dict[str, str] = {"01": "Kids are talking by the door", "02": "Dogs are sitting by the door"}
REPETITIONS: tuple[str, ...] = ("01", "02")
ACTORS: tuple[str, ...] = tuple(f"{i:02d}" for i in range(1, 25))
#: Emotions sung in the song part (no disgust, no surprise).
SONG_EMOTIONS: tuple[str, ...] = ("01", "02", "03", "04", "05", "06")
#: Actor 18 has no song files.
SONG_ACTORS: tuple[str, ...] = tuple(a for a in ACTORS if a != "18")

PUBLISHED_SPEECH = PublishedCounts(
    1440, 24, {"neutral": 96, **{e: 192 for e in EMOTIONS.values() if e != "neutral"}}
)
PUBLISHED_SONG = PublishedCounts(
    1012, 23, {"neutral": 92, **{EMOTIONS[c]: 184 for c in SONG_EMOTIONS if c != "01"}}
)
PUBLISHED_BOTH = PublishedCounts(
    2452,
    24,
    {e: PUBLISHED_SPEECH.labels[e] + PUBLISHED_SONG.labels.get(e, 0) for e in PUBLISHED_SPEECH.labels},
)
#: The default (speech only).
PUBLISHED = PUBLISHED_SPEECH

_FIELDS = ("modality", "channel", "emotion", "intensity", "statement", "repetition", "actor")


def gender_of(actor: str) -> str:
    """``"male"`` for odd actor numbers, ``"female"`` for even ones."""
    return "male" if int(actor) % 2 == 1 else "female"


def parse_filename(name: str) -> dict[str, str]:
    """The fields of a RAVDESS file name such as ``03-01-05-02-01-01-12.wav``.

    Returns:
        The seven two-digit codes under ``modality``, ``channel``, ``emotion_code``,
        ``intensity_code``, ``statement``, ``repetition``, ``actor``, plus ``emotion``,
        ``intensity``, ``vocal_channel`` and ``gender`` in words.

    Raises:
        CorpusError: not seven fields, or a field outside its code table.
    """
    stem = Path(name).stem
    parts = stem.split("-")
    if len(parts) != 7:
        raise CorpusError(f"RAVDESS file names have 7 dash-separated fields, not {len(parts)}: {name!r}")
    fields = dict(zip(_FIELDS, parts))
    tables = {
        "modality": MODALITIES,
        "channel": CHANNELS,
        "emotion": EMOTIONS,
        "intensity": INTENSITIES,
        "statement": STATEMENTS,
        "repetition": dict.fromkeys(REPETITIONS),
        "actor": dict.fromkeys(ACTORS),
    }
    for key, table in tables.items():
        if fields[key] not in table:
            raise CorpusError(
                f"RAVDESS {key} field must be one of {', '.join(table)}, not {fields[key]!r}: {name!r}"
            )
    if fields["emotion"] == "01" and fields["intensity"] == "02":
        raise CorpusError(f"RAVDESS neutral (emotion 01) has no strong intensity (02): {name!r}")
    return {
        "modality": fields["modality"],
        "channel": fields["channel"],
        "emotion_code": fields["emotion"],
        "intensity_code": fields["intensity"],
        "statement": fields["statement"],
        "repetition": fields["repetition"],
        "actor": fields["actor"],
        "emotion": EMOTIONS[fields["emotion"]],
        "intensity": INTENSITIES[fields["intensity"]],
        "vocal_channel": CHANNELS[fields["channel"]],
        "gender": gender_of(fields["actor"]),
    }


@LOADERS.register(NAME)
def load(root: str | Path, *, song: bool = False) -> Corpus:
    """Load RAVDESS audio from ``root`` (searched recursively).

    Args:
        root: the folder holding ``Audio_Speech_Actors_01-24`` (or the ``Actor_NN``
            folders themselves).
        song: also load the song part (vocal channel 02); speech only by default.

    Raises:
        CorpusError: the folder is missing, holds no audio, or a file name is not RAVDESS's.
    """
    root = require_dir(root, "RAVDESS")
    files = require_audio(find_audio(root), root, "RAVDESS")
    utterances = []
    for path in files:
        f = parse_filename(path.name)
        if f["vocal_channel"] == "song" and not song:
            continue
        utterances.append(
            Utterance(
                id=path.stem,
                path=path,
                corpus=NAME,
                emotion=f["emotion"],
                corpus_label=f["emotion_code"],
                speaker=f"{NAME}-{f['actor']}",
                gender=f["gender"],
                intensity=f["intensity"],
                text_id=f["statement"],
                language=LANGUAGE,
                extra={
                    "vocal_channel": f["vocal_channel"],
                    "repetition": f["repetition"],
                    "modality": MODALITIES[f["modality"]],
                },
            )
        )
    if not utterances:
        raise CorpusError(
            f"no RAVDESS speech files under {str(root)!r} (only song files); pass song=True to load them"
        )
    return build_corpus(NAME, root, utterances, PUBLISHED_BOTH if song else PUBLISHED_SPEECH)


def complete_ids(*, song: bool = False) -> set[str]:
    """The file stems of the complete audio-only release (speech, and song if asked)."""
    ids = set()
    parts = [("01", tuple(EMOTIONS), ACTORS)]
    if song:
        parts.append(("02", SONG_EMOTIONS, SONG_ACTORS))
    for channel, emotions, actors in parts:
        for actor in actors:
            for emotion in emotions:
                for intensity in ("01",) if emotion == "01" else ("01", "02"):
                    for statement in STATEMENTS:
                        for rep in REPETITIONS:
                            ids.add(f"03-{channel}-{emotion}-{intensity}-{statement}-{rep}-{actor}")
    return ids


@expected_ids(NAME)
def _expected(corpus: Corpus) -> set[str]:
    return complete_ids(song=corpus.published is PUBLISHED_BOTH)
