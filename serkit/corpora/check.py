"""Checks on a loaded corpus: assembling it, and comparing it with its published counts.

``check_corpus`` gives the summary behind ``serkit corpora check``; differences from the
published counts are *warnings* (a public copy missing two files is still usable), never
errors. ``format_check`` turns the summary into the human-readable text the CLI prints.
"""

from __future__ import annotations

import logging
import statistics
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path

import soundfile as sf

from serkit.audio import audio_duration_s
from serkit.corpora.base import Corpus, PublishedCounts, Utterance
from serkit.errors import AudioError, CorpusError

logger = logging.getLogger(__name__)

#: corpus name → function giving the utterance ids a complete copy holds (where the
#: corpora's documentation makes that list determinable). Filled by the corpus modules.
EXPECTED_IDS: dict[str, Callable[[Corpus], set[str]]] = {}

#: At most this many ids are named in one warning; the rest are counted.
MAX_NAMED = 10


def expected_ids(name: str) -> Callable[[Callable[[Corpus], set[str]]], Callable[[Corpus], set[str]]]:
    """Register the function listing the ids of a complete copy of corpus ``name``."""

    def add(func: Callable[[Corpus], set[str]]) -> Callable[[Corpus], set[str]]:
        EXPECTED_IDS[name] = func
        return func

    return add


def build_corpus(
    name: str,
    root: Path,
    utterances: Iterable[Utterance],
    published: PublishedCounts | None = None,
) -> Corpus:
    """A Corpus with its utterances sorted by id.

    Raises:
        CorpusError: two files give the same utterance id (e.g. the same recording in two
            layouts, or a ``.wav`` and a ``.flac`` of one file).
    """
    by_id: dict[str, Utterance] = {}
    for u in utterances:
        if u.id in by_id:
            raise CorpusError(
                f"{name}: two files give the utterance id {u.id!r}: "
                f"{str(by_id[u.id].path)!r} and {str(u.path)!r}; keep one of them"
            )
        by_id[u.id] = u
    return Corpus(name, root, [by_id[k] for k in sorted(by_id)], published)


def check_corpus(corpus: Corpus, *, durations: bool = True) -> dict:
    """A JSON-ready summary of ``corpus`` and its differences from the published counts.

    Args:
        corpus: a loaded corpus.
        durations: read every file's header for its duration and sample rate (about
            0.1 ms a file); off, ``duration_s`` and ``sample_rates`` stay empty.

    Returns:
        A dict with ``corpus``, ``root``, ``utterances``, ``speakers`` (count),
        ``speaker_list``, ``labels`` (canonical emotion → count), ``corpus_labels``,
        ``genders`` (gender → utterance count, ``"unknown"`` for None), ``languages``,
        ``official_splits``, ``sample_rates`` (rate → file count), ``duration_s``
        (``min``/``mean``/``max``/``total``, or None), ``unreadable`` (files whose
        header could not be read), ``published`` (the published counts or None),
        ``differences`` (``utterances``, ``speakers`` and per-label ``labels``: loaded
        minus published), ``missing`` / ``extra`` (ids absent from / unexpected in a
        complete copy, where the corpus makes that list determinable, else None) and
        ``warnings`` (one line each).
    """
    utts = corpus.utterances
    labels = corpus.label_counts()
    summary: dict = {
        "corpus": corpus.name,
        "root": str(corpus.root),
        "utterances": len(utts),
        "speakers": len(corpus.speakers),
        "speaker_list": corpus.speakers,
        "labels": labels,
        "corpus_labels": _counts(u.corpus_label for u in utts),
        "genders": _counts(u.gender or "unknown" for u in utts),
        "languages": _counts(u.language or "unknown" for u in utts),
        "official_splits": _counts(u.official_split for u in utts if u.official_split),
        "sample_rates": {},
        "duration_s": None,
        "unreadable": [],
    }
    if durations:
        rates: Counter[int] = Counter()
        lengths: list[float] = []
        for u in utts:
            try:
                info = _header(u)
            except AudioError as exc:
                summary["unreadable"].append(str(exc))
                continue
            rates[info[0]] += 1
            lengths.append(info[1])
        summary["sample_rates"] = {str(r): n for r, n in sorted(rates.items())}
        if lengths:
            summary["duration_s"] = {
                "min": round(min(lengths), 4),
                "mean": round(statistics.fmean(lengths), 4),
                "max": round(max(lengths), 4),
                "total": round(sum(lengths), 3),
            }

    warnings: list[str] = [f"unreadable audio: {m}" for m in summary["unreadable"][:MAX_NAMED]]
    pub = corpus.published
    summary["published"] = None
    summary["differences"] = None
    summary["missing"] = None
    summary["extra"] = None
    if pub is not None:
        summary["published"] = {
            "utterances": pub.utterances,
            "speakers": pub.speakers,
            "labels": dict(pub.labels) if pub.labels is not None else None,
        }
        diff_labels = {}
        if pub.labels is not None:
            for label in sorted(set(pub.labels) | set(labels)):
                d = labels.get(label, 0) - pub.labels.get(label, 0)
                if d:
                    diff_labels[label] = d
        summary["differences"] = {
            "utterances": len(utts) - pub.utterances,
            "speakers": len(corpus.speakers) - pub.speakers,
            "labels": diff_labels,
        }
        if len(utts) != pub.utterances:
            warnings.append(
                f"{len(utts)} utterances, published {pub.utterances} "
                f"({_describe_diff(len(utts) - pub.utterances)})"
            )
        if len(corpus.speakers) != pub.speakers:
            warnings.append(f"{len(corpus.speakers)} speakers, published {pub.speakers}")
        for label, d in diff_labels.items():
            have = labels.get(label, 0)
            warnings.append(
                f"label {label!r}: {have}, published {(pub.labels or {}).get(label, 0)} "
                f"({_describe_diff(d)})"
            )
    expected_of = EXPECTED_IDS.get(corpus.name)
    if expected_of is not None:
        expected = expected_of(corpus)
        have_ids = {u.id for u in utts}
        missing = sorted(expected - have_ids)
        extra = sorted(have_ids - expected)
        summary["missing"] = missing
        summary["extra"] = extra
        if missing:
            warnings.append(f"{len(missing)} expected files missing: {_names(missing)}")
        if extra:
            warnings.append(f"{len(extra)} files not in the published corpus: {_names(extra)}")
    summary["warnings"] = warnings
    for w in warnings:
        logger.info("%s: %s", corpus.name, w)
    return summary


