"""serkit.evaluation.metrics and groups: equal to scikit-learn, by hand where it matters."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn import metrics as skm

from serkit.errors import SerkitError
from serkit.evaluation import (
    classification_metrics,
    confusion_matrix,
    majority_baseline,
    metrics_by_group,
    normalize_rows,
    per_class_metrics,
)

LABELS = np.array(["anger", "happiness", "neutral", "sadness", "fear"])


def _random_pair(seed: int, *, n: int = 200, drop_predicted: tuple[str, ...] = ()):
    rng = np.random.default_rng(seed)
    truth = rng.choice(LABELS, size=n, p=[0.4, 0.25, 0.2, 0.1, 0.05])
    # A biased predictor: right half the time, otherwise random, never some classes.
    allowed = np.array([c for c in LABELS if c not in drop_predicted])
    guess = rng.choice(allowed, size=n)
    prediction = np.where((rng.random(n) < 0.5) & np.isin(truth, allowed), truth, guess)
    return truth, prediction


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("drop", [(), ("fear",), ("fear", "sadness")])
def test_metrics_equal_sklearn_on_random_labels(seed, drop):
    truth, prediction = _random_pair(seed, drop_predicted=drop)
    got = classification_metrics(truth, prediction)
    expected = {
        "accuracy": skm.accuracy_score(truth, prediction),
        "uar": skm.balanced_accuracy_score(truth, prediction),
        "macro_precision": skm.precision_score(truth, prediction, average="macro", zero_division=0),
        "macro_recall": skm.recall_score(truth, prediction, average="macro", zero_division=0),
        "macro_f1": skm.f1_score(truth, prediction, average="macro", zero_division=0),
        "weighted_precision": skm.precision_score(truth, prediction, average="weighted", zero_division=0),
        "weighted_recall": skm.recall_score(truth, prediction, average="weighted", zero_division=0),
        "weighted_f1": skm.f1_score(truth, prediction, average="weighted", zero_division=0),
    }
    for name, value in expected.items():
        assert got[name] == pytest.approx(value, abs=1e-12), name
    assert got["war"] == got["wa"] == got["accuracy"]
    assert got["ua"] == got["uar"]
    assert got["wf1"] == got["weighted_f1"]
    if drop:  # a class never predicted: precision 0 there, and the metrics must still match
        assert per_class_metrics(truth, prediction)[drop[0]]["precision"] == 0.0


def test_predicted_class_absent_from_truth_counts_in_macro_recall_not_in_uar():
    truth = ["a", "a", "b", "b"]
    prediction = ["a", "c", "b", "b"]
    got = classification_metrics(truth, prediction)
    assert got["uar"] == pytest.approx(0.75)  # (1/2 + 1) / 2: classes of the truth only
    assert got["macro_recall"] == pytest.approx(0.5)  # (1/2 + 1 + 0) / 3, as sklearn
    assert got["macro_recall"] == pytest.approx(skm.recall_score(truth, prediction, average="macro",
                                                                 zero_division=0))


@pytest.mark.parametrize("seed", range(3))
def test_per_class_and_confusion_equal_sklearn(seed):
    truth, prediction = _random_pair(seed, drop_predicted=("fear",))
    labels = sorted(LABELS)
    assert np.array_equal(confusion_matrix(truth, prediction, labels=labels),
                          skm.confusion_matrix(truth, prediction, labels=labels))
    p, r, f, s = skm.precision_recall_fscore_support(truth, prediction, labels=labels, zero_division=0)
    table = per_class_metrics(truth, prediction, labels=labels)
    assert list(table) == labels
    for i, label in enumerate(labels):
        assert table[label]["precision"] == pytest.approx(p[i])
        assert table[label]["recall"] == pytest.approx(r[i])
        assert table[label]["f1"] == pytest.approx(f[i])
        assert table[label]["support"] == s[i]



@pytest.mark.filterwarnings("ignore:y_pred contains classes not in y_true")
def test_labels_subset_scores_as_sklearn_and_the_confusion_matrix_drops_the_rest():
    truth = ["a", "a", "b", "x", "b"]
    prediction = ["a", "y", "b", "a", "a"]
    labels = ["a", "b"]
    p, r, f, s = skm.precision_recall_fscore_support(truth, prediction, labels=labels, zero_division=0)
    table = per_class_metrics(truth, prediction, labels=labels)
    assert np.allclose([[c["precision"], c["recall"], c["f1"], c["support"]] for c in table.values()],
                       np.stack([p, r, f, s], axis=1))
    assert table["a"]["precision"] == pytest.approx(1 / 3)  # the "a" predicted for "x" is wrong
    got = classification_metrics(truth, prediction, labels=labels)
    for average in ("macro", "weighted"):
        want = skm.precision_recall_fscore_support(truth, prediction, labels=labels, average=average,
                                                   zero_division=0)
        assert [got[f"{average}_{m}"] for m in ("precision", "recall", "f1")] == pytest.approx(want[:3])
    # UA: every class of the truth with all its samples, "x" (outside labels) too.
    assert got["uar"] == pytest.approx((1 / 2 + 1 / 2 + 0) / 3)
    assert got["uar"] == pytest.approx(skm.balanced_accuracy_score(truth, prediction))
    # The confusion matrix drops pairs with a label outside ``labels``, as scikit-learn's;
    # where no true label is in ``labels`` it counts 0 (scikit-learn raises there).
    assert confusion_matrix(truth, prediction, labels=labels).tolist() == [[1, 0], [1, 1]]
    assert np.array_equal(confusion_matrix(truth, prediction, labels=labels),
                          skm.confusion_matrix(truth, prediction, labels=labels))
    assert confusion_matrix(["x"], ["a"], labels=labels).tolist() == [[0, 0], [0, 0]]

def test_row_normalisation_keeps_an_empty_row_at_zero():
    truth = ["a", "a", "a", "b"]
    prediction = ["a", "b", "b", "a"]
    counts = confusion_matrix(truth, prediction, labels=["a", "b", "c"])  # no true "c"
    assert counts.tolist() == [[1, 2, 0], [1, 0, 0], [0, 0, 0]]
    normalized = normalize_rows(counts)
    assert np.allclose(normalized, [[1 / 3, 2 / 3, 0], [1, 0, 0], [0, 0, 0]])
    assert np.allclose(normalized, skm.confusion_matrix(truth, prediction, labels=["a", "b", "c"],
                                                        normalize="true"))


def test_hand_computed_small_case():
    # truth a a a b c; prediction a a b b a -> recalls a 2/3, b 1, c 0
    got = classification_metrics(list("aaabc"), list("aabba"))
    assert got["accuracy"] == pytest.approx(3 / 5)
    assert got["uar"] == pytest.approx((2 / 3 + 1 + 0) / 3)
    # F1: a = 2*2/(3+3) = 2/3, b = 2*1/(1+2) = 2/3, c = 0; weights 3/5, 1/5, 1/5
    assert got["macro_f1"] == pytest.approx(4 / 9)
    assert got["wf1"] == pytest.approx(3 / 5 * 2 / 3 + 1 / 5 * 2 / 3)


def test_bad_input_raises_serkit_error():
    with pytest.raises(SerkitError, match="same length"):
        classification_metrics(["a"], ["a", "b"])
    with pytest.raises(SerkitError, match="empty"):
        classification_metrics([], [])


def test_majority_baseline_predicts_the_most_frequent_truth():
    truth = ["sad"] * 5 + ["angry"] * 3 + ["calm"] * 2
    base = majority_baseline(truth)
    assert base["label"] == "sad"
    assert base["accuracy"] == pytest.approx(0.5)
    assert base["uar"] == pytest.approx(1 / 3)
    assert majority_baseline(["b", "a", "b", "a"])["label"] == "a"  # ties: first in sorted order


@pytest.mark.filterwarnings("ignore:y_pred contains classes not in y_true")
def test_metrics_by_group_match_per_group_sklearn():
    rng = np.random.default_rng(7)
    truth, prediction = _random_pair(3, n=120)
    gender = rng.choice(["female", "male", ""], size=truth.size)
    got = metrics_by_group(truth, prediction, gender)
    assert list(got) == ["female", "male"]  # unknown ("") is skipped
    for value, scores in got.items():
        mask = gender == value
        assert scores["n"] == mask.sum()
        assert scores["accuracy"] == pytest.approx(skm.accuracy_score(truth[mask], prediction[mask]))
        assert scores["uar"] == pytest.approx(skm.balanced_accuracy_score(truth[mask], prediction[mask]))


def test_metrics_by_group_hand_case():
    got = metrics_by_group(["a", "b", "a", "b"], ["a", "a", "a", "b"], ["f", "m", "m", "m"])
    assert got["f"] == {"accuracy": 1.0, "uar": 1.0, "n": 1}
    assert got["m"]["accuracy"] == pytest.approx(2 / 3)
    assert got["m"]["uar"] == pytest.approx((1 + 1 / 2) / 2)
