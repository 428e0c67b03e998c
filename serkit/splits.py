"""Every evaluation protocol as a :class:`SplitPlan` of folds, saved and loaded as JSON.

A plan holds utterance ids only, so it can be written once (``folds.json``), read by the
training runner and checked against the corpus later. Every kind is deterministic from
``seed``: the same seed gives the same plan, id for id.

Kinds (see :data:`SPLITS`; ``make_split`` fills defaults and rejects options a kind does
not take):

==================  ==========================================================  ==============================================
kind                test side                                                   options (defaults)
==================  ==========================================================  ==============================================
holdout             stratified (per emotion) random ``test_fraction``           test_fraction=0.1, val_fraction=0.1, rounding="class"
kfold               stratified k-fold over utterances                           n_folds=5, val_fraction=0.1
speaker_kfold       speakers in ``n_folds`` groups, gender-balanced             n_folds=5, val_fraction=0.1
loso                one speaker per fold                                        val_fraction=0.1
loso_session        one ``Utterance.session`` per fold (IEMOCAP)                val_fraction=0.1
heldout_speakers    two speakers per fold, one female and one male              n_folds=None, speakers=None, val_fraction=0.1
loco                one ``Utterance.corpus`` per fold                           val_fraction=0.1
official            the corpus's released split (``Utterance.official_split``)  (none)
final               none: a release's final model trains on everything          val_fraction=0.1 (whole speakers)
==================  ==========================================================  ==============================================

Validation always comes from the training side, never from the test fold:

* random kinds (``holdout``, ``kfold``): a stratified ``val_fraction`` hold-out of the
  training utterances;
* speaker-independent kinds (``speaker_kfold``, ``loso``, ``loso_session``,
  ``heldout_speakers``, ``loco``): whole training speakers, ``val_fraction`` of them
  rounded, at least one, at most all but one, gender-interleaved, so validation is speaker
  independent too. Where a fold has a single training speaker (TESS with 2 folds) or
  speakers are unknown, validation falls back to a stratified utterance hold-out of the
  training side; the fold's ``notes`` and the plan's ``params["val_fallback_folds"]`` say
  so;
* ``official``: the released ``evaluation`` part.

``holdout`` rounds ``test_fraction`` of each emotion (``rounding="class"``, the default), so
the test side can be a clip or two off ``test_fraction`` of the corpus (EmoDB at 0.2: 106 of
535). ``rounding="total"`` holds out ``ceil(test_fraction · N)`` clips in all, shared among
the emotions in proportion (largest remainders, ties broken by the seed): the rule of
scikit-learn's ``train_test_split(..., stratify=y)`` (EmoDB at 0.2: 107, as the SpeechNet
paper's accuracies out of 107 clips imply).

``val_fraction=0`` gives folds without validation; the training engine then cannot
early-stop or choose a checkpoint and trains for its fixed number of epochs.

Example:
    >>> plan = make_split(corpus, "speaker_kfold", seed=0, n_folds=5)   # doctest: +SKIP
    >>> plan.save("runs/emodb/folds.json")                              # doctest: +SKIP
    >>> SplitPlan.load("runs/emodb/folds.json", corpus=corpus) == plan  # doctest: +SKIP
    True
"""

from __future__ import annotations

import json
import math
import os
import re
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from serkit.corpora.base import Utterance
from serkit.errors import SplitError
from serkit.fileio import atomic_write_text
from serkit.registry import Registry

__all__ = [
    "Fold",
    "SplitPlan",
    "SplitKind",
    "SPLITS",
    "make_split",
    "split_kinds",
]

#: Written into every plan file so a loader can tell a plan from any other JSON.
FORMAT = "serkit-split"
FORMAT_VERSION = 1

#: Released-split labels (``Utterance.official_split``) → fold side.
OFFICIAL_SIDES: dict[str, str] = {"train": "train", "evaluation": "val", "test": "test"}

_SIDES = ("train", "val", "test")


# --------------------------------------------------------------------------- data types


@dataclass(frozen=True)
class Fold:
    """One train/validation/test partition, as sorted utterance ids.

    ``notes`` are human-readable remarks on how the fold was made (e.g. a validation
    fallback); they are saved with the plan.
    """

    name: str
    train: tuple[str, ...]
    val: tuple[str, ...]
    test: tuple[str, ...]
    notes: tuple[str, ...] = ()

    def ids(self, side: str) -> tuple[str, ...]:
        """The ids of one side: ``"train"``, ``"val"`` or ``"test"``."""
        if side not in _SIDES:
            raise SplitError(f"fold side must be one of {', '.join(_SIDES)}, not {side!r}")
        return getattr(self, side)

    def select(self, utterances: Iterable[Utterance], side: str) -> list[Utterance]:
        """The utterances of one side, in the order given."""
        wanted = set(self.ids(side))
        return [u for u in utterances if u.id in wanted]

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "train": list(self.train),
            "val": list(self.val),
            "test": list(self.test),
            "notes": list(self.notes),
        }


