"""The metrics against scikit-learn where a fold is awkward: an explicit ``labels=`` list
with a class absent from the test fold, a true class outside ``labels=``, labels that
never occur, and the exact error messages. Written to kill the mutants the older tests let
through (docs/testing.md)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn import metrics as skm

from serkit.errors import SerkitError
from serkit.evaluation.metrics import (
    METRIC_NAMES, classification_metrics, confusion_matrix, majority_baseline, normalize_rows,
    per_class_metrics, resolve_labels,
)

CLASSES = ["anger", "happiness", "neutral", "sadness"]


def random_fold(seed: int, *, absent: str | None = "sadness", n: int = 40):
    """Truth and prediction of a test fold from which one class of CLASSES is absent."""
    rng = np.random.default_rng(seed)
    present = [c for c in CLASSES if c != absent]
    truth = list(rng.choice(present, n))
    prediction = list(rng.choice(CLASSES, n))
    return truth, prediction


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize("seed", range(6))
def test_ua_with_an_explicit_label_list_and_a_class_absent_from_the_fold(seed):
    truth, prediction = random_fold(seed)
    got = classification_metrics(truth, prediction, labels=CLASSES)
    # UA averages the recalls of the classes the fold holds, as balanced accuracy does.
    assert got["uar"] == pytest.approx(skm.balanced_accuracy_score(truth, prediction))
    assert got["ua"] == got["uar"]
    present = sorted(set(truth))
    assert got["uar"] == pytest.approx(skm.recall_score(truth, prediction, labels=present, average="macro"))
    # The macro averages run over the whole list, the absent class scoring 0.
    for average in ("macro", "weighted"):
        p, r, f, _ = skm.precision_recall_fscore_support(truth, prediction, labels=CLASSES, average=average,
                                                         zero_division=0)
        assert (got[f"{average}_precision"], got[f"{average}_recall"], got[f"{average}_f1"]) == pytest.approx(
            (p, r, f))
    assert got["macro_recall"] < got["uar"] or got["uar"] == 0
    assert got["accuracy"] == got["wa"] == got["war"] == pytest.approx(skm.accuracy_score(truth, prediction))
    assert got["wf1"] == got["weighted_f1"]


def test_ua_keeps_a_true_class_that_is_outside_labels_with_its_own_recall():
    # truth holds "c", which labels= leaves out: UA still averages a, b and c.
    truth = ["a", "a", "b", "b", "c", "c"]
    prediction = ["a", "b", "b", "b", "c", "a"]
    got = classification_metrics(truth, prediction, labels=["a", "b"])
    assert got["uar"] == pytest.approx((1 / 2 + 1 + 1 / 2) / 3)
    assert got["uar"] == pytest.approx(skm.balanced_accuracy_score(truth, prediction))
    # ... while the macro recall runs over labels= only.
    assert got["macro_recall"] == pytest.approx((1 / 2 + 1) / 2)


def test_an_empty_label_list_scores_zero_averages_but_keeps_accuracy_and_ua():
    got = classification_metrics(["a", "b"], ["a", "a"], labels=[])
    assert got["accuracy"] == 0.5 and got["uar"] == 0.5
    assert all(got[f"{a}_{m}"] == 0.0 for a in ("macro", "weighted") for m in ("precision", "recall", "f1"))
    assert per_class_metrics(["a"], ["a"], labels=[]) == {}


def test_metrics_come_back_as_floats_in_the_documented_order():
    got = classification_metrics([1, 2, 2], [1, 2, 1])
    assert tuple(got) == METRIC_NAMES
    assert all(type(v) is float for v in got.values())
    assert got["uar"] == pytest.approx((1 + 1 / 2) / 2)


def test_confusion_matrix_drops_pairs_with_a_label_outside_the_list():
    truth = ["a", "a", "b", "c", "c", "b"]
    prediction = ["a", "c", "b", "c", "a", "a"]
    got = confusion_matrix(truth, prediction, labels=["a", "b"])
    # (a, c), (c, c) and (c, a) have a label outside [a, b]: not counted anywhere.
    assert got.tolist() == [[1, 0], [1, 1]]
    assert got.dtype == np.int64
    assert np.array_equal(got, skm.confusion_matrix(truth, prediction, labels=["a", "b"]))


def test_confusion_matrix_follows_the_order_of_labels():
    truth, prediction = ["a", "b", "b"], ["b", "b", "a"]
    assert confusion_matrix(truth, prediction, labels=["b", "a"]).tolist() == [[1, 1], [1, 0]]
    assert confusion_matrix(truth, prediction).tolist() == [[0, 1], [1, 1]]


def test_confusion_matrix_with_no_true_label_in_the_list_is_all_zero():
    # scikit-learn refuses this; serkit counts nothing (every pair is dropped).
    got = confusion_matrix(["a", "b"], ["c", "c"], labels=["c", "d"])
    assert got.tolist() == [[0, 0], [0, 0]] and got.dtype == np.int64
    with pytest.raises(ValueError):
        skm.confusion_matrix(["a", "b"], ["c", "c"], labels=["c", "d"])


def test_confusion_matrix_of_a_single_label_is_one_by_one_without_a_warning(recwarn):
    assert confusion_matrix(["a", "a"], ["a", "a"]).tolist() == [[2]]
    assert not [w for w in recwarn if "single label" in str(w.message)]


def test_normalize_rows_divides_by_row_totals_and_keeps_empty_rows_zero():
    got = normalize_rows(np.array([[1, 3], [0, 0], [2, 2]]))
    assert got.tolist() == [[0.25, 0.75], [0.0, 0.0], [0.5, 0.5]]
    assert got.dtype == float


def test_per_class_metrics_against_sklearn_with_an_absent_class():
    truth, prediction = random_fold(3)
    table = per_class_metrics(truth, prediction, labels=CLASSES)
    assert list(table) == CLASSES
    p, r, f, s = skm.precision_recall_fscore_support(truth, prediction, labels=CLASSES, zero_division=0)
    for i, c in enumerate(CLASSES):
        assert table[c] == {"precision": pytest.approx(p[i]), "recall": pytest.approx(r[i]),
                            "f1": pytest.approx(f[i]), "support": int(s[i])}
        assert type(table[c]["support"]) is int and type(table[c]["f1"]) is float
    assert table["sadness"]["support"] == 0 and table["sadness"]["recall"] == 0.0


def test_resolve_labels_keeps_the_given_order_as_strings_else_the_sorted_union():
    assert resolve_labels(["b"], ["a"], [2, 1]) == ["2", "1"]
    assert resolve_labels(["b", "c"], ["a", "b"]) == ["a", "b", "c"]
    assert resolve_labels([1], [10]) == ["1", "10"]


def test_majority_baseline_scores_and_ties():
    base = majority_baseline(["b", "b", "a", "c"])
    assert base == {"label": "b", "accuracy": 0.5, "uar": pytest.approx(1 / 3),
                    "macro_f1": pytest.approx((2 / 3) / 3), "weighted_f1": pytest.approx(0.5 * 2 / 3)}
    assert majority_baseline(["z", "y", "y", "z"])["label"] == "y"
    assert majority_baseline([3, 3, 1])["label"] == "3"
    with pytest.raises(SerkitError, match="^majority baseline needs at least one true label, got none$"):
        majority_baseline([])


def test_error_messages_say_what_is_wrong():
    with pytest.raises(SerkitError, match=r"truth and prediction must have the same length, not 1 and 2$"):
        classification_metrics(["a"], ["a", "b"])
    with pytest.raises(SerkitError, match=r"^cannot score an empty set of predictions; is the predictions.csv empty\?$"):
        confusion_matrix([], [])
    with pytest.raises(SerkitError, match="same length"):
        per_class_metrics(["a", "b"], ["a"])


def test_normalize_rows_writes_zero_into_empty_rows_not_leftover_memory():
    # Freed buffers of the same size, full of 5s, are what an uninitialised result would
    # reuse; numpy also warns about such a division, which this test makes an error.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for _ in range(3):
            leftovers = [np.full((3, 2), 5.0) for _ in range(4)]
            del leftovers
            got = normalize_rows(np.array([[0, 0], [1, 1], [0, 0]]))
            assert got.tolist() == [[0.0, 0.0], [0.5, 0.5], [0.0, 0.0]]


# --------------------------------------------------------------------------- reproducibility

from serkit.evaluation.reproducibility import consistency_counts, reproducibility_metrics  # noqa: E402


def test_one_run_is_perfectly_consistent():
    got = reproducibility_metrics([["a", "b", "c"]], ["a", "b", "x"])
    assert (got["glr"], got["plr"], got["clr"], got["pclr"]) == (1.0, 1.0, pytest.approx(2 / 3), pytest.approx(2 / 3))
    assert got["runs"] == 1 and got["samples"] == 3


def test_consistency_counts_are_integers_and_correctness_booleans():
    counts, correct = consistency_counts([["a", "b"], ["a", "a"], ["b", "a"]], ["a", "c"])
    assert counts.dtype == np.int64 and correct.dtype == bool
    assert counts.tolist() == [2, 2] and correct.tolist() == [True, False]


def test_numeric_labels_are_compared_as_text():
    counts, correct = consistency_counts([[1, 2], [1, 2]], ["1", 2])
    assert counts.tolist() == [2, 2] and correct.tolist() == [True, True]


@pytest.mark.parametrize("runs, truth", [
    ([["a", "b"], ["a", "b", "c"]], ["a", "b"]),       # runs of different lengths, one matching
    ([["a", "b", "c"], ["a", "b", "c"]], ["a", "b"]),  # every run longer than the truth
    ([["a"]], ["a", "b"]),
])
def test_runs_that_do_not_match_the_truth_are_refused(runs, truth):
    with pytest.raises(SerkitError, match=rf"every run must predict the same {len(truth)} samples as truth has, "
                                          rf"got runs of lengths \[{', '.join(str(len(r)) for r in runs)}\]"):
        reproducibility_metrics(runs, truth)


@pytest.mark.parametrize("runs", [[], [[]]])
def test_no_runs_or_empty_runs_are_refused(runs):
    with pytest.raises(SerkitError, match="^reproducibility needs at least one run with at least one prediction$"):
        reproducibility_metrics(runs, [])


def test_labels_are_kept_exactly_as_text_even_with_trailing_nul_characters():
    # numpy's fixed-width strings drop trailing NULs; labels are compared as Python text.
    assert majority_baseline(["a\x00", "a\x00", "b"])["label"] == "a\x00"
    counts, correct = consistency_counts([["a\x00", "b"]], ["a\x00", "b\x00"])
    assert correct.tolist() == [True, False]


def test_per_class_metrics_follow_the_given_label_order_and_subset_without_warnings():
    truth = ["a", "a", "b", "c", "c", "b"]
    prediction = ["a", "c", "b", "c", "a", "d"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # zero_division=0: an absent class warns nothing
        table = per_class_metrics(truth, prediction, labels=["c", "a", "x"])
    assert list(table) == ["c", "a", "x"]
    p, r, f, s = skm.precision_recall_fscore_support(truth, prediction, labels=["c", "a", "x"], zero_division=0)
    for i, c in enumerate(["c", "a", "x"]):
        assert (table[c]["precision"], table[c]["recall"], table[c]["f1"], table[c]["support"]) == pytest.approx(
            (p[i], r[i], f[i], s[i]))
    assert table["x"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 0}


def test_averages_over_a_label_list_with_absent_classes_warn_nothing():
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # zero_division=0 everywhere: no UndefinedMetricWarning
        got = classification_metrics(["a", "b"], ["a", "a"], labels=["a", "b", "z"])
    assert got["macro_precision"] == pytest.approx((0.5 + 0 + 0) / 3)
