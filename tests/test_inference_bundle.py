"""Model bundles: save/load round trip, damaged and invalid bundles, bundles from runs."""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from serkit.cli import main
from serkit.errors import ConfigError
from serkit.features import Standardizer, make_features
from serkit.inference import bundle_from_run, load_model, read_bundle, save_bundle
from serkit.inference.bundle import BUNDLE_KEYS, FORMAT
from serkit.models import make_model
from serkit.training.config import config_from_dict
from serkit.training.runner import run_experiment
from tests.conftest import FAKE_EMOTIONS, TINY_LABELS, write_fake_corpus, write_tone


def copy_bundle(source: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(source, tmp_path / "copy"))


def edit_json(folder: Path, change) -> None:
    info = json.loads((folder / "bundle.json").read_text())
    change(info)
    (folder / "bundle.json").write_text(json.dumps(info))


# --- save and load --------------------------------------------------------------------

def test_round_trip_keeps_weights_bit_equal_and_predictions(tmp_path, one_torch_thread):
    torch.manual_seed(3)
    extractor = make_features("fusion107")
    tones = [write_tone(tmp_path / f"t{i}.wav", seconds=0.5, freq=150.0 + 60 * i, seed=i) for i in range(4)]
    import soundfile as sf

    signals = [sf.read(t, dtype="float32")[0] for t in tones]
    features = np.stack([extractor(s) for s in signals])
    scaler = Standardizer().fit(features)
    model = make_model("mlp" if "mlp" in _models() else "cnn", extractor.dim, 5).eval()
    folder = save_bundle(tmp_path / "b", name="round", model=model, extractor=extractor,
                         standardizer=scaler, labels=TINY_LABELS, training={"corpora": ["x"]},
                         metrics={"uar": 0.5}, description="a test", card="# round\n")

    info = read_bundle(folder)
    assert list(info) == list(BUNDLE_KEYS) and info["format"] == FORMAT
    assert info["model"]["n_features"] == 107 and info["model"]["n_classes"] == 5
    assert info["features"] == {"name": "fusion107", "params": extractor.params}
    assert info["training"] == {"corpora": ["x"]} and info["metrics"] == {"uar": 0.5}
    assert (folder / "MODEL_CARD.md").read_text() == "# round\n"

    rec = load_model(folder)
    for key, value in model.state_dict().items():
        assert torch.equal(rec._model.state_dict()[key], value), key
    with torch.inference_mode():
        expected = torch.softmax(model(torch.from_numpy(scaler.transform(features))).double(), dim=1).numpy()
    got = np.array([[p.probabilities[k] for k in TINY_LABELS] for p in rec.predict_batch(tones)])
    assert np.array_equal(got, expected)
    # Saved again over itself: replaced whole, no temporary folders left beside it.
    save_bundle(folder, name="again", model=model, extractor=extractor, standardizer=None,
                labels=TINY_LABELS)
    assert read_bundle(folder)["name"] == "again" and read_bundle(folder)["standardizer"] is None
    assert not (folder / "MODEL_CARD.md").exists()
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


def _models() -> list[str]:
    from serkit.models import MODELS

    return MODELS.names()


def test_save_checks_what_it_writes(tmp_path):
    extractor = make_features("fusion107")
    model = make_model("cnn", extractor.dim, 5, channels=[4], kernel_size=3)
    common = {"model": model, "extractor": extractor, "standardizer": None}
    with pytest.raises(ConfigError, match="do not fit"):
        save_bundle(tmp_path / "a", name="a", labels=TINY_LABELS[:4], **common)
    with pytest.raises(ConfigError, match="do not fit"):  # built with channels=[4], not the default
        save_bundle(tmp_path / "a", name="a", labels=TINY_LABELS, model_params={}, **common)
    with pytest.raises(ConfigError, match="unique"):
        save_bundle(tmp_path / "a", name="a", labels=["x"] * 5, model_params={"channels": [4], "kernel_size": 3},
                    **common)
    with pytest.raises(ConfigError, match="name"):
        save_bundle(tmp_path / "a", name="", labels=TINY_LABELS, **common)
    other = tmp_path / "mine"
    other.mkdir()
    (other / "keep.txt").write_text("mine")
    with pytest.raises(ConfigError, match="not a model bundle"):
        save_bundle(other, name="a", labels=TINY_LABELS, model_params={"channels": [4], "kernel_size": 3},
                    **common)
    assert (other / "keep.txt").read_text() == "mine"
    assert not (tmp_path / "a").exists()