@dataclass(frozen=True)
class SplitPlan:
    """The folds of one protocol, with the kind, seed and resolved options that made them."""

    kind: str
    seed: int
    params: dict[str, Any]
    folds: tuple[Fold, ...]

    def __len__(self) -> int:
        return len(self.folds)

    def __iter__(self):
        return iter(self.folds)

    def fold(self, name: str) -> Fold:
        """The fold called ``name``."""
        for f in self.folds:
            if f.name == name:
                return f
        names = ", ".join(f.name for f in self.folds)
        raise SplitError(f"split plan has no fold {name!r}; its folds are: {names}")

    # ---- JSON

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "kind": self.kind,
            "seed": self.seed,
            "params": self.params,
            "folds": [f.to_dict() for f in self.folds],
        }

    def to_json(self) -> str:
        """The plan as JSON text (stable: sorted ids, fixed key order)."""
        return json.dumps(self.to_dict(), indent=1, ensure_ascii=False) + "\n"

    def save(self, path: str | os.PathLike) -> Path:
        """Write the plan to ``path`` atomically (temp file, then rename); returns the path."""
        path = Path(path)
        atomic_write_text(path, self.to_json())
        return path

    @classmethod
    def from_json(cls, text: str, *, source: str = "split plan") -> "SplitPlan":
        """Parse JSON written by :meth:`to_json`.

        Raises:
            SplitError: the text is not a serkit split plan.
        """
        try:
            data = json.loads(text)
        except json.JSONDecodeError as e:
            raise SplitError(f"{source} is not valid JSON ({e}); write it with SplitPlan.save") from None
        return cls.from_dict(data, source=source)

    @classmethod
    def from_dict(cls, data: Any, *, source: str = "split plan") -> "SplitPlan":
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise SplitError(
                f"{source} is not a serkit split plan (expected a JSON object with "
                f"\"format\": {FORMAT!r}); make one with serkit.splits.make_split"
            )
        if data.get("version") != FORMAT_VERSION:
            raise SplitError(
                f"{source} has split plan version {data.get('version')!r}; this serkit reads "
                f"version {FORMAT_VERSION}"
            )
        try:
            folds = tuple(
                Fold(
                    name=str(f["name"]),
                    train=tuple(str(i) for i in f["train"]),
                    val=tuple(str(i) for i in f["val"]),
                    test=tuple(str(i) for i in f["test"]),
                    notes=tuple(str(n) for n in f.get("notes", ())),
                )
                for f in data["folds"]
            )
            plan = cls(str(data["kind"]), int(data["seed"]), dict(data["params"]), folds)
        except (KeyError, TypeError, ValueError) as e:
            raise SplitError(
                f"{source} is a damaged split plan ({type(e).__name__}: {e}); "
                "make it again with serkit.splits.make_split"
            ) from None
        for f in plan.folds:
            _check_disjoint(f, source)
        return plan

    @classmethod
    def load(cls, path: str | os.PathLike, *, corpus: Iterable[Utterance] | None = None) -> "SplitPlan":
        """Read a plan saved with :meth:`save`; with ``corpus``, also :meth:`check` its ids.

        Raises:
            SplitError: the file is missing, not a plan, or names ids the corpus lacks.
        """
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as e:
            raise SplitError(f"cannot read split plan {str(path)!r}: {e.strerror or e}") from None
        plan = cls.from_json(text, source=f"split plan {str(path)!r}")
        if corpus is not None:
            plan.check(corpus)
        return plan

    def check(self, corpus: Iterable[Utterance]) -> None:
        """Raise if any fold names an utterance id the corpus (or utterance list) lacks.

        Raises:
            SplitError: naming the first unknown ids and how many there are.
        """
        known = {u.id for u in corpus}
        unknown = sorted(
            {i for f in self.folds for side in _SIDES for i in getattr(f, side)} - known
        )
        if unknown:
            name = getattr(corpus, "name", None)
            where = f"corpus {name!r}" if name else "the given utterances"
            shown = ", ".join(repr(i) for i in unknown[:5]) + (", ..." if len(unknown) > 5 else "")
            raise SplitError(
                f"{self.kind} split plan names {len(unknown)} utterance id(s) not in {where} "
                f"({shown}); was it made for another corpus, label scheme or version? "
                "Make the split again with make_split"
            )


