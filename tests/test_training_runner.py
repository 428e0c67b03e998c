"""The experiment engine end to end on a small fake corpus, and once on real EmoDB."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import yaml

from serkit.cli import main
from serkit.errors import ConfigError
from serkit.training.config import config_from_dict
from serkit.training.runner import run_experiment, run_variants
from tests.conftest import FAKE_EMOTIONS, corpus_root

EMOTIONS = FAKE_EMOTIONS


@pytest.fixture(autouse=True, scope="module")
def _own_cache(private_cache):
    """Features of this module's fake corpora go to a cache of their own."""


def config(**changes):
    raw = {
        "experiment": "fake",
        "data": {"corpora": ["folder"]},
        "features": {"name": "fusion107", "params": {"pooling": "mean"}},
        "model": {"name": "speechnet"},
        "protocol": {"split": "kfold", "params": {"n_folds": 2, "val_fraction": 0.2}},
        "seeds": 2,
        "training": {"epochs": 4, "batch_size": 8, "checkpoint_every": 2},
    }
    for key, value in changes.items():
        section, _, name = key.partition("__")
        if name:
            raw[section] = {**raw[section], name: value}
        else:
            raw[section] = value
    return config_from_dict(raw)


def read_rows(path: Path) -> list[dict]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_run_writes_every_fold_and_a_report(fake_root, tmp_path):
    out = tmp_path / "run"
    report = run_experiment(config(), out_dir=out, data_root=fake_root, progress=False)
    for seed in (0, 1):
        assert (out / f"seed={seed}" / "folds.json").exists()
        for fold in (0, 1):
            fold_dir = out / f"seed={seed}" / f"fold={fold}"
            for name in ("config.yaml", "model.pt", "history.csv", "predictions.csv", "scaler.json"):
                assert (fold_dir / name).exists(), name
            assert not (fold_dir / "training_state.pt").exists()
            history = read_rows(fold_dir / "history.csv")
            assert len(history) == 4 and sum(int(r["selected"]) for r in history) == 1
    # Each seed tests every utterance exactly once across its folds.
    rows = [r for f in out.glob("seed=0/fold=*/predictions.csv") for r in read_rows(f)]
    assert len(rows) == 30 and len({r["utt_id"] for r in rows}) == 30
    assert set(report["metrics"]) >= {"accuracy", "uar", "macro_f1"}
    assert (out / "report.json").exists() and (out / "report.md").exists()


def test_same_seed_gives_identical_predictions(fake_root, tmp_path):
    a = run_experiment(config(seeds=1), out_dir=tmp_path / "a", data_root=fake_root, progress=False)
    b = run_experiment(config(seeds=1), out_dir=tmp_path / "b", data_root=fake_root, progress=False)
    for fold in (0, 1):
        rel = Path("seed=0") / f"fold={fold}" / "predictions.csv"
        assert read_rows(tmp_path / "a" / rel) == read_rows(tmp_path / "b" / rel)
    assert a["metrics"] == b["metrics"]


def test_interrupted_run_resumes_to_the_same_result(fake_root, tmp_path, monkeypatch):
    from serkit.training import fit as fit_module

    reference = tmp_path / "reference"
    run_experiment(config(seeds=1), out_dir=reference, data_root=fake_root, progress=False)

    # Interrupt the second fold after its first saved state (epoch 2 of 4).
    out = tmp_path / "resumed"
    real_save = fit_module._TrainingState.save
    calls = {"n": 0}

    def crash_after_save(self, path, *args, **kwargs):
        real_save(self, path, *args, **kwargs)
        if "fold=1" in str(path):
            calls["n"] += 1
            raise KeyboardInterrupt

    monkeypatch.setattr(fit_module._TrainingState, "save", crash_after_save)
    with pytest.raises(KeyboardInterrupt):
        run_experiment(config(seeds=1), out_dir=out, data_root=fake_root, progress=False)
    assert (out / "seed=0" / "fold=0" / "predictions.csv").exists()
    assert (out / "seed=0" / "fold=1" / "training_state.pt").exists()
    assert not (out / "seed=0" / "fold=1" / "predictions.csv").exists()

    monkeypatch.setattr(fit_module._TrainingState, "save", real_save)
    run_experiment(config(seeds=1), out_dir=out, data_root=fake_root, progress=False)
    for fold in (0, 1):
        rel = Path("seed=0") / f"fold={fold}" / "predictions.csv"
        assert read_rows(out / rel) == read_rows(reference / rel)


def test_sklearn_models_run_through_the_same_engine(fake_root, tmp_path):
    holdout = {"split": "holdout", "params": {"test_fraction": 0.2, "val_fraction": 0.1}}
    report = run_experiment(config(model={"name": "svm"}, protocol=holdout, seeds=1), out_dir=tmp_path / "svm",
                            data_root=fake_root, progress=False)
    assert (tmp_path / "svm" / "seed=0" / "fold=0" / "model.joblib").exists()
    assert report["metrics"]["accuracy"]["mean"] > 0.5