# --- damaged and invalid bundles ------------------------------------------------------

def test_damaged_weights_are_refused(tiny_bundle, tmp_path):
    folder = copy_bundle(tiny_bundle, tmp_path)
    data = bytearray((folder / "weights.pt").read_bytes())
    data[-100] ^= 0xFF
    (folder / "weights.pt").write_bytes(bytes(data))
    with pytest.raises(ConfigError, match="sha256.*damaged"):
        load_model(folder)
    (folder / "weights.pt").unlink()
    with pytest.raises(ConfigError, match="weights file is missing"):
        load_model(folder)


def test_pickled_code_in_weights_is_refused(tiny_bundle, tmp_path):
    import hashlib

    folder = copy_bundle(tiny_bundle, tmp_path)
    buffer = io.BytesIO()
    torch.save({"weight": torch.zeros(2), "payload": Path("/etc")}, buffer)  # an arbitrary object
    (folder / "weights.pt").write_bytes(buffer.getvalue())
    edit_json(folder, lambda i: i.update(weights_sha256=hashlib.sha256(buffer.getvalue()).hexdigest()))
    with pytest.raises(ConfigError, match="tensors-only"):
        load_model(folder)


@pytest.mark.parametrize("key", ["labels", "model", "weights_sha256", "features", "standardizer"])
def test_missing_keys_are_named(tiny_bundle, tmp_path, key):
    folder = copy_bundle(tiny_bundle, tmp_path)
    edit_json(folder, lambda info: info.pop(key))
    with pytest.raises(ConfigError, match=f"missing key.*{key}"):
        read_bundle(folder)


@pytest.mark.parametrize("change, message", [
    (lambda i: i.update(format="serkit-bundle/9"), "serkit-bundle/9"),
    (lambda i: i.update(labels=["anger"]), "n_classes is 5 but there are 1 labels"),
    (lambda i: i.update(sample_rate=-1), "sample_rate"),
    (lambda i: i["model"].update(n_features="107"), "n_features"),
    (lambda i: i.update(weights="../weights.pt"), "file name inside the bundle"),
    (lambda i: i.update(standardizer={"mean": [0.0], "scale": [1.0]}), "standardizer has 1 dimensions"),
    (lambda i: i.update(metrics=[]), "metrics"),
])
def test_invalid_values_are_explained(tiny_bundle, tmp_path, change, message):
    folder = copy_bundle(tiny_bundle, tmp_path)
    edit_json(folder, change)
    with pytest.raises(ConfigError, match=message):
        read_bundle(folder)


def test_unknown_model_or_features_name(tiny_bundle, tmp_path):
    folder = copy_bundle(tiny_bundle, tmp_path)
    edit_json(folder, lambda i: i["model"].update(name="cnm"))
    with pytest.raises(ConfigError, match=r"model cannot be built: unknown model 'cnm'.*Known models"):
        load_model(folder)
    edit_json(folder, lambda i: (i["model"].update(name="cnn"), i["features"].update(name="fusion99")))
    with pytest.raises(ConfigError, match="features cannot be built: unknown feature 'fusion99'"):
        load_model(folder)


def test_not_json_and_not_a_bundle(tiny_bundle, tmp_path):
    folder = copy_bundle(tiny_bundle, tmp_path)
    (folder / "bundle.json").write_text("{not json")
    with pytest.raises(ConfigError, match="not valid JSON"):
        read_bundle(folder)
    with pytest.raises(ConfigError, match="no bundle.json"):
        read_bundle(tmp_path)
    with pytest.raises(ConfigError, match="not found"):
        read_bundle(tmp_path / "nowhere")
    # The bundle.json path itself works too.
    assert read_bundle(tiny_bundle / "bundle.json")["name"] == "tiny"


def test_deeply_nested_json_is_a_config_error(tiny_bundle, tmp_path):
    folder = copy_bundle(tiny_bundle, tmp_path)
    (folder / "bundle.json").write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(ConfigError, match="nested too deeply"):
        read_bundle(folder)
    deep = []
    for _ in range(200):
        deep = [deep]
    edit_json_text = json.loads((tiny_bundle / "bundle.json").read_text())
    edit_json_text["training"] = {"x": deep}
    (folder / "bundle.json").write_text(json.dumps(edit_json_text))
    with pytest.raises(ConfigError, match="nested more than 64 levels"):
        read_bundle(folder)
    (folder / "bundle.json").write_text('{"format": ' + "1" * 5000 + "}")
    with pytest.raises(ConfigError, match="not valid JSON"):
        read_bundle(folder)


