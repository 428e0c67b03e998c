"""Utterance and Corpus: what every corpus loader returns."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from serkit.audio import AUDIO_EXTENSIONS, find_audio  # noqa: F401  (the loaders' discovery)
from serkit.errors import CorpusError
from serkit.labels import LabelScheme, get_scheme
from serkit.registry import Registry


@dataclass(frozen=True)
class Utterance:
    """One labelled recording.

    Fields a corpus does not define stay ``None``. ``speaker`` is prefixed with the corpus
    (``"ravdess-12"``) so speakers of different corpora never collide.
    """

    id: str
    path: Path
    corpus: str
    emotion: str  # canonical emotion, see serkit.labels.EMOTIONS
    corpus_label: str  # the corpus's own label code, e.g. "W" for EmoDB anger
    speaker: str | None = None
    gender: str | None = None  # "female" | "male"
    intensity: str | None = None  # e.g. RAVDESS "normal" | "strong"
    text_id: str | None = None
    language: str | None = None  # ISO 639-1, e.g. "de"
    session: str | None = None  # IEMOCAP session, e.g. "Ses01"
    official_split: str | None = None  # a corpus's released split, e.g. ESD "train"
    duration_s: float | None = None
    extra: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class PublishedCounts:
    """What a corpus's documentation says a complete copy holds."""

    utterances: int
    speakers: int
    labels: Mapping[str, int] | None = None  # canonical emotion → count


@dataclass
class Corpus:
    """A loaded corpus: a name, its root folder and its utterances (sorted by id)."""

    name: str
    root: Path
    utterances: list[Utterance]
    published: PublishedCounts | None = None

    def __len__(self) -> int:
        return len(self.utterances)

    def __iter__(self):
        return iter(self.utterances)

    @property
    def speakers(self) -> list[str]:
        return sorted({u.speaker for u in self.utterances if u.speaker is not None})

    def label_counts(self) -> dict[str, int]:
        return dict(sorted(Counter(u.emotion for u in self.utterances).items()))

    def with_scheme(self, scheme: str | LabelScheme) -> "Corpus":
        """A copy keeping the utterances the scheme uses, ``emotion`` set to its class label."""
        scheme = get_scheme(scheme)
        kept = [
            replace(u, emotion=label)
            for u in self.utterances
            if (label := scheme.label_of(u.emotion)) is not None
        ]
        return Corpus(self.name, self.root, kept, None)

    def filter(self, keep: Callable[[Utterance], bool]) -> "Corpus":
        return Corpus(self.name, self.root, [u for u in self.utterances if keep(u)], None)


def utterance_from_fields(
    fields: Mapping[str, str], *, id: str, path: Path, corpus: str, language: str | None, **more
) -> Utterance:
    """An Utterance from a file-name parser's fields.

    ``fields`` holds at least ``code`` (the corpus label), ``emotion`` and ``speaker`` (the
    corpus's own speaker code, prefixed here with the corpus), and optionally ``gender``
    and ``text_id``; ``more`` sets or overrides any other Utterance field.
    """
    return Utterance(
        id=id,
        path=path,
        corpus=corpus,
        emotion=fields["emotion"],
        corpus_label=fields["code"],
        speaker=f"{corpus}-{fields['speaker']}",
        gender=more.pop("gender", fields.get("gender")),
        text_id=more.pop("text_id", fields.get("text_id")),
        language=language,
        **more,
    )


def merge_corpora(corpora: Iterable[Corpus], *, name: str | None = None) -> Corpus:
    """One corpus holding the utterances of several (ids are prefixed with each corpus)."""
    corpora = list(corpora)
    utterances = [replace(u, id=f"{c.name}/{u.id}") for c in corpora for u in c.utterances]
    root = corpora[0].root if len(corpora) == 1 else Path(".")
    return Corpus(name or "+".join(c.name for c in corpora), root, utterances, None)


def require_dir(root: str | Path, corpus: str) -> Path:
    """The corpus root as a Path, or a CorpusError saying it is missing."""
    root = Path(root).expanduser()
    if not root.is_dir():
        raise CorpusError(
            f"{corpus} folder {str(root)!r} does not exist or is not a folder; "
            f"pass the folder that holds the {corpus} audio"
        )
    return root


def require_audio(files: list[Path], root: Path, corpus: str) -> list[Path]:
    if not files:
        raise CorpusError(
            f"no audio files ({', '.join(e.lstrip('.') for e in AUDIO_EXTENSIONS)}) under "
            f"{str(root)!r}; is this the {corpus} folder?"
        )
    return files


#: name → loader(root, **options) -> Corpus. Filled by the corpus modules.
LOADERS: Registry[Callable[..., Corpus]] = Registry("corpus", plural="corpora")