def _check_disjoint(fold: Fold, source: str) -> None:
    sides = {s: set(getattr(fold, s)) for s in _SIDES}
    for a, b in (("train", "val"), ("train", "test"), ("val", "test")):
        both = sides[a] & sides[b]
        if both:
            raise SplitError(
                f"{source}: fold {fold.name!r} has {len(both)} id(s) in both {a} and {b} "
                f"(e.g. {min(both)!r}); the plan is damaged, make it again"
            )


# --------------------------------------------------------------------------- registry


@dataclass(frozen=True)
class SplitKind:
    """A split protocol: a builder and the options it takes, with their defaults.

    ``build(utterances, rng, **options) -> (folds, extra_params)`` gets utterances sorted by
    id, a seeded ``numpy.random.Generator`` and every option resolved.
    """

    build: Callable[..., tuple[list[Fold], dict[str, Any]]]
    defaults: Mapping[str, Any] = field(default_factory=dict)
    speaker_independent: bool = False
    summary: str = ""


#: name → SplitKind. Unknown names get "did you mean".
SPLITS: Registry[SplitKind] = Registry("split kind", params_of=lambda kind: kind.defaults)


def split_kinds() -> list[str]:
    """The names of every split kind."""
    return SPLITS.names()


def make_split(
    utterances: Iterable[Utterance],
    kind: str,
    *,
    seed: int,
    n_folds: int | None = None,
    test_fraction: float | None = None,
    val_fraction: float | None = None,
    speakers: Sequence[Sequence[str]] | None = None,
    rounding: str | None = None,
    test_corpora: Sequence[str] | None = None,
    val_by: str | None = None,
) -> SplitPlan:
    """Split utterances into folds with one of the :data:`SPLITS` protocols.

    Args:
        utterances: a Corpus or any iterable of Utterance (ids must be unique).
        kind: a split kind, e.g. ``"speaker_kfold"``; see the module docstring.
        seed: makes the plan; the same seed gives the same plan.
        n_folds: number of folds (kfold, speaker_kfold, heldout_speakers).
        test_fraction: share of each emotion held out for test (holdout), in (0, 1).
        val_fraction: share of the training side held out for validation, in [0, 1);
            of training *speakers* for speaker-independent kinds; 0 means no validation.
        speakers: heldout_speakers only: the test speakers of each fold, e.g.
            ``[["emodb-03", "emodb-08"], ["emodb-10", "emodb-09"]]``.
        rounding: holdout only: ``"class"`` (default) rounds ``test_fraction`` of each
            emotion; ``"total"`` holds out ``ceil(test_fraction · N)`` utterances in all,
            shared among emotions in proportion (scikit-learn's stratified rule).
        test_corpora: loco only: leave out only these corpora, one fold each (a zero-shot
            test of a model trained on the others); default every corpus in turn.
        val_by: loco only: ``"speaker"`` (default: whole training speakers validate) or
            ``"utterance"`` (a stratified share of the training utterances).

    Returns:
        A SplitPlan whose folds are disjoint, each covering every utterance, ids sorted.

    Raises:
        ConfigError: unknown kind (with the closest known name).
        SplitError: an option the kind does not take, a value out of range, or data that
            cannot be split that way (more folds than speakers, a class too small to
            stratify, no session or corpus information, ...).

    Example:
        >>> plan = make_split(corpus, "holdout", seed=0, test_fraction=0.1)  # doctest: +SKIP
    """
    spec = SPLITS.get(kind)
    given = {
        k: v
        for k, v in {
            "n_folds": n_folds,
            "test_fraction": test_fraction,
            "val_fraction": val_fraction,
            "speakers": speakers,
            "rounding": rounding,
            "test_corpora": None if test_corpora is None else list(test_corpora),
            "val_by": val_by,
        }.items()
        if v is not None
    }
    SPLITS.check_params(kind, given)
    _check_seed(seed)
    params = {**spec.defaults, **given}
    if params.get("n_folds") is not None:
        params["n_folds"] = _check_n_folds(params["n_folds"], kind)
    if "test_fraction" in params:
        params["test_fraction"] = _check_fraction(params["test_fraction"], "test_fraction", zero_ok=False)
    if "val_fraction" in params:
        params["val_fraction"] = _check_fraction(params["val_fraction"], "val_fraction", zero_ok=True)
    if params.get("speakers") is not None:
        params["speakers"] = _check_speaker_groups(params["speakers"])
    if "rounding" in params and params["rounding"] not in ROUNDINGS:
        raise SplitError(f"rounding must be one of {', '.join(repr(r) for r in ROUNDINGS)}, "
                         f"not {params['rounding']!r}")

    utts = _prepare(utterances, kind)
    rng = np.random.default_rng(seed)
    folds, more = spec.build(utts, rng, **params)
    params.update(more)
    params["n_utterances"] = len(utts)
    # JSON-native params (lists, not tuples) so a saved and loaded plan compares equal.
    params = json.loads(json.dumps(params))
    return SplitPlan(kind, int(seed), params, tuple(folds))


