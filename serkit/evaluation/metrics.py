"""Classification metrics: accuracy, WA/UA/WF1, macro and weighted P/R/F1, confusion matrices.

Everything is computed by scikit-learn (``sklearn.metrics``, imported on first use so that
``import serkit.evaluation`` stays light) with ``zero_division=0``; the tests compare the
results with scikit-learn's on random labels:

* ``accuracy`` = ``war`` = ``wa``: correct / total (``accuracy_score``).
* ``uar`` = ``ua``: mean recall over the classes present in the truth
  (``balanced_accuracy_score``; computed as ``recall_score(labels=<classes of the truth>,
  average="macro")``, so that a class outside ``labels=`` still counts with its own recall).
* ``macro_precision``/``macro_recall``/``macro_f1``: unweighted means over the labels
  (by default the union of truth and prediction labels, scikit-learn's default);
  ``macro_recall`` differs from ``uar`` only when a class is predicted that never occurs
  in the truth (its recall 0/0 counts as 0 there, and is left out of ``uar``).
* ``weighted_precision``/``weighted_recall``/``weighted_f1`` = ``wf1``: means weighted by
  each class's support.
* With ``labels=``, per-class counts are scikit-learn's: a class's support is all of its
  true samples and its precision counts all of its predictions, even where the other label
  of the pair is outside ``labels``; only :func:`confusion_matrix` drops such pairs.

WA, UA and WF1 as the SERCT thesis (Zheng 2024, section 5.4, serct_zheng2024.txt lines
412-434) defines them: WA = sum_i w_i Accuracy_i (eq. 13), UA = (1/n) sum_i Accuracy_i
(eq. 14), WF1 = sum_i w_i F1_i (eq. 15), with w_i the weight of class i and n the number
of classes. We read Accuracy_i as the accuracy *on class i* (its recall, TP_i / n_i) and
w_i as the class's share of the test set, n_i / N. Then WA = sum_i TP_i / N is plain
accuracy, UA is the unweighted average recall, and WF1 is the support-weighted F1. The
thesis's own numbers support this reading: on the balanced TESS set WA = UA = 0.9893
(line 457), and on EMO-DB WA 0.3877 vs UA 0.3712 (line 482). Reading Accuracy_i as the
one-vs-rest accuracy of eq. 9, (TP+TN)/(TP+TN+FP+FN), would put every value near 1 - 2e/n
(above 0.8 for 7 classes at 39 % accuracy), which matches none of the tables.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np

from serkit.errors import SerkitError

#: Metric names that :func:`classification_metrics` returns.
METRIC_NAMES: tuple[str, ...] = (
    "accuracy", "war", "wa", "uar", "ua",
    "macro_precision", "macro_recall", "macro_f1",
    "weighted_precision", "weighted_recall", "weighted_f1", "wf1",
)


def resolve_labels(truth: Sequence, prediction: Sequence, labels: Sequence | None = None) -> list[str]:
    """The labels to score: ``labels`` as given, else the sorted union of truth and prediction."""
    if labels is not None:
        return [str(label) for label in labels]
    return sorted({str(t) for t in truth} | {str(p) for p in prediction})


def confusion_matrix(truth: Sequence, prediction: Sequence, *, labels: Sequence | None = None) -> np.ndarray:
    """Counts of (true label, predicted label) pairs.

    Args:
        truth: true labels, ``(n,)``.
        prediction: predicted labels, ``(n,)``.
        labels: row/column order; default the sorted union of both.

    Returns:
        ``(len(labels), len(labels))`` int array, rows = truth, columns = prediction.
        Pairs with a label outside ``labels`` are not counted (as in scikit-learn).
    """
    truth, prediction = _check_pair(truth, prediction)
    labels = resolve_labels(truth, prediction, labels)
    if not set(labels) & set(truth):
        # Every pair is dropped; scikit-learn refuses such ``labels`` instead of counting 0.
        return np.zeros((len(labels), len(labels)), dtype=np.int64)
    with warnings.catch_warnings():
        # ``labels`` is always passed, so a 1 x 1 matrix has the shape asked for.
        warnings.filterwarnings("ignore", "A single label was found", UserWarning)
        matrix = _sklearn().confusion_matrix(truth, prediction, labels=labels)
    return matrix.astype(np.int64, copy=False)


def normalize_rows(matrix: np.ndarray) -> np.ndarray:
    """Row-normalised confusion matrix: each row sums to 1; a class with no samples stays 0.

    Returns:
        float array of the same shape (scikit-learn's ``normalize="true"``).
    """
    matrix = np.asarray(matrix, dtype=float)
    totals = matrix.sum(axis=1, keepdims=True)
    return np.divide(matrix, totals, out=np.zeros_like(matrix), where=totals > 0)


def per_class_metrics(truth: Sequence, prediction: Sequence, *,
                      labels: Sequence | None = None) -> dict[str, dict[str, float]]:
    """Precision, recall, F1 and support of each class (0 where undefined, as scikit-learn).

    Returns:
        ``{label: {"precision", "recall", "f1", "support"}}`` in label order.
    """
    truth, prediction = _check_pair(truth, prediction)
    labels = resolve_labels(truth, prediction, labels)
    if not labels:
        return {}
    precision, recall, f1, support = _sklearn().precision_recall_fscore_support(
        truth, prediction, labels=labels, average=None, zero_division=0)
    return {label: {"precision": float(precision[i]), "recall": float(recall[i]),
                    "f1": float(f1[i]), "support": int(support[i])}
            for i, label in enumerate(labels)}


def classification_metrics(truth: Sequence, prediction: Sequence, *,
                           labels: Sequence | None = None) -> dict[str, float]:
    """Every metric in :data:`METRIC_NAMES` (see the module docstring for definitions).

    Args:
        truth: true labels, ``(n,)``, n >= 1.
        prediction: predicted labels, ``(n,)``.
        labels: the classes the macro and weighted averages run over; default the sorted
            union of truth and prediction labels. ``uar`` always averages over the classes
            present in the truth.

    Returns:
        ``{name: value}`` with values in [0, 1].

    Raises:
        SerkitError: empty input or lengths that differ.

    Example:
        >>> classification_metrics(["a", "a", "b"], ["a", "b", "b"])["uar"]
        0.75
    """
    truth, prediction = _check_pair(truth, prediction)
    labels = resolve_labels(truth, prediction, labels)
    skm = _sklearn()
    accuracy = float(skm.accuracy_score(truth, prediction))
    # Over the classes of the truth, each with all its samples: also a class outside ``labels``.
    uar = float(skm.recall_score(truth, prediction, labels=sorted(set(truth)), average="macro",
                                 zero_division=0))
    out = {"accuracy": accuracy, "war": accuracy, "wa": accuracy, "uar": uar, "ua": uar}
    for average in ("macro", "weighted"):
        scores = (skm.precision_recall_fscore_support(truth, prediction, labels=labels, average=average,
                                                      zero_division=0)[:3] if labels else (0.0, 0.0, 0.0))
        for name, value in zip(("precision", "recall", "f1"), scores):
            out[f"{average}_{name}"] = float(value)
    out["wf1"] = out["weighted_f1"]
    return {name: float(out[name]) for name in METRIC_NAMES}


def majority_baseline(truth: Sequence) -> dict:
    """Scores of always predicting the most frequent label of ``truth``.

    Ties go to the label first in sorted order. Its uar is 1 / (classes in the truth).

    Returns:
        ``{"label", "accuracy", "uar", "macro_f1", "weighted_f1"}``.
    """
    truth = [str(t) for t in truth]
    if not truth:
        raise SerkitError("majority baseline needs at least one true label, got none")
    values, counts = np.unique(np.array(truth, dtype=object), return_counts=True)
    label = str(values[int(np.argmax(counts))])
    scores = classification_metrics(truth, [label] * len(truth))
    return {"label": label, **{k: scores[k] for k in ("accuracy", "uar", "macro_f1", "weighted_f1")}}


def _sklearn():
    """``sklearn.metrics``, imported on first use (it takes most of a second to import)."""
    from sklearn import metrics

    return metrics


def _check_pair(truth: Sequence, prediction: Sequence) -> tuple[list[str], list[str]]:
    truth = [str(t) for t in truth]
    prediction = [str(p) for p in prediction]
    if len(truth) != len(prediction):
        raise SerkitError(f"truth and prediction must have the same length, not {len(truth)} and {len(prediction)}")
    if not truth:
        raise SerkitError("cannot score an empty set of predictions; is the predictions.csv empty?")
    return truth, prediction