@pytest.mark.parametrize("params, message", [
    ({"channels": "lots", "kernel_size": 3}, "channels must be a list of integers, not 'lots'"),
    ({"channels": [8, 16], "kernel_size": "3"}, "kernel_size must be an integer, not '3'"),
    ({"channels": [8, 16], "kernel_size": 3, "dropout": None}, "dropout must be a finite number"),
    ({"channels": [200000, 200000], "kernel_size": 3}, r"channels\[0\] is 200000, over the limit of 65536"),
    ({"channels": [60000, 60000], "kernel_size": 3}, r"parameters, over the limit of 100,000,000"),
])
def test_model_params_of_a_bundle_are_checked_before_building(tiny_bundle, tmp_path, params, message):
    folder = copy_bundle(tiny_bundle, tmp_path)
    edit_json(folder, lambda i: i["model"].update(params=params))
    with pytest.raises(ConfigError, match=f"model cannot be built: model 'cnn'.*{message}"):
        load_model(folder)


def test_feature_params_of_a_bundle_are_checked(tiny_bundle, tmp_path):
    folder = copy_bundle(tiny_bundle, tmp_path)
    edit_json(folder, lambda i: i["features"]["params"].update(n_mfcc="25"))
    with pytest.raises(ConfigError, match="features cannot be built: feature 'fusion107': n_mfcc must be an integer"):
        load_model(folder)


def test_a_weights_file_that_is_a_link_is_refused_before_reading(tiny_bundle, tmp_path, monkeypatch):
    folder = copy_bundle(tiny_bundle, tmp_path)
    outside = tmp_path / "elsewhere" / "weights.pt"
    outside.parent.mkdir()
    shutil.move(folder / "weights.pt", outside)
    (folder / "weights.pt").symlink_to(outside)
    opened = []
    real_open = os.open
    monkeypatch.setattr(os, "open", lambda path, *a, **k: opened.append(str(path)) or real_open(path, *a, **k))
    with pytest.raises(ConfigError, match="weights.pt: the bundle's weights file is a symbolic link"):
        load_model(folder)
    assert not any(p.endswith("weights.pt") for p in opened)
    # A link to a file inside the folder is refused too: bundles hold plain files.
    (folder / "weights.pt").unlink()
    shutil.move(outside, folder / "real.pt")
    (folder / "weights.pt").symlink_to("real.pt")
    with pytest.raises(ConfigError, match="symbolic link"):
        load_model(folder)


def test_a_bundle_json_that_is_a_link_or_not_a_file_is_refused(tiny_bundle, tmp_path):
    folder = copy_bundle(tiny_bundle, tmp_path)
    shutil.move(folder / "bundle.json", tmp_path / "elsewhere.json")
    (folder / "bundle.json").symlink_to(tmp_path / "elsewhere.json")
    with pytest.raises(ConfigError, match="bundle.json: the bundle's description is a symbolic link"):
        read_bundle(folder)
    (folder / "bundle.json").unlink()
    (folder / "bundle.json").mkdir()
    with pytest.raises(ConfigError, match="not a regular file"):
        read_bundle(folder)


def test_a_weights_name_too_long_for_the_file_system_is_a_config_error(tiny_bundle, tmp_path):
    folder = copy_bundle(tiny_bundle, tmp_path)
    edit_json(folder, lambda i: i.update(weights="9" * 5000 + ".pt"))
    with pytest.raises(ConfigError, match="weights file cannot be read"):
        load_model(folder)

def test_a_weights_file_that_is_a_fifo_is_refused_without_blocking(tiny_bundle, tmp_path):
    folder = copy_bundle(tiny_bundle, tmp_path)
    (folder / "weights.pt").unlink()
    os.mkfifo(folder / "weights.pt")
    with pytest.raises(ConfigError, match="not a regular file"):
        load_model(folder)


# --- bundles from runs ----------------------------------------------------------------

EMOTIONS = FAKE_EMOTIONS


@pytest.fixture(scope="module")
def fake_data(tmp_path_factory) -> Path:
    """folder/<emotion>/<n>.wav: emotions differ by pitch; features cached privately."""
    root = tmp_path_factory.mktemp("data")
    write_fake_corpus(root)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SERKIT_CACHE", str(tmp_path_factory.mktemp("cache")))
        yield root


