"""Metrics per group of utterances: gender, intensity, speaker, corpus, language."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from serkit.errors import SerkitError
from serkit.evaluation.metrics import classification_metrics

#: predictions.csv columns that :func:`metrics_by_group` is run on, when they hold values.
GROUP_COLUMNS: tuple[str, ...] = ("gender", "intensity", "speaker", "corpus", "language")


def metrics_by_group(truth: Sequence, prediction: Sequence, groups: Sequence) -> dict[str, dict]:
    """Accuracy and UAR of each group value; utterances with an unknown (empty) value are skipped.

    Args:
        truth: true labels, ``(n,)``.
        prediction: predicted labels, ``(n,)``.
        groups: the group value of each utterance, ``(n,)``, e.g. the gender column;
            ``""`` or None means unknown.

    Returns:
        ``{value: {"accuracy", "uar", "n"}}`` sorted by value; uar averages the recall of
        the classes present in that group's truth.

    Example:
        >>> metrics_by_group(["a", "b"], ["a", "a"], ["female", "male"])["male"]["accuracy"]
        0.0
    """
    truth, prediction = np.asarray(truth, dtype=object), np.asarray(prediction, dtype=object)
    values = np.array(["" if g is None else str(g) for g in groups], dtype=object)
    if not (len(truth) == len(prediction) == len(values)):
        raise SerkitError(f"truth, prediction and groups must have the same length, "
                          f"not {len(truth)}, {len(prediction)} and {len(values)}")
    out = {}
    for value in sorted(set(values) - {""}):
        mask = values == value
        scores = classification_metrics(truth[mask], prediction[mask])
        out[value] = {"accuracy": scores["accuracy"], "uar": scores["uar"], "n": int(mask.sum())}
    return out


def known_group_columns(columns: dict[str, Sequence]) -> list[str]:
    """The names in :data:`GROUP_COLUMNS` whose column in ``columns`` has a known value."""
    return [name for name in GROUP_COLUMNS
            if name in columns and any(v not in ("", None) for v in columns[name])]
