"""predictions.csv: write/read round trip, atomic writes, contract errors."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from serkit.errors import SerkitError
from serkit.evaluation import PREDICTION_COLUMNS, read_predictions, write_predictions
from serkit.evaluation import predictions as predictions_module

LABELS = ["sadness", "anger", "neutral"]  # deliberately unsorted


def _rows(seed: int = 0, fold: int = 0):
    return [
        {"utt_id": "emodb-03a01Wa", "corpus": "emodb", "seed": seed, "fold": fold, "truth": "anger",
         "prediction": "anger", "speaker": "emodb-03", "gender": "male", "intensity": None,
         "language": "de", "probabilities": [0.1, 0.7, 0.2]},  # aligned with LABELS as given
        {"utt_id": "emodb-08b02Nb", "corpus": "emodb", "seed": seed, "fold": fold, "truth": "neutral",
         "prediction": "sadness", "speaker": "emodb-08", "gender": "female", "language": "de",
         "probabilities": {"sadness": 0.5, "neutral": 0.4, "anger": 0.1}},
    ]


def test_round_trip(tmp_path):
    path = write_predictions(tmp_path / "predictions.csv", _rows(seed=3, fold=1), LABELS)
    with open(path, newline="") as handle:
        header = next(csv.reader(handle))
    assert header == list(PREDICTION_COLUMNS) + ["p_anger", "p_neutral", "p_sadness"]
    got = read_predictions(path)
    assert got.labels == ("anger", "neutral", "sadness")
    assert got.utt_id.tolist() == ["emodb-03a01Wa", "emodb-08b02Nb"]
    assert got.seed.tolist() == [3, 3] and got.fold.tolist() == [1, 1]
    assert got.truth.tolist() == ["anger", "neutral"]
    assert got.prediction.tolist() == ["anger", "sadness"]
    assert got.intensity.tolist() == ["", ""]  # None and missing are unknown
    assert got.gender.tolist() == ["male", "female"]
    np.testing.assert_array_equal(got.probabilities, [[0.7, 0.2, 0.1], [0.1, 0.4, 0.5]])


def test_atomic_write_leaves_no_temp_file_and_replaces(tmp_path):
    path = tmp_path / "predictions.csv"
    write_predictions(path, _rows(), LABELS)
    write_predictions(path, _rows(seed=5), LABELS)
    assert [p.name for p in tmp_path.iterdir()] == ["predictions.csv"]
    assert read_predictions(path).seed.tolist() == [5, 5]


def test_failed_write_keeps_old_file_and_no_temp_file(tmp_path):
    path = write_predictions(tmp_path / "predictions.csv", _rows(), LABELS)
    before = path.read_text()

    def crash(handle):
        handle.write("half a file")
        raise RuntimeError("model crashed")

    with pytest.raises(RuntimeError):
        predictions_module.atomic_write(path, crash)
    assert path.read_text() == before
    assert [p.name for p in tmp_path.iterdir()] == ["predictions.csv"]


def test_write_rejects_unknown_labels_and_missing_values(tmp_path):
    bad = dict(_rows()[0], prediction="joy")
    with pytest.raises(SerkitError, match="'joy' is not one of the labels"):
        write_predictions(tmp_path / "p.csv", [bad], LABELS)
    with pytest.raises(SerkitError, match="utt_id"):
        write_predictions(tmp_path / "p.csv", [dict(_rows()[0], utt_id="")], LABELS)
    assert not any(tmp_path.iterdir())


def test_read_collects_every_file_under_a_run_dir(tmp_path):
    for seed in (0, 1):
        for fold in (0, 1):
            write_predictions(tmp_path / f"seed={seed}" / f"fold={fold}" / "predictions.csv",
                              _rows(seed, fold), LABELS)
    got = read_predictions(tmp_path)
    assert len(got) == 8
    assert len(got.sources) == 4
    assert got.seeds == [0, 1]
    assert got.select(got.seed == 1).fold.tolist() == [0, 0, 1, 1]


def test_minimal_file_made_elsewhere(tmp_path):
    path = tmp_path / "predictions.csv"
    path.write_text("utt_id,truth,prediction,extra\nu1,a,b,x\nu2,b,b,y\n")
    got = read_predictions(path)
    assert got.labels == ("a", "b")
    assert got.probabilities is None
    assert got.seed.tolist() == [0, 0]
    assert got.corpus.tolist() == ["", ""]


@pytest.mark.parametrize("content, message", [
    ("utt_id,prediction\nu1,a\n", "lacks the column"),
    ("utt_id,truth,prediction,seed\nu1,a,a,one\n", "seed must be an integer"),
    ("utt_id,truth,prediction\nu1,,a\n", "empty 'truth'"),
    ("utt_id,truth,prediction,p_a,p_b\nu1,c,a,0.5,0.5\n", r"truth label\(s\) \['c'\]"),
])
def test_contract_errors(tmp_path, content, message):
    path = tmp_path / "predictions.csv"
    path.write_text(content)
    with pytest.raises(SerkitError, match=message):
        read_predictions(path)


def test_missing_run_dir_and_empty_run_dir(tmp_path):
    with pytest.raises(SerkitError, match="not found"):
        read_predictions(tmp_path / "nope")
    with pytest.raises(SerkitError, match="no predictions.csv under"):
        read_predictions(tmp_path)


def test_different_label_sets_are_refused(tmp_path):
    write_predictions(tmp_path / "seed=0" / "predictions.csv", _rows(), LABELS)
    rows = [{k: v for k, v in r.items() if k != "probabilities"} for r in _rows(1)]
    write_predictions(tmp_path / "seed=1" / "predictions.csv", rows, LABELS + ["fear"])
    with pytest.raises(SerkitError, match="different p_<label> columns"):
        read_predictions(tmp_path)
