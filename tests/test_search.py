"""`serkit search`: a 2×2 grid on a small fake corpus, chosen on validation data only."""

from __future__ import annotations

import contextlib
import csv
import io
import shutil
from pathlib import Path

import pytest
import yaml

from serkit.cli import main
from serkit.errors import ConfigError
from serkit.training import runner
from serkit.training.config import config_from_dict, load_config
from serkit.rundir import RunDir
from serkit.training.search import make_trials, parse_grid_option, run_search, validation_scores, with_grid
from tests.conftest import FAKE_EMOTIONS

EMOTIONS = FAKE_EMOTIONS
LEARNING_RATES = [0.01, 0.001]
DROPOUTS = [0.1, 0.5]
BASE = {
    "experiment": "fake",
    "data": {"corpora": ["folder"]},
    "features": {"name": "fusion107", "params": {"pooling": "mean"}},
    "model": {"name": "speechnet", "params": {"encoder_units": [32, 16], "lstm_units": 8}},
    "protocol": {"split": "kfold", "params": {"n_folds": 2, "val_fraction": 0.2}},
    "seeds": 1,
    "training": {"epochs": 2, "batch_size": 8, "checkpoint_every": 2},
}


@pytest.fixture(autouse=True, scope="module")
def module_setup(tmp_path_factory):
    """A private feature cache, one torch thread, and reports without figures for the module.

    Figures (a third of the run time here) are tested with the reports; a search only
    reads report.json.
    """
    import torch

    from serkit.evaluation import report

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SERKIT_CACHE", str(tmp_path_factory.mktemp("cache")))
        patch.setattr(report, "_write_figures", lambda *args, **kwargs: [])
        yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def config_path(tmp_path_factory) -> Path:
    """The config holds the learning-rate grid; the dropout grid comes from --grid."""
    path = tmp_path_factory.mktemp("config") / "fake.yaml"
    path.write_text(yaml.safe_dump({**BASE, "search": {"grid": {"training.learning_rate": LEARNING_RATES}}}))
    return path


class CountingRunFold:
    """Counts the folds trained; can raise KeyboardInterrupt at a given call (a crash)."""

    def __init__(self, crash_at: int | None = None):
        self.calls = 0
        self.crash_at = crash_at
        self.real = runner.run_fold

    def __call__(self, *args, **kwargs):
        self.calls += 1
        if self.calls == self.crash_at:
            raise KeyboardInterrupt
        return self.real(*args, **kwargs)


@pytest.fixture(scope="module")
def search(fake_root, config_path, tmp_path_factory) -> dict:
    """One search, interrupted in its third trial, resumed through the CLI, then rerun."""
    out = tmp_path_factory.mktemp("search") / "out"
    config = with_grid(load_config(config_path), {"model.params.dropout": DROPOUTS})
    facts: dict = {"out": out}
    with pytest.MonkeyPatch.context() as patch:
        # 2 folds per trial: the 5th fold is the first of trial=2.
        crashing = CountingRunFold(crash_at=5)
        patch.setattr(runner, "run_fold", crashing)
        with pytest.raises(KeyboardInterrupt):
            run_search(config, out_dir=out, data_root=fake_root, progress=False, echo=lambda line: None)
        facts["rows_after_crash"] = read_rows(out / "trials.csv")
        facts["mtimes_before"] = model_mtimes(out)

        argv = ["search", str(config_path), "--grid", "model.params.dropout=0.1,0.5",
                "--data-root", str(fake_root), "--out", str(out)]
        for name in ("resume", "rerun"):
            counter = CountingRunFold()
            patch.setattr(runner, "run_fold", counter)
            stdout = io.StringIO()
            with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(io.StringIO()):
                facts[f"{name}_code"] = main(argv)
            facts[f"{name}_folds"] = counter.calls
            facts[f"{name}_stdout"] = stdout.getvalue()
    facts["mtimes_after"] = model_mtimes(out)
    return facts


def read_rows(path: Path) -> list[dict]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def model_mtimes(out: Path) -> dict[str, int]:
    return {str(p.relative_to(out)): p.stat().st_mtime_ns for p in out.glob("trial=*/seed=*/fold=*/model.pt")}


def mean_selected(trial_dir: Path, column: str) -> float:
    """A trial's mean validation score at the selected checkpoints, read independently."""
    values = [float(row[column]) for history in sorted(trial_dir.glob("seed=*/fold=*/history.csv"))
              for row in read_rows(history) if row["selected"] == "1"]
    assert len(values) == 2  # one seed × two folds
    return sum(values) / len(values)


def test_every_trial_runs_into_its_own_folder(search):
    out = search["out"]
    assert sorted(p.name for p in out.glob("trial=*")) == [f"trial={i}" for i in range(4)]
    grid = [(lr, d) for lr in LEARNING_RATES for d in DROPOUTS]
    for i, (lr, dropout) in enumerate(grid):
        trial_dir = out / f"trial={i}"
        assert (trial_dir / "report.json").exists() and (trial_dir / "trial.json").exists()
        saved = yaml.safe_load((trial_dir / "config.yaml").read_text())
        assert "search" not in saved
        assert saved["training"]["learning_rate"] == lr and saved["model"]["params"]["dropout"] == dropout
        assert saved["model"]["params"]["encoder_units"] == [32, 16]