def test_a_changed_config_is_refused_in_an_existing_run_folder(fake_root, tmp_path):
    run_experiment(config(seeds=1), out_dir=tmp_path / "run", data_root=fake_root, progress=False)
    with pytest.raises(ConfigError, match="different config"):
        run_experiment(config(seeds=1, training={"epochs": 5, "batch_size": 8}),
                       out_dir=tmp_path / "run", data_root=fake_root, progress=False)


def test_a_run_resumes_on_another_thread_count(fake_root, tmp_path):
    """The thread count is the machine's, not the experiment's: more seeds on two threads
    extend a run begun on one, and the finished seed is not redone."""
    run_experiment(config(seeds=1, training={"epochs": 2, "batch_size": 8, "num_threads": 1}),
                   out_dir=tmp_path / "run", data_root=fake_root, progress=False)
    first = (tmp_path / "run" / "seed=0" / "fold=0" / "predictions.csv").stat().st_mtime_ns
    run_experiment(config(seeds=2, training={"epochs": 2, "batch_size": 8, "num_threads": 2}),
                   out_dir=tmp_path / "run", data_root=fake_root, progress=False)
    assert (tmp_path / "run" / "seed=0" / "fold=0" / "predictions.csv").stat().st_mtime_ns == first
    assert (tmp_path / "run" / "seed=1" / "fold=0" / "predictions.csv").exists()


def test_no_validation_needs_select_last(fake_root, tmp_path):
    bad = config(protocol={"split": "kfold", "params": {"n_folds": 2, "val_fraction": 0}}, seeds=1)
    with pytest.raises(ConfigError, match="no validation data"):
        run_experiment(bad, out_dir=tmp_path / "run", data_root=fake_root, progress=False)


@pytest.mark.parametrize("weighted", [True, False])
def test_training_class_weights_switch(weighted, fake_root, tmp_path, monkeypatch):
    import serkit.training.runner as runner

    given = []
    real = runner.make_loss

    def spy(name, *, class_weights=None, **params):
        given.append(class_weights)
        return real(name, class_weights=class_weights, **params)

    monkeypatch.setattr(runner, "make_loss", spy)
    run_experiment(config(seeds=1, training={"epochs": 1, "batch_size": 8, "class_weights": weighted}),
                   out_dir=tmp_path / "run", data_root=fake_root, progress=False)
    assert len(given) == 2  # one loss per fold
    if weighted:  # inverse class frequencies of the fold's training side
        assert all(w is not None and w.shape == (len(EMOTIONS),) for w in given)
    else:  # every class weighs 1: the unweighted loss
        assert all(w is None for w in given)


def test_cli_run_reports_bad_input_in_one_line(fake_root, tmp_path, capsys):
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump({**config().to_dict(), "model": {"name": "speechnet2", "params": {}}}))
    code = main(["run", str(path), "--data-root", str(fake_root), "--out", str(tmp_path / "run")])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith(f"serkit: error: {path}: unknown model 'speechnet2'. Did you mean 'speechnet'?")
    assert err.count("\n") == 1
    assert not (tmp_path / "run").exists()  # refused when the config is read, before any work


@pytest.mark.slow
@pytest.mark.data
def test_short_real_training_on_emodb_beats_the_majority_baseline(tmp_path, one_torch_thread):
    # Cross-entropy: the balanced margin loss spikes near zero (issue 16) and made this
    # engine test depend on the thread count; SpeechNet's own loss has its own tests.
    root = corpus_root("emodb").parent
    short = config(
        data={"corpora": ["emodb"]},
        protocol={"split": "holdout", "params": {"test_fraction": 0.2, "val_fraction": 0.1}},
        seeds=1,
        training={"epochs": 60, "batch_size": 64, "loss": {"name": "cross_entropy"}},
    )
    report = run_experiment(short, out_dir=tmp_path / "emodb", data_root=root, progress=False)
    accuracy = report["metrics"]["accuracy"]["mean"]
    majority = report["majority_baseline"]["accuracy"]
    assert accuracy > majority + 0.2, (accuracy, majority)


def test_a_fixed_split_seed_gives_every_run_the_same_test_side(fake_root, tmp_path):
    fixed = config(protocol={"split": "holdout", "params": {"test_fraction": 0.2, "val_fraction": 0.2},
                             "split_seed": 7}, training={"epochs": 2, "batch_size": 8})
    report = run_experiment(fixed, out_dir=tmp_path / "run", data_root=fake_root, progress=False)
    tested = [{r["utt_id"] for r in read_rows(tmp_path / "run" / f"seed={s}" / "fold=0" / "predictions.csv")}
              for s in (0, 1)]
    assert tested[0] == tested[1]
    assert report["reproducibility"]["plr"] is not None