def with_durations(corpus: Corpus) -> Corpus:
    """A copy of ``corpus`` with every ``duration_s`` read from its file's header.

    Raises:
        AudioError: a file is not readable audio.
    """
    from dataclasses import replace

    return Corpus(
        corpus.name,
        corpus.root,
        [replace(u, duration_s=_header(u)[1]) for u in corpus.utterances],
        corpus.published,
    )


def format_check(summary: dict) -> str:
    """The human-readable text of a ``check_corpus`` summary (what the CLI prints)."""
    lines = [f"{summary['corpus']} at {summary['root']}"]
    pub = summary.get("published") or {}

    def vs(key: str) -> str:
        return f" (published {pub[key]})" if pub.get(key) is not None else ""

    lines.append(f"  utterances: {summary['utterances']}{vs('utterances')}")
    lines.append(f"  speakers:   {summary['speakers']}{vs('speakers')}")
    pub_labels = pub.get("labels") or {}
    lines.append("  labels:")
    width = max((len(k) for k in summary["labels"]), default=0)
    for label, n in summary["labels"].items():
        note = f"  (published {pub_labels[label]})" if label in pub_labels and pub_labels[label] != n else ""
        lines.append(f"    {label:<{width}}  {n}{note}")
    for label in sorted(set(pub_labels) - set(summary["labels"])):
        lines.append(f"    {label:<{width}}  0  (published {pub_labels[label]})")
    lines.append("  genders:    " + _inline(summary["genders"]))
    lines.append("  languages:  " + _inline(summary["languages"]))
    if summary.get("official_splits"):
        lines.append("  splits:     " + _inline(summary["official_splits"]))
    if summary.get("sample_rates"):
        lines.append("  sample rates: " + _inline({f"{k} Hz": v for k, v in summary["sample_rates"].items()}))
    d = summary.get("duration_s")
    if d:
        lines.append(
            f"  duration:   min {d['min']:.2f} s, mean {d['mean']:.2f} s, max {d['max']:.2f} s, "
            f"total {d['total'] / 3600:.2f} h"
        )
    warnings = summary.get("warnings") or []
    if warnings:
        lines.append(f"  warnings ({len(warnings)}):")
        lines.extend(f"    - {w}" for w in warnings)
    else:
        lines.append("  no differences from the published counts" if pub else "  no published counts to compare with")
    return "\n".join(lines)


def _header(u: Utterance) -> tuple[int, float]:
    try:
        info = sf.info(str(u.path))
    except (sf.LibsndfileError, RuntimeError):
        audio_duration_s(u.path)  # raises the AudioError serkit words for unreadable files
        raise AudioError(f"{u.path}: not a readable audio file") from None
    return int(info.samplerate), info.frames / info.samplerate


def _counts(values: Iterable[str]) -> dict[str, int]:
    return dict(sorted(Counter(values).items()))


def _describe_diff(d: int) -> str:
    return f"{-d} missing" if d < 0 else f"{d} extra"


def _names(ids: list[str]) -> str:
    shown = ", ".join(ids[:MAX_NAMED])
    return shown + (f", … and {len(ids) - MAX_NAMED} more" if len(ids) > MAX_NAMED else "")


def _inline(counts: dict) -> str:
    return ", ".join(f"{k} {v}" for k, v in counts.items()) or "-"