def test_the_table_has_a_row_per_trial_and_the_choice_is_on_validation(search):
    out = search["out"]
    rows = read_rows(out / "trials.csv")
    assert [int(r["trial"]) for r in rows] == [0, 1, 2, 3]
    assert set(rows[0]) >= {"training.learning_rate", "model.params.dropout", "val_loss", "val_accuracy",
                            "test_accuracy", "test_ua", "runs", "fits", "wall_s", "chosen"}
    losses = [mean_selected(out / f"trial={i}", "val_loss") for i in range(4)]
    for row, loss in zip(rows, losses):
        assert float(row["val_loss"]) == pytest.approx(loss)
        assert row["runs"] == "1" and row["fits"] == "2"
    best = min(range(4), key=losses.__getitem__)
    assert [int(r["chosen"]) for r in rows] == [int(i == best) for i in range(4)]

    markdown = (out / "trials.md").read_text()
    assert "validation data only" in markdown and "never used for the choice" in markdown
    assert markdown.count("\n| ") == 5  # header + 4 trials
    assert f"Chosen: trial={best}" in markdown
    assert f"Chosen: trial={best}" in search["resume_stdout"]
    assert "best.yaml" in search["resume_stdout"]


def test_best_yaml_is_the_chosen_trials_config_and_runs(search):
    out = search["out"]
    chosen = next(int(r["trial"]) for r in read_rows(out / "trials.csv") if r["chosen"] == "1")
    best = load_config(out / "best.yaml")
    assert best.search is None and best.experiment == "fake-best"
    trial = yaml.safe_load((out / f"trial={chosen}" / "config.yaml").read_text())
    assert {**best.to_dict(), "experiment": trial["experiment"]} == trial


def test_an_interrupted_search_resumes_without_retraining_finished_trials(search):
    assert [int(r["trial"]) for r in search["rows_after_crash"]] == [0, 1]
    assert search["resume_code"] == 0
    assert search["resume_folds"] == 4  # trials 2 and 3 only, two folds each
    assert search["rerun_code"] == 0 and search["rerun_folds"] == 0
    before, after = search["mtimes_before"], search["mtimes_after"]
    assert len(before) == 4 and all(after[name] == mtime for name, mtime in before.items())
    assert len(after) == 8
    assert "(finished, skipped)" in search["rerun_stdout"]
    assert "[4/4] trial=3: training.learning_rate=0.001, model.params.dropout=0.5" in search["rerun_stdout"]


def test_select_val_accuracy_rechooses_without_training(search, fake_root, config_path, tmp_path, monkeypatch):
    out = tmp_path / "copy"
    shutil.copytree(search["out"], out)
    counter = CountingRunFold()
    monkeypatch.setattr(runner, "run_fold", counter)
    config = with_grid(load_config(config_path), {"model.params.dropout": DROPOUTS}, select="val_accuracy")
    result = run_search(config, out_dir=out, data_root=fake_root, progress=False, echo=lambda line: None)
    assert counter.calls == 0
    accuracies = [mean_selected(out / f"trial={i}", "val_acc") for i in range(4)]
    assert accuracies[result.best.trial.index] == max(accuracies)
    assert result.best.trial.index == accuracies.index(max(accuracies))  # first on a tie


def test_another_grid_in_the_same_folder_is_refused(search, fake_root, config_path):
    config = with_grid(load_config(config_path), {"model.params.dropout": [0.2, 0.3]})
    with pytest.raises(ConfigError, match="different config or grid"):
        run_search(config, out_dir=search["out"], data_root=fake_root, progress=False, echo=lambda line: None)


def test_a_search_resumes_on_another_thread_count(search, fake_root, config_path, tmp_path, monkeypatch):
    """The thread count is the machine's: the finished search, run again on two threads,
    trains nothing and is not refused (another grid still is, above)."""
    out = tmp_path / "copy"
    shutil.copytree(search["out"], out)
    counter = CountingRunFold()
    monkeypatch.setattr(runner, "run_fold", counter)
    config = with_grid(load_config(config_path), {"model.params.dropout": DROPOUTS})
    two = config_from_dict({**config.to_dict(), "training": {**config.to_dict()["training"], "num_threads": 2}})
    run_search(two, out_dir=out, data_root=fake_root, progress=False, echo=lambda line: None)
    assert counter.calls == 0