# --------------------------------------------------------------------------- checks


def _check_seed(seed: Any) -> None:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= seed < 2**32:
        raise SplitError(f"seed must be an integer in [0, 2**32), not {seed!r}")


def _check_n_folds(n: Any, kind: str) -> int:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
        raise SplitError(f"n_folds must be an integer ≥ 2, not {n!r}")
    if n < 2:
        raise SplitError(f"{kind} needs n_folds ≥ 2, not {n}; for a single split use kind 'holdout'")
    return int(n)


def _check_fraction(x: Any, name: str, *, zero_ok: bool) -> float:
    lo = "[0" if zero_ok else "(0"
    if isinstance(x, bool) or not isinstance(x, (int, float, np.floating, np.integer)):
        raise SplitError(f"{name} must be a number in {lo}, 1), not {x!r}")
    x = float(x)
    if not (0 <= x < 1) or (x == 0 and not zero_ok):
        hint = " (0 means no validation)" if zero_ok else ""
        raise SplitError(f"{name} must be in {lo}, 1){hint}, not {x}; e.g. 0.1 for 10%")
    return x


def _check_speaker_groups(groups: Any) -> list[list[str]]:
    example = 'e.g. [["emodb-03", "emodb-08"], ["emodb-10", "emodb-09"]]'
    if isinstance(groups, (str, bytes)) or not isinstance(groups, Sequence) or not groups:
        raise SplitError(f"speakers must be a non-empty list of speaker groups, {example}; not {groups!r}")
    out = []
    for g in groups:
        if isinstance(g, str) or not isinstance(g, Sequence) or not g or not all(isinstance(s, str) for s in g):
            raise SplitError(
                f"speakers must be a list of speaker groups (lists of speaker names), {example}; "
                f"got the group {g!r}"
            )
        if len(set(g)) != len(g):
            raise SplitError(f"speaker group {list(g)!r} names a speaker twice")
        out.append(sorted(g))
    return out


def _prepare(utterances: Iterable[Utterance], kind: str) -> list[Utterance]:
    utts = sorted(utterances, key=lambda u: u.id)
    if not utts:
        raise SplitError(f"cannot make a {kind} split of no utterances; is the corpus (or label scheme) empty?")
    dup = [i for i, n in Counter(u.id for u in utts).items() if n > 1]
    if dup:
        raise SplitError(
            f"utterance ids must be unique to split, but {len(dup)} repeat (e.g. {sorted(dup)[0]!r}); "
            "merge corpora with serkit.corpora.merge_corpora, which prefixes ids"
        )
    return utts


def _corpus_name(utts: Sequence[Utterance]) -> str:
    names = sorted({u.corpus for u in utts})
    return names[0] if len(names) == 1 else "the data"


def _need_speakers(utts: Sequence[Utterance], kind: str) -> list[str]:
    missing = [u.id for u in utts if u.speaker is None]
    if missing:
        raise SplitError(
            f"{kind} needs a speaker for every utterance, but {len(missing)} of {len(utts)} have none "
            f"(e.g. {missing[0]!r}); use a random split ('holdout' or 'kfold')"
        )
    return sorted({u.speaker for u in utts})  # type: ignore[misc]


def _speaker_genders(utts: Sequence[Utterance]) -> dict[str, str | None]:
    genders: dict[str, set] = defaultdict(set)
    for u in utts:
        genders[u.speaker].add(u.gender)
    out = {}
    for s, gs in genders.items():
        known = gs - {None}
        if len(known) > 1:
            raise SplitError(f"speaker {s!r} has utterances labelled with several genders ({sorted(known)}); fix the corpus")
        out[s] = next(iter(known)) if known else None
    return out


# --------------------------------------------------------------------------- building blocks


