"""benchmarks/stop_rule_replay.py: both stopping rules on one run's trajectory."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import import_benchmark

ROOT = Path(__file__).resolve().parents[1]
replay = import_benchmark("stop_rule_replay")
fold_tables = import_benchmark("fold_tables")


def test_replaying_the_searchs_chosen_trial_gives_its_recorded_epochs_and_validation_score():
    # trials.md gives trial 5 a validation accuracy of 77.29 (mean over folds at the kept
    # epoch, windowed), and each fold's history marks the epoch it kept.
    text = replay.table(replay.RunDir(ROOT / "results" / "wavelet_emodb_full_si_search2" / "trial=5"))
    lines = text.splitlines()
    assert "| mean of 5 folds | val_loss |  |  | 77.29 | 72.37 | 69.55 |" in lines
    assert "| emodb-13+emodb-15 | val_loss | 33 | 25 | 73.64 | 68.38 | 66.80 |" in lines
    assert not any(line.startswith("- ") for line in lines)  # no fold disagrees with its record


def test_a_fold_whose_record_differs_from_its_replay_is_named(tmp_path):
    import shutil

    run = tmp_path / "run"
    shutil.copytree(ROOT / "results" / "wavelet_emodb_full_si_search2" / "trial=5", run)
    history = run / "seed=0" / "fold=0" / "history.csv"
    rows = history.read_text().splitlines()
    history.write_text("\n".join(rows[:-1]) + "\n")  # as if the run had stopped one epoch sooner
    text = replay.table(replay.RunDir(run))
    assert "- emodb-13+emodb-15: replaying its own rule (val_loss) gives None, the run recorded (32, 25)" in text


def test_a_folder_without_folds_is_named(tmp_path, capsys):
    with pytest.raises(SystemExit) as stop:
        replay.main([str(tmp_path)])
    assert stop.value.code == 2
    assert f"{tmp_path} has no finished folds" in capsys.readouterr().err


def test_a_shorter_fit_judges_its_kept_epoch_only_on_the_epochs_it_trained():
    history = [{"epoch": e, "val_acc": e / 10, "test_acc": 0.5, "test_uar": 0.4} for e in range(1, 11)]
    scores = replay._scores(history, trained=7, kept=6, window=5)
    assert scores["val"] == pytest.approx((0.4 + 0.5 + 0.6 + 0.7) / 4)  # epoch 8 was not trained
    assert (scores["wa"], scores["ua"], scores["trained"], scores["kept"]) == (0.5, 0.4, 7, 6)


#: Committed runs and rows of their replay that docs/results.md quotes (the section in the comment).
QUOTED = {
    # "Early stopping on the loss or on the choice"
    "wavelet_emodb_full_si_stop_on_selection": [
        "| mean of 5 folds | val_loss |  |  | 77.06 | 73.40 | 73.32 |",
        "| mean of 5 folds | selection |  |  | 79.31 | 73.48 | 72.83 |",
        "| emodb-10+emodb-16 | val_loss | 26 | 23 | 74.58 | 58.72 | 53.44 |"],
    # "bfloat16, checked again without the confound"
    "wavelet_emodb_full_si_stop_on_selection_bf16": [
        "| mean of 5 folds | val_loss |  |  | 77.45 | 74.48 | 71.64 |"],
    # "RAVDESS, speaker independent, every actor tested once (7 classes)"
    "wavelet_ravdess_full_si_7class_bf16_stop_on_selection": [
        "| mean of 6 folds | val_loss |  |  | 51.50 | 50.96 | 51.86 |",
        "| mean of 6 folds | selection |  |  | 58.45 | 62.10 | 61.61 |",
        "| ravdess-03+ravdess-06+ravdess-08+ravdess-19 | val_loss | 23 | 21 | 46.06 | 34.62 | 34.38 |"],
    # "RAVDESS, speaker independent, every actor tested once (8 classes)": the rerun on the choice,
    # whose replayed loss rule is the first run's table, fold for fold
    "wavelet_ravdess_full_si_bf16_stop_on_selection": [
        "| mean of 6 folds | val_loss |  |  | 51.80 | 52.36 | 52.08 |",
        "| mean of 6 folds | selection |  |  | 58.38 | 57.78 | 57.29 |",
        "| ravdess-09+ravdess-10+ravdess-22+ravdess-23 | val_loss | 33 | 30 | 56.42 | 45.42 | 42.97 |"],
    # "Speaker independent: 6 folds of 4 actors" (the CNN–Transformer): the paper's rule replayed
    "cnn_transformer_ravdess_speaker_independent_stop_on_selection": [
        "| ravdess-02+ravdess-13+ravdess-20+ravdess-21 | selection | 88 | 36 | 56.75 | 55.00 | 53.91 |",
        "| ravdess-02+ravdess-13+ravdess-20+ravdess-21 | lowest_loss | 72 | 22 | 54.58 | 51.67 | 52.73 |",
        "| ravdess-03+ravdess-06+ravdess-08+ravdess-19 | selection | 212 | 160 | 52.25 | 60.83 | 58.59 |",
        "| ravdess-03+ravdess-06+ravdess-08+ravdess-19 | lowest_loss | 53 | 3 | 33.75 | 36.25 | 35.55 |",
        "| ravdess-07+ravdess-11+ravdess-14+ravdess-16 | selection | 112 | 60 | 40.92 | 56.25 | 54.69 |",
        "| ravdess-07+ravdess-11+ravdess-14+ravdess-16 | lowest_loss | 60 | 10 | 39.58 | 46.67 | 45.31 |",
        "| ravdess-09+ravdess-10+ravdess-22+ravdess-23 | selection | 155 | 103 | 59.50 | 49.17 | 48.44 |",
        "| ravdess-09+ravdess-10+ravdess-22+ravdess-23 | lowest_loss | 67 | 17 | 53.75 | 45.42 | 43.36 |",
        "| ravdess-05+ravdess-12+ravdess-17+ravdess-18 | selection | 95 | 43 | 52.83 | 44.58 | 43.75 |",
        "| ravdess-05+ravdess-12+ravdess-17+ravdess-18 | lowest_loss | 65 | 15 | 49.17 | 41.25 | 40.62 |",
        "| ravdess-01+ravdess-04+ravdess-15+ravdess-24 | selection | 134 | 82 | 56.00 | 51.25 | 52.34 |",
        "| ravdess-01+ravdess-04+ravdess-15+ravdess-24 | lowest_loss | 67 | 17 | 49.17 | 51.67 | 51.56 |",
        "| mean of 6 folds | selection |  |  | 53.04 | 52.85 | 51.95 |",
        "| mean of 6 folds | lowest_loss |  |  | 46.67 | 45.49 | 44.86 |"],
    # "Ablations on EmoDB": the validation and loss-rule columns
    "wavelet_emodb_ablation_bf16/filters_128": [
        "| mean of 5 folds | val_loss |  |  | 80.44 | 76.14 | 74.62 |",
        "| mean of 5 folds | selection |  |  | 81.08 | 76.51 | 74.90 |"],
}


@pytest.mark.parametrize("name", sorted(QUOTED))
def test_the_committed_runs_give_the_figures_docs_quote(name):
    lines = replay.table(replay.RunDir(ROOT / "results" / name)).splitlines()
    assert [row for row in QUOTED[name] if row not in lines] == []
    assert not any(line.startswith("- ") for line in lines)  # each run's own rule replays to its record


def test_replaying_the_loss_rule_on_the_ravdess_rerun_gives_the_run_that_stopped_on_the_loss():
    # docs/results.md, "The replay is the first table, fold for fold": the same seed, folds and
    # code, so the rerun's trajectories begin as the first run's did, and the loss rule replayed
    # on them must train and keep the epochs the first run did and score its test figures.
    rerun = replay.RunDir(ROOT / "results" / "wavelet_ravdess_full_si_bf16_stop_on_selection")
    _, first = fold_tables.scored_folds(replay.RunDir(ROOT / "results" / "wavelet_ravdess_full_si_bf16"))
    assert len(first) == 6
    names = fold_tables.fold_names(rerun)
    for done, fold in zip(first, rerun.all_folds(), strict=True):
        assert names[fold.seed][fold.fold] == done["name"]  # the same test actors
        loss_rule = replay.replay_fold(fold)[0]["val_loss"]
        assert (loss_rule["trained"], loss_rule["kept"]) == (done["epochs"], done["epoch"])
        assert (loss_rule["wa"], loss_rule["ua"]) == pytest.approx((done["wa"], done["ua"]), abs=5e-5)


def test_the_lowest_loss_rule_keeps_the_lowest_validation_loss_whatever_the_run_selects_on():
    # The RAVDESS rerun selects on windowed validation accuracy; the replayed paper's rule stops
    # where the loss rule stops and keeps the epoch of lowest validation loss among those trained.
    run = replay.RunDir(ROOT / "results" / "wavelet_ravdess_full_si_bf16_stop_on_selection")
    kept_elsewhere = 0
    for fold in run.all_folds():
        rows = replay.replay_fold(fold)[0]
        history = fold.read_history()[:rows["val_loss"]["trained"]]
        lowest = min(history, key=lambda row: row["val_loss"])
        assert (rows["lowest_loss"]["trained"], rows["lowest_loss"]["kept"]) == (len(history), int(lowest["epoch"]))
        assert rows["lowest_loss"]["val"] == pytest.approx(lowest["val_acc"])  # its lone epoch, not a window
        kept_elsewhere += rows["lowest_loss"]["kept"] != rows["val_loss"]["kept"]
    assert kept_elsewhere >= 4  # the two choices differ on this run (5 of its 6 folds)


def test_the_replayed_papers_rule_on_the_cnn_transformer_rerun_gives_the_first_runs_fold():
    # docs/results.md, "Why the run continues under another rule": the first run chose on the
    # lowest validation loss; the rerun (same seed, folds and code) replays that rule to the
    # same epochs and, from its per-epoch test scores, to the same test figures.
    rerun = replay.RunDir(ROOT / "results" / "cnn_transformer_ravdess_speaker_independent_stop_on_selection")
    _, first = fold_tables.scored_folds(replay.RunDir(ROOT / "results" / "cnn_transformer_ravdess_speaker_independent"))
    done, fold = first[0], next(rerun.all_folds())
    assert fold_tables.fold_names(rerun)[fold.seed][fold.fold] == done["name"]
    paper = replay.replay_fold(fold)[0]["lowest_loss"]
    assert (paper["trained"], paper["kept"]) == (done["epochs"], done["epoch"]) == (72, 22)
    assert (paper["wa"], paper["ua"]) == pytest.approx((done["wa"], done["ua"]), abs=5e-5)