@pytest.mark.parametrize("argv, message", [
    (["--grid", "training.learning_rat=0.1,0.01"], "unknown key 'learning_rat' (did you mean 'learning_rate'?)"),
    (["--grid", "trainig.epochs=1,2"], "unknown key 'trainig' (did you mean 'training'?)"),
    (["--grid", "training.epochs=1,many"], "epochs must be int, not 'many'"),
    (["--grid", "model.params.dropuot=0.1,0.2"], "model 'speechnet' has no parameter 'dropuot'"),
    (["--grid", "training.epochs"], "--grid expects KEY=V1,V2"),
    ([], "nothing to search"),
])
def test_bad_grids_are_one_line_errors(tmp_path, capsys, argv, message):
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(BASE))
    code = main(["search", str(path), *argv, "--out", str(tmp_path / "out"), "--data-root", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("serkit: error: ") and err.count("\n") == 1
    assert message in err
    assert not (tmp_path / "out").exists()  # refused before anything ran


def test_a_bad_key_in_the_configs_own_grid_is_a_one_line_error(tmp_path, capsys):
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump({**BASE, "search": {"grid": {"model.parms.dropout": [0.1]}}}))
    assert main(["search", str(path)]) == 2
    err = capsys.readouterr().err
    assert "unknown key 'parms' (did you mean 'params'?)" in err and err.count("\n") == 1


def test_grid_values_parse_as_yaml_scalars():
    assert parse_grid_option("training.learning_rate=0.01,1e-3, 5E-4") == ("training.learning_rate",
                                                                           [0.01, 0.001, 0.0005])
    values = parse_grid_option("training.batch_size=16,32")[1]
    assert values == [16, 32] and all(type(v) is int for v in values)
    assert parse_grid_option("training.optimizer=adam,sgd") == ("training.optimizer", ["adam", "sgd"])
    assert parse_grid_option("model.params.encoder_units=[64,32],[128]")[1] == [[64, 32], [128]]
    assert parse_grid_option("model.params.routing=true,false")[1] == [True, False]
    for bad in ("training.batch_size", "=1,2", "training.batch_size=", "training.batch_size=1,,2"):
        with pytest.raises(ConfigError, match="--grid"):
            parse_grid_option(bad)


def test_the_grid_is_a_cartesian_product_of_validated_values():
    config = config_from_dict({**BASE, "search": {"grid": {"training.batch_size": [8, 16, 32],
                                                           "training.optimizer": ["adam", "sgd"]}}})
    trials = make_trials(config)
    assert len(trials) == 6
    assert trials[1].values == {"training.batch_size": 8, "training.optimizer": "sgd"}
    assert trials[1].config.training.optimizer == "sgd" and trials[1].config.search is None
    assert trials[5].config.experiment == "fake/trial=5"
    # --grid replaces a key's values from the config and adds new keys after them.
    merged = with_grid(config, {"training.batch_size": [4], "training.epochs": [1, 2]})
    assert merged.search.grid == {"training.batch_size": [4], "training.optimizer": ["adam", "sgd"],
                                  "training.epochs": [1, 2]}


@pytest.mark.parametrize("search, message", [
    ({"grid": {"training.epochs": []}}, "non-empty list"),
    ({"grid": {"training.epochs": 3}}, "non-empty list"),
    ({"grid": {"search.select": ["val_loss"]}}, "cannot vary"),
    ({"grid": {"training.epochs": [1]}, "select": "test_accuracy"}, "search.select must be one of"),
])
def test_search_configs_are_validated(search, message):
    with pytest.raises(ConfigError, match=message):
        config_from_dict({**BASE, "search": search})


def test_plain_configs_keep_their_resolved_form():
    # Run folders compare resolved configs: one without a search must not gain a key.
    assert "search" not in config_from_dict(BASE).to_dict()


def test_a_windowed_choice_is_scored_by_its_window(tmp_path):
    """With training.select_window, a trial's validation score at a fold's kept epoch is the
    mean over the epochs around it, the score that chose it, not that epoch's lone peak."""
    fold = RunDir(tmp_path).fold(0, 0)
    fold.path.mkdir(parents=True)
    accs, losses = [0.2, 0.9, 0.5, 0.6, 0.9], [1.0, 0.5, 0.8, 0.7, 0.3]
    rows = [{"epoch": e, "train_loss": 1.0, "train_acc": 0.5, "val_loss": loss, "val_acc": acc, "wall_s": 1.0}
            for e, (loss, acc) in enumerate(zip(losses, accs), start=1)]
    fold.write_history(rows, selected_epoch=4)
    assert validation_scores(tmp_path, [0]) == (pytest.approx(0.7), pytest.approx(0.6), 1)
    loss, accuracy, fits = validation_scores(tmp_path, [0], window=3)
    assert (loss, accuracy, fits) == (pytest.approx((0.8 + 0.7 + 0.3) / 3), pytest.approx((0.5 + 0.6 + 0.9) / 3), 1)
    _, accuracy, _ = validation_scores(tmp_path, [0], window=5)
    assert accuracy == pytest.approx((0.9 + 0.5 + 0.6 + 0.9) / 4)  # epochs 2-5: training ended at 5