def _fold(name: str, train: Iterable[str], val: Iterable[str], test: Iterable[str], notes: Iterable[str] = ()) -> Fold:
    return Fold(_safe_name(name), tuple(sorted(train)), tuple(sorted(val)), tuple(sorted(test)), tuple(notes))


def _safe_name(name: str) -> str:
    """Fold names become folder names (``fold=<name>``): keep them path-safe."""
    return re.sub(r"[^A-Za-z0-9._+-]", "_", name)


def _round_share(fraction: float, n: int) -> int:
    # Round half up; Python's round() rounds half to even, which surprises on 0.5.
    return int(fraction * n + 0.5)


#: How ``holdout`` rounds the test side: per emotion, or in total (see the module docstring).
ROUNDINGS = ("class", "total")


def _total_shares(sizes: Mapping[str, int], fraction: float, rng: np.random.Generator) -> dict[str, int]:
    """How many of each class to take so that ``ceil(fraction · N)`` are taken in all.

    Each class gets the floor of its proportional share; the clips left over go to the
    classes with the largest remainders, ties broken at random (scikit-learn's
    ``_approximate_mode``, which ``train_test_split(stratify=...)`` uses).
    """
    n = sum(sizes.values())
    total = math.ceil(fraction * n - 1e-9)  # a product that should be whole may come out a hair above it
    labels = sorted(sizes)
    exact = np.array([total * sizes[c] / n for c in labels])
    counts = np.floor(exact + 1e-9).astype(int)
    left = total - int(counts.sum())
    if left > 0:
        remainders = exact - counts
        order = rng.permutation(len(labels))  # random tie-breaking, then largest remainder first
        order = order[np.argsort(-remainders[order], kind="stable")]
        counts[order[:left]] += 1
    return dict(zip(labels, (int(k) for k in counts)))


def _stratified_take(
    utts: Sequence[Utterance], fraction: float, rng: np.random.Generator, *, strict: bool, what: str,
    rounding: str = "class",
) -> tuple[list[str], list[str]]:
    """Take ``fraction`` of each emotion (at least one, never all) → (taken ids, rest ids).

    ``strict``: a class with a single utterance is an error (a test side must hold every
    class); otherwise such a class stays wholly in the rest (validation is only for
    early stopping). ``rounding="total"``: ``ceil(fraction · N)`` in all (:func:`_total_shares`).
    """
    by_class: dict[str, list[str]] = defaultdict(list)
    for u in utts:
        by_class[u.emotion].append(u.id)
    shares = (_total_shares({c: len(v) for c, v in by_class.items()}, fraction, rng)
              if rounding == "total" else None)
    taken: list[str] = []
    rest: list[str] = []
    for label in sorted(by_class):
        ids = sorted(by_class[label])
        n = len(ids)
        if n < 2:
            if strict:
                raise SplitError(
                    f"class {label!r} has {n} utterance, too few to stratify a {what} (needs 2); "
                    "drop it with a label scheme or use more data"
                )
            rest.extend(ids)
            continue
        k = min(max(_round_share(fraction, n) if shares is None else shares[label], 1), n - 1)
        order = rng.permutation(n)
        taken.extend(ids[i] for i in order[:k])
        rest.extend(ids[i] for i in order[k:])
    return taken, rest


def _gender_interleaved(speakers: Sequence[str], genders: Mapping[str, str | None], rng: np.random.Generator) -> list[str]:
    """Speakers shuffled within each gender, then alternated female, male, (unknown), ..."""
    groups: dict[str, list[str]] = defaultdict(list)
    for s in sorted(speakers):
        groups[genders.get(s) or "~unknown"].append(s)
    shuffled = [[g[i] for i in rng.permutation(len(g))] for _, g in sorted(groups.items())]
    out = []
    for i in range(max(len(g) for g in shuffled)):
        out.extend(g[i] for g in shuffled if i < len(g))
    return out


#: How a note of :func:`_validation` starts when speaker validation fell back to utterances.
_FALLBACK_NOTE = "validation is not speaker-independent"


def _fell_back(notes: Sequence[str]) -> bool:
    """Whether :func:`_validation`'s notes say it held out utterances, not speakers."""
    return any(n.startswith(_FALLBACK_NOTE) for n in notes)


