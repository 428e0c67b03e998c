"""SpeechNet reproducibility metrics (GLR…PCLR) on cases computed by hand."""

from __future__ import annotations

import numpy as np
import pytest

from serkit.errors import SerkitError
from serkit.evaluation import consistency_counts, reproducibility_metrics

# 4 samples x 4 runs (R = 4, so R/2 = 2). Columns are samples.
#   sample 0: truth a, runs a a a a -> C = 4, mode a (correct)
#   sample 1: truth b, runs a a a b -> C = 3, mode a (wrong)
#   sample 2: truth c, runs c c a b -> C = 2, mode c (correct)
#   sample 3: truth d, runs a b c d -> C = 1 (a four-way tie that contains d)
RUNS = [
    ["a", "a", "c", "a"],
    ["a", "a", "c", "b"],
    ["a", "a", "a", "c"],
    ["a", "b", "b", "d"],
]
TRUTH = ["a", "b", "c", "d"]


def test_counts_by_hand():
    counts, correct = consistency_counts(RUNS, TRUTH)
    assert counts.tolist() == [4, 3, 2, 1]
    assert correct.tolist() == [True, False, True, True]


def test_metrics_by_hand_four_runs():
    got = reproducibility_metrics(RUNS, TRUTH)
    # C >= 2 for samples 0, 1, 2; C == 4 for sample 0; correct & C >= 2: samples 0, 2.
    assert got["glr"] == pytest.approx(3 / 4)
    assert got["flr"] == pytest.approx(3 / 4)  # equation 2 as written equals GLR
    assert got["plr"] == pytest.approx(1 / 4)
    assert got["clr"] == pytest.approx(2 / 4)
    assert got["fclr"] == pytest.approx(2 / 4)  # equation 5 as written equals CLR
    assert got["pclr"] == pytest.approx(1 / 4)
    # prose reading 2 < C < 4: only sample 1, which is wrong.
    assert got["flr_prose"] == pytest.approx(1 / 4)
    assert got["fclr_prose"] == 0.0
    assert got["runs"] == 4 and got["samples"] == 4


def test_metrics_by_hand_three_runs():
    # R = 3, R/2 = 1.5 so C >= 2 is needed.
    runs = [["x", "x", "x"], ["x", "y", "z"], ["y", "x", "y"]]
    truth = ["x", "y", "z"]
    # sample 0: x x y  -> C 2, mode x, truth x: correct, not perfect
    # sample 1: x y x  -> C 2, mode x, truth y: wrong
    # sample 2: x z y  -> C 1
    got = reproducibility_metrics(runs, truth)
    assert got["glr"] == pytest.approx(2 / 3)
    assert got["plr"] == 0.0
    assert got["clr"] == pytest.approx(1 / 3)
    assert got["pclr"] == 0.0
    assert got["flr_prose"] == pytest.approx(2 / 3)  # 1.5 < 2 < 3
    assert got["fclr_prose"] == pytest.approx(1 / 3)


def test_tie_containing_truth_counts_as_correct_regardless_of_label_order():
    for pair in (["a", "z"], ["z", "a"]):
        runs = [[pair[0]], [pair[1]], [pair[0]], [pair[1]]]
        assert reproducibility_metrics(runs, ["z"])["clr"] == 1.0
        assert reproducibility_metrics(runs, ["a"])["clr"] == 1.0
        assert reproducibility_metrics(runs, ["q"])["clr"] == 0.0


def test_identical_runs_are_perfectly_reproducible():
    rng = np.random.default_rng(0)
    run = list(rng.choice(["a", "b", "c"], size=50))
    truth = list(rng.choice(["a", "b", "c"], size=50))
    got = reproducibility_metrics([run] * 5, truth)
    accuracy = np.mean(np.array(run) == np.array(truth))
    assert got["glr"] == got["plr"] == 1.0
    assert got["clr"] == got["pclr"] == pytest.approx(accuracy)
    assert got["flr_prose"] == 0.0


def test_clr_equals_share_of_samples_right_in_at_least_half_the_runs():
    rng = np.random.default_rng(1)
    runs = rng.choice(list("abcd"), size=(6, 80))
    truth = rng.choice(list("abcd"), size=80)
    got = reproducibility_metrics(runs.tolist(), truth.tolist())
    right = (runs == truth).sum(axis=0)
    assert got["clr"] == pytest.approx(np.mean(right >= 3))
    assert got["pclr"] == pytest.approx(np.mean(right == 6))
    assert got["flr"] == got["glr"] and got["fclr"] == got["clr"]


def test_mismatched_shapes_raise():
    with pytest.raises(SerkitError, match="same 2 samples"):
        reproducibility_metrics([["a", "b"], ["a"]], ["a", "b"])
    with pytest.raises(SerkitError):
        reproducibility_metrics([], [])


def test_two_runs_make_glr_one_for_any_model():
    got = reproducibility_metrics([["a", "b", "c"], ["b", "c", "a"]], ["a", "b", "c"])
    assert got["glr"] == 1.0 and got["plr"] == 0.0
    assert got["clr"] == 1.0  # each truth is among the tied modes