def test_variants_run_side_by_side_and_are_reported_separately(fake_root, tmp_path, capsys):
    both = config(seeds=1, training={"epochs": 2, "batch_size": 8},
                  variants={"speechnet": {}, "svm": {"model.name": "svm"}})
    both = config_from_dict({**both.to_dict(), "protocol": {"split": "holdout", "params": {"test_fraction": 0.2, "val_fraction": 0.1}}})
    reports = run_variants(both, out_dir=tmp_path / "run", data_root=fake_root, progress=False)
    assert list(reports) == ["speechnet", "svm"]
    assert list(json.loads((tmp_path / "run" / "summary.json").read_text())["variants"]) == ["speechnet", "svm"]
    with pytest.raises(ConfigError, match="has variants"):
        run_experiment(both, out_dir=tmp_path / "other", data_root=fake_root, progress=False)
    summary_md = (tmp_path / "run" / "summary.md").read_text()
    # One seed: a mean has no spread and there is nothing to reproduce, so neither "± 0.00"
    # nor empty PLR/PCLR columns.
    assert "±" not in summary_md and "plr" not in summary_md and "speechnet |" in summary_md
    assert main(["report", str(tmp_path / "run")]) == 0
    out = capsys.readouterr().out
    assert out.count("wrote") == 2 and "svm: accuracy" in out and "±" not in out

    # A new variant extends the run (finished variants are not redone); a changed variant
    # is refused by its own folder.
    svm_predictions = (tmp_path / "run" / "svm" / "seed=0" / "fold=0" / "predictions.csv").stat().st_mtime_ns
    more = config_from_dict({**both.to_dict(), "variants": {**both.variants, "svm_c2": {"model.name": "svm",
                                                                                         "model.params.C": 2.0}}})
    assert list(run_variants(more, out_dir=tmp_path / "run", data_root=fake_root, progress=False)) == [
        "speechnet", "svm", "svm_c2"]
    assert (tmp_path / "run" / "svm" / "seed=0" / "fold=0" / "predictions.csv").stat().st_mtime_ns == svm_predictions
    changed = config_from_dict({**both.to_dict(), "variants": {"speechnet": {}, "svm": {"model.name": "svm",
                                                                                       "model.params.C": 3.0}}})
    with pytest.raises(ConfigError, match="different config"):
        run_variants(changed, out_dir=tmp_path / "run", data_root=fake_root, progress=False)


def test_chosen_variants_run_one_at_a_time_into_one_folder(fake_root, tmp_path, capsys):
    """--variant runs only the named variants; the summary gathers every finished one."""
    three = config(seeds=1, training={"epochs": 2, "batch_size": 8},
                   protocol={"split": "holdout", "params": {"test_fraction": 0.2, "val_fraction": 0.1}},
                   variants={"svm": {"model.name": "svm"}, "svm_c2": {"model.name": "svm", "model.params.C": 2.0},
                             "svm_c3": {"model.name": "svm", "model.params.C": 3.0}})
    out = tmp_path / "run"
    assert list(run_variants(three, out_dir=out, data_root=fake_root, progress=False, only=["svm_c3"])) == ["svm_c3"]
    assert not (out / "svm").exists() and not (out / "svm_c2").exists()
    assert list(json.loads((out / "summary.json").read_text())["variants"]) == ["svm_c3"]
    # A later call adds another; the summary keeps the config's order and both.
    assert list(run_variants(three, out_dir=out, data_root=fake_root, progress=False, only=["svm"])) == ["svm"]
    assert list(json.loads((out / "summary.json").read_text())["variants"]) == ["svm", "svm_c3"]
    assert not (out / "svm_c2").exists()
    with pytest.raises(ConfigError, match=r"no variant 'svm_c9'.*svm, svm_c2, svm_c3"):
        run_variants(three, out_dir=out, data_root=fake_root, progress=False, only=["svm_c9"])
    plain = config(seeds=1)
    with pytest.raises(ConfigError, match="no variants"):
        run_variants(plain, out_dir=tmp_path / "plain", data_root=fake_root, progress=False, only=["svm"])
    assert not (tmp_path / "plain").exists()

    path = tmp_path / "three.yaml"
    path.write_text(yaml.safe_dump(three.to_dict()))
    assert main(["run", str(path), "--out", str(out), "--data-root", str(fake_root), "--variant", "nope"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no variant 'nope'" in err and "Traceback" not in err


def test_augmentation_adds_noisy_copies_of_the_training_side_only(fake_root, tmp_path, monkeypatch):
    import json as json_module

    import serkit.training.runner as runner

    seen = []
    original = runner.extract_corpus

    def spy(paths, extractor, **kwargs):
        seen.append((getattr(extractor, "copy", None), len(paths)))
        return original(paths, extractor, **kwargs)

    monkeypatch.setattr(runner, "extract_corpus", spy)
    augmented = config(seeds=1, protocol={"split": "holdout", "params": {"test_fraction": 0.2, "val_fraction": 0.2}},
                       training={"epochs": 2, "batch_size": 8,
                                 "augment": [{"name": "white_noise", "params": {"copies": 2}}]})
    run_experiment(augmented, out_dir=tmp_path / "run", data_root=fake_root, progress=False)
    fold = json_module.loads((tmp_path / "run" / "seed=0" / "folds.json").read_text())["folds"][0]
    # One clean pass over the corpus, then one pass per noisy copy over the training side.
    assert seen[0] == (None, 30)
    assert seen[1:] == [(0, len(fold["train"])), (1, len(fold["train"]))]
    assert len(read_rows(tmp_path / "run" / "seed=0" / "fold=0" / "predictions.csv")) == len(fold["test"])