def _validation(
    train: Sequence[Utterance],
    rng: np.random.Generator,
    val_fraction: float,
    *,
    by_speaker: bool,
) -> tuple[list[str], list[str], list[str]]:
    """Split the training side into (train ids, val ids, notes)."""
    if val_fraction == 0:
        return [u.id for u in train], [], []
    if by_speaker:
        speakers = sorted({u.speaker for u in train if u.speaker is not None})
        unknown = any(u.speaker is None for u in train)
        if len(speakers) >= 2 and not unknown:
            n_val = min(max(_round_share(val_fraction, len(speakers)), 1), len(speakers) - 1)
            chosen = set(_gender_interleaved(speakers, _speaker_genders(train), rng)[:n_val])
            return (
                [u.id for u in train if u.speaker not in chosen],
                [u.id for u in train if u.speaker in chosen],
                [f"validation speakers: {', '.join(sorted(chosen))}"],
            )
        why = (
            "some training utterances have no speaker"
            if unknown
            else f"only one training speaker ({speakers[0]})"
        )
        note = (
            f"{_FALLBACK_NOTE}: {why}, so it is a stratified "
            f"{val_fraction:g} utterance hold-out of the training side"
        )
    else:
        note = ""
    val, rest = _stratified_take(train, val_fraction, rng, strict=False, what="validation set")
    return rest, val, [note] if note else []


def _group_folds(
    utts: Sequence[Utterance],
    rng: np.random.Generator,
    groups: Sequence[tuple[str, set]],
    key: Callable[[Utterance], Any],
    val_fraction: float,
    *,
    val_by_speaker: bool = True,
) -> tuple[list[Fold], dict[str, Any]]:
    """One fold per (name, test keys): test = utterances whose key is in the set."""
    folds = []
    fallback = []
    for name, test_keys in groups:
        test = [u.id for u in utts if key(u) in test_keys]
        train_side = [u for u in utts if key(u) not in test_keys]
        train, val, notes = _validation(train_side, rng, val_fraction, by_speaker=val_by_speaker)
        notes = [f"test: {', '.join(sorted(map(str, test_keys)))}"] + notes
        if _fell_back(notes):
            fallback.append(_safe_name(name))
        folds.append(_fold(name, train, val, test, notes))
    val_by = "none" if val_fraction == 0 else "speaker" if val_by_speaker else "utterance"
    extra: dict[str, Any] = {"val_by": val_by}
    if fallback:
        extra["val_fallback_folds"] = fallback
    return folds, extra


# --------------------------------------------------------------------------- kinds


def _holdout(utts, rng, *, test_fraction: float, val_fraction: float, rounding: str = "class"):
    test, train_side_ids = _stratified_take(utts, test_fraction, rng, strict=True, what="test set",
                                            rounding=rounding)
    keep = set(train_side_ids)
    train, val, notes = _validation([u for u in utts if u.id in keep], rng, val_fraction, by_speaker=False)
    return [_fold("holdout", train, val, test, notes)], {"val_by": "utterance" if val_fraction > 0 else "none"}


def _kfold(utts, rng, *, n_folds: int, val_fraction: float):
    from sklearn.model_selection import StratifiedKFold

    counts = Counter(u.emotion for u in utts)
    small = sorted((n, c) for c, n in counts.items() if n < n_folds)
    if small:
        n, label = small[0]
        raise SplitError(
            f"class {label!r} has {n} utterance(s), fewer than the {n_folds} folds of a stratified "
            f"kfold; use n_folds ≤ {n} or drop the class with a label scheme"
        )
    y = np.array([u.emotion for u in utts])
    skf = StratifiedKFold(n_splits=n_folds, shuffle=True, random_state=int(rng.integers(2**32 - 1)))
    folds = []
    for k, (train_idx, test_idx) in enumerate(skf.split(np.zeros(len(utts)), y)):
        train, val, notes = _validation([utts[i] for i in train_idx], rng, val_fraction, by_speaker=False)
        folds.append(_fold(str(k), train, val, [utts[i].id for i in test_idx], notes))
    return folds, {"val_by": "utterance" if val_fraction > 0 else "none"}


def _speaker_kfold(utts, rng, *, n_folds: int, val_fraction: float):
    speakers = _need_speakers(utts, "speaker_kfold")
    if n_folds > len(speakers):
        raise SplitError(
            f"speaker_kfold with {n_folds} folds needs at least {n_folds} speakers; "
            f"{_corpus_name(utts)} has {len(speakers)}: use n_folds ≤ {len(speakers)} or a random split ('kfold')"
        )
    # Dealing speakers round-robin after ordering them female..., male..., unknown...
    # spreads each gender evenly and keeps fold sizes within one speaker.
    genders = _speaker_genders(utts)
    by_gender: dict[str, list[str]] = defaultdict(list)
    for s in speakers:
        by_gender[genders[s] or "~unknown"].append(s)
    order = [s for _, g in sorted(by_gender.items()) for s in (g[i] for i in rng.permutation(len(g)))]
    groups: list[set] = [set() for _ in range(n_folds)]
    for i, s in enumerate(order):
        groups[i % n_folds].add(s)
    named = [(str(k), g) for k, g in enumerate(groups)]
    folds, extra = _group_folds(utts, rng, named, lambda u: u.speaker, val_fraction)
    extra["test_speakers"] = [sorted(g) for g in groups]
    return folds, extra