def run_fake(data: Path, out: Path, **changes) -> Path:
    raw = {
        "experiment": "fake",
        "data": {"corpora": ["folder"]},
        "features": {"name": "fusion107", "params": {"pooling": "mean"}},
        "model": {"name": "cnn", "params": {"channels": [8], "kernel_size": 3}},
        "protocol": {"split": "kfold", "params": {"n_folds": 2, "val_fraction": 0.2}},
        "seeds": 1,
        "first_seed": 3,
        "training": {"epochs": 2, "batch_size": 8, "num_threads": 1},
        **changes,
    }
    run_experiment(config_from_dict(raw), out_dir=out, data_root=data, progress=False)
    return out


@pytest.fixture(scope="module")
def fake_run(fake_data, tmp_path_factory) -> Path:
    """A finished 2-fold run of a small CNN (2 epochs, seed 3) on the fake corpus."""
    return run_fake(fake_data, tmp_path_factory.mktemp("runs") / "fake")


def test_bundle_from_run_predicts_what_the_run_predicted(fake_run, fake_data, tmp_path, one_torch_thread):
    folder = bundle_from_run(fake_run, out=tmp_path / "b")
    info = read_bundle(folder)
    assert info["name"] == "fake" and info["labels"] == sorted(EMOTIONS)
    assert info["model"]["name"] == "cnn" and info["model"]["params"]["channels"] == [8]
    assert (info["training"]["seed"], info["training"]["fold"]) == (3, 0)  # first seed, fold 0
    assert info["training"]["corpora"] == ["folder"] and info["training"]["protocol"]["split"] == "kfold"
    assert info["metrics"]["test"]["n"] == 15 and 0 <= info["metrics"]["test"]["uar"] <= 1
    assert "accuracy" in info["metrics"]["run"]
    assert "## Test metrics" in (folder / "MODEL_CARD.md").read_text()

    # The bundle reproduces the run's own test predictions from the audio files.
    with open(fake_run / "seed=3" / "fold=0" / "predictions.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    rec = load_model(folder)
    paths = [fake_data / "folder" / f"{row['utt_id']}.wav" for row in rows]
    for row, p in zip(rows, rec.predict_batch(paths)):
        expected = [float(row[f"p_{label}"]) for label in rec.labels]
        assert [p.probabilities[label] for label in rec.labels] == pytest.approx(expected, abs=1e-6)
        assert p.label == row["prediction"]


def test_bundle_command_picks_seed_and_fold(fake_run, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["bundle", str(fake_run), "--fold", "1", "--name", "fold1"]) == 0
    out = capsys.readouterr().out
    assert "seed 3 (the first), fold 1" in out and "bundles/fold1" in out
    assert read_bundle(tmp_path / "bundles" / "fold1")["training"]["fold"] == 1
    assert main(["bundle", str(fake_run), "--seed", "7"]) == 2
    assert "has no seed 7; its seeds are 3" in capsys.readouterr().err
    assert main(["bundle", str(fake_run), "--fold", "5"]) == 2
    assert "has no fold 5; its folds are 0, 1" in capsys.readouterr().err


def test_runs_that_cannot_be_bundled(fake_run, tmp_path):
    # A run of variants: asks for one variant's folder.
    variants = tmp_path / "variants"
    shutil.copytree(fake_run, variants / "small")
    with pytest.raises(ConfigError, match="holds a run of variants \\(small\\)"):
        bundle_from_run(variants)
    # An unfinished fold, and a folder that is no run at all.
    copy = Path(shutil.copytree(fake_run, tmp_path / "copy"))
    (copy / "seed=3" / "fold=1" / "predictions.csv").unlink()
    with pytest.raises(ConfigError, match="not finished"):
        bundle_from_run(copy, fold=1)
    with pytest.raises(ConfigError, match="not a run folder"):
        bundle_from_run(tmp_path / "variants" / "small" / "seed=3")


def test_a_scikit_learn_run_is_refused(fake_data, tmp_path):
    holdout = {"split": "holdout", "params": {"test_fraction": 0.2, "val_fraction": 0.1}}
    run = run_fake(fake_data, tmp_path / "svm", model={"name": "svm"}, protocol=holdout)
    assert (run / "seed=3" / "fold=0" / "model.joblib").exists()
    with pytest.raises(ConfigError, match="scikit-learn model.*no pickled code"):
        bundle_from_run(run)