def _loso(utts, rng, *, val_fraction: float):
    speakers = _need_speakers(utts, "loso")
    if len(speakers) < 2:
        raise SplitError(
            f"loso needs at least 2 speakers; {_corpus_name(utts)} has {len(speakers)}: use a random split ('kfold')"
        )
    return _group_folds(utts, rng, [(s, {s}) for s in speakers], lambda u: u.speaker, val_fraction)


def _loso_session(utts, rng, *, val_fraction: float):
    missing = [u.id for u in utts if u.session is None]
    if missing:
        raise SplitError(
            f"loso_session needs Utterance.session, but {len(missing)} of {len(utts)} utterances have none "
            f"(e.g. {missing[0]!r}); {_corpus_name(utts)} has no sessions: use 'loso' or 'speaker_kfold'"
        )
    sessions = sorted({u.session for u in utts})
    if len(sessions) < 2:
        raise SplitError(f"loso_session needs at least 2 sessions; the data has only {sessions[0]!r}")
    # A speaker recorded in two sessions would leak across folds; say so rather than hide it.
    by_speaker: dict[str, set] = defaultdict(set)
    for u in utts:
        if u.speaker is not None:
            by_speaker[u.speaker].add(u.session)
    shared = sorted(s for s, ss in by_speaker.items() if len(ss) > 1)
    if shared:
        raise SplitError(
            f"loso_session is not speaker-independent here: {len(shared)} speaker(s) appear in several "
            f"sessions (e.g. {shared[0]!r}); use 'speaker_kfold' or 'loso'"
        )
    return _group_folds(utts, rng, [(s, {s}) for s in sessions], lambda u: u.session, val_fraction)


def _heldout_speakers(utts, rng, *, n_folds: int | None, speakers: list[list[str]] | None, val_fraction: float):
    all_speakers = _need_speakers(utts, "heldout_speakers")
    corpus = _corpus_name(utts)
    if speakers is not None:
        if n_folds is not None:
            raise SplitError("heldout_speakers takes either speakers (explicit groups) or n_folds, not both")
        known = set(all_speakers)
        for g in speakers:
            bad = [s for s in g if s not in known]
            if bad:
                close = ", ".join(all_speakers[:12]) + (", ..." if len(all_speakers) > 12 else "")
                raise SplitError(f"heldout_speakers: unknown speaker(s) {', '.join(map(repr, bad))}; {corpus} has: {close}")
        groups = [list(g) for g in speakers]
        how = "explicit"
    else:
        genders = _speaker_genders(utts)
        female = sorted(s for s in all_speakers if genders[s] == "female")
        male = sorted(s for s in all_speakers if genders[s] == "male")
        n_pairs = min(len(female), len(male))
        wanted = n_folds if n_folds is not None else n_pairs
        if n_pairs == 0 or wanted > n_pairs:
            raise SplitError(
                f"heldout_speakers with {wanted or 1} fold(s) tests one female and one male speaker per fold, "
                f"so it needs {wanted or 1} of each; {corpus} has {len(female)} female and {len(male)} male "
                f"(speakers without gender do not count): use fewer folds, explicit speakers=[[...], ...], "
                f"or 'speaker_kfold'"
            )
        female = [female[i] for i in rng.permutation(len(female))]
        male = [male[i] for i in rng.permutation(len(male))]
        groups = [[female[k], male[k]] for k in range(wanted)]
        how = "one female and one male speaker per fold, paired at random"
    for g in groups:
        # (also the automatic pair of a corpus of one woman and one man)
        if len(set(g)) == len(all_speakers):
            raise SplitError(f"heldout_speakers group {sorted(g)!r} holds every speaker, leaving none to train on")
    named = [("+".join(sorted(g)), set(g)) for g in groups]
    folds, extra = _group_folds(utts, rng, named, lambda u: u.speaker, val_fraction)
    extra.update({"test_speakers": [sorted(g) for g in groups], "pairing": how})
    return folds, extra


def _loco(utts, rng, *, val_fraction: float, test_corpora: list[str] | None, val_by: str):
    corpora = sorted({u.corpus for u in utts})
    if len(corpora) < 2:
        raise SplitError(
            f"loco (leave one corpus out) needs utterances from at least 2 corpora; got only {corpora[0]!r}: "
            "merge corpora with serkit.corpora.merge_corpora, or use another split kind"
        )
    if val_by not in ("speaker", "utterance"):
        raise SplitError(f"loco: val_by must be 'speaker' or 'utterance', not {val_by!r}")
    # test_corpora: only these corpora are left out, one fold each (a zero-shot test of a
    # model trained on the others); None: every corpus in turn.
    tested = corpora if test_corpora is None else [str(c) for c in test_corpora]
    unknown = sorted(set(tested) - set(corpora))
    if unknown or not tested:
        raise SplitError(
            f"loco: test_corpora must name corpora of the experiment ({', '.join(corpora)}), not {unknown or tested}; "
            "add them to data.corpora or leave test_corpora out"
        )
    return _group_folds(utts, rng, [(c, {c}) for c in sorted(set(tested))], lambda u: u.corpus, val_fraction,
                        val_by_speaker=val_by == "speaker")


def _final(utts, rng, *, val_fraction: float):
    # The final model of a release trains on everything; whole speakers (where known) are
    # held out only to choose its checkpoint. There is no test side to score.
    train, val, notes = _validation(utts, rng, val_fraction, by_speaker=True)
    # The speaker hold-out notes its speakers too: only the fallback note means utterances.
    val_by = "none" if val_fraction == 0 else "utterance" if _fell_back(notes) else "speaker"
    return [_fold("final", train, val, [], notes)], {"val_by": val_by}


def _official(utts, rng):
    missing = [u.id for u in utts if u.official_split is None]
    if missing:
        raise SplitError(
            f"official split needs Utterance.official_split, but {len(missing)} of {len(utts)} utterances "
            f"have none (e.g. {missing[0]!r}); {_corpus_name(utts)} has no released split: use another kind"
        )
    odd = sorted({u.official_split for u in utts} - set(OFFICIAL_SIDES))
    if odd:
        raise SplitError(
            f"official_split must be one of {', '.join(OFFICIAL_SIDES)}, not {odd[0]!r}"
        )
    sides: dict[str, list[str]] = {s: [] for s in _SIDES}
    for u in utts:
        sides[OFFICIAL_SIDES[u.official_split]].append(u.id)  # type: ignore[index]
    for side in ("train", "test"):
        if not sides[side]:
            raise SplitError(f"official split has no {side} utterances; is the corpus complete?")
    return [_fold("official", sides["train"], sides["val"], sides["test"])], {
        "val_by": "official" if sides["val"] else "none"
    }


def _register(name: str, build, defaults: dict[str, Any], *, speaker_independent: bool, summary: str) -> None:
    SPLITS.register(name, SplitKind(build, defaults, speaker_independent, summary))


_register("holdout", _holdout, {"test_fraction": 0.1, "val_fraction": 0.1, "rounding": "class"},
          speaker_independent=False,
          summary="stratified random train/val/test hold-out (per emotion)")
_register("kfold", _kfold, {"n_folds": 5, "val_fraction": 0.1}, speaker_independent=False,
          summary="stratified k-fold over utterances")
_register("speaker_kfold", _speaker_kfold, {"n_folds": 5, "val_fraction": 0.1}, speaker_independent=True,
          summary="speaker-independent k-fold, speakers gender-balanced across folds")
_register("loso", _loso, {"val_fraction": 0.1}, speaker_independent=True,
          summary="leave one speaker out")
_register("loso_session", _loso_session, {"val_fraction": 0.1}, speaker_independent=True,
          summary="leave one session out (Utterance.session)")
_register("heldout_speakers", _heldout_speakers, {"n_folds": None, "speakers": None, "val_fraction": 0.1},
          speaker_independent=True, summary="two held-out test speakers per fold, one of each gender")
_register("loco", _loco, {"val_fraction": 0.1, "test_corpora": None, "val_by": "speaker"}, speaker_independent=True,
          summary="leave one corpus out (Utterance.corpus)")
_register("final", _final, {"val_fraction": 0.1}, speaker_independent=False,
          summary="no test side: train on everything but whole validation speakers (a release's final model)")
_register("official", _official, {}, speaker_independent=False,
          summary="the corpus's released train/evaluation/test split (ESD)")
