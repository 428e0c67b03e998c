"""Experiment configs: strict keys, overrides, variants, shipped configs parse."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from serkit.errors import ConfigError
from serkit.training.config import config_from_dict, load_config, variant_configs

CONFIGS = sorted((Path(__file__).parents[1] / "configs").rglob("*.yaml"))

BASE = {
    "experiment": "x",
    "data": {"corpora": ["emodb"]},
    "features": {"name": "fusion107", "params": {"pooling": "mean"}},
    "model": "speechnet",
}


def test_unknown_keys_are_errors_that_list_the_valid_ones():
    with pytest.raises(ConfigError, match=r"unknown key 'traning' \(did you mean 'training'\?\)"):
        config_from_dict({**BASE, "traning": {}})
    with pytest.raises(ConfigError, match="unknown key 'lr'.*valid keys here: epochs"):
        config_from_dict({**BASE, "training": {"lr": 0.1}})


def test_types_and_values_are_checked():
    with pytest.raises(ConfigError, match="epochs must be int"):
        config_from_dict({**BASE, "training": {"epochs": "many"}})
    with pytest.raises(ConfigError, match="select must be one of"):
        config_from_dict({**BASE, "training": {"select": "test_accuracy"}})
    with pytest.raises(ConfigError, match="missing required key 'model'"):
        config_from_dict({k: v for k, v in BASE.items() if k != "model"})


def test_components_accept_a_bare_name_and_floats_accept_ints():
    config = config_from_dict({**BASE, "training": {"learning_rate": 1, "loss": "balanced_margin"}})
    assert config.model.name == "speechnet" and config.model.params == {}
    assert config.training.loss.name == "balanced_margin"
    assert config.training.learning_rate == 1.0


def test_overrides_and_seed_count(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(BASE))
    config = load_config(path, overrides=["training.epochs=3", "model.params.dropout=0.2"], seeds=4)
    assert config.training.epochs == 3
    assert config.model.params == {"dropout": 0.2}
    assert config.seed_list == [0, 1, 2, 3]
    with pytest.raises(ConfigError, match="KEY=VALUE"):
        load_config(path, overrides=["training.epochs"])


def test_missing_and_invalid_files(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("experiment: [unclosed")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(bad)


def test_variants_override_their_keys_only():
    config = config_from_dict({**BASE, "variants": {"full": {}, "no_lstm": {"model.params.speech_recall": False},
                                                   "svm": {"model.name": "svm"}}})
    variants = variant_configs(config)
    assert list(variants) == ["full", "no_lstm", "svm"]
    assert variants["no_lstm"].model.params == {"speech_recall": False}
    assert variants["svm"].model.name == "svm"
    assert variants["full"].experiment == "x/full" and not variants["full"].variants


@pytest.mark.parametrize("path", CONFIGS, ids=[str(p.relative_to(p.parents[1])) for p in CONFIGS])
def test_shipped_configs_parse(path):
    config = load_config(path)
    for variant in variant_configs(config).values():
        assert variant.model.name


# --- bad input: one ConfigError naming the problem, before anything runs or is built -----

def test_protocol_params_are_checked_against_the_split_kind():
    with pytest.raises(ConfigError, match="protocol: split kind 'holdout' has no parameter 'bogus'.*"
                                          "valid parameters: rounding, test_fraction, val_fraction"):
        config_from_dict({**BASE, "protocol": {"split": "holdout", "params": {"bogus": 1}}})
    with pytest.raises(ConfigError, match="unknown split kind 'holdot'. Did you mean 'holdout'"):
        config_from_dict({**BASE, "protocol": {"split": "holdot"}})
    with pytest.raises(ConfigError, match=r"release.protocols\[1\]: split kind 'loco' has no parameter 'n_folds'"):
        config_from_dict({**BASE, "release": {"protocols": [{"split": "loso"},
                                                            {"split": "loco", "params": {"n_folds": 3}}]}})
    with pytest.raises(ConfigError, match=r"protocol.split_seed must be in \[0, 2\*\*32\)"):
        config_from_dict({**BASE, "protocol": {"split_seed": -1}})


def test_data_names_and_loader_options_are_checked():
    def data(**changes):
        return {**BASE, "data": {"corpora": ["ravdess"], **changes}}

    config_from_dict(data(loader_options={"ravdess": {"song": True}}))
    with pytest.raises(ConfigError, match="data: corpus 'ravdess' has no parameter 'sng' \\(did you mean 'song'"):
        config_from_dict(data(loader_options={"ravdess": {"sng": True}}))
    with pytest.raises(ConfigError, match="data: unknown corpus 'ravdes'"):
        config_from_dict(data(loader_options={"ravdes": {"song": True}}))
    with pytest.raises(ConfigError, match="data: unknown corpus 'emodbb'"):
        config_from_dict(data(corpora=["emodbb"]))
    with pytest.raises(ConfigError, match="data: unknown label scheme '5clas'"):
        config_from_dict(data(label_scheme="5clas"))
    with pytest.raises(ConfigError, match="loader_options.ravdess must be a mapping"):
        config_from_dict(data(loader_options={"ravdess": True}))


@pytest.mark.parametrize("params, message", [
    ({"hidden_units": "lots"}, "hidden_units must be a list of integers, not 'lots'"),
    ({"hidden_units": [64, "x"]}, "hidden_units must be a list of integers"),
    ({"hidden_units": [64.5]}, "hidden_units must be a list of integers"),
    ({"dropout": "high"}, "dropout must be a finite number, not 'high'"),
    ({"dropout": float("nan")}, "dropout must be a finite number"),
    ({"dropout": True}, "dropout must be a finite number, not True"),
    ({"hidden_units": [-4]}, r"hidden_units\[0\] must be > 0"),
])
def test_model_params_of_the_wrong_type_are_config_errors(params, message):
    with pytest.raises(ConfigError, match=f"model 'mlp': {message}"):
        config_from_dict({**BASE, "model": {"name": "mlp", "params": params}})


@pytest.mark.parametrize("model, message", [
    ({"name": "mlp", "params": {"hidden_units": [200000, 200000]}},
     r"hidden_units\[0\] is 200000, over the limit of 65536 \(MAX_WIDTH"),
    ({"name": "mlp", "params": {"hidden_units": [60000, 60000]}},
     r"would hold 3,6\d\d,\d{3},\d{3} parameters, over the limit of 100,000,000 \(MAX_PARAMETERS\)"),
    ({"name": "mlp", "params": {"hidden_units": [8] * 65}}, "hidden_units has 65 entries, over the limit of 64"),
    ({"name": "transformer", "params": {"n_layers": 1000}}, "n_layers is 1000, over the limit of 64"),
    ({"name": "lstm", "params": {"hidden_size": 10**40}}, "hidden_size is an integer of 41 digits, over"),
])
def test_model_sizes_are_bounded_before_anything_is_built(model, message, monkeypatch):
    import torch

    built = []
    # Only the bounds check may build layers, on the meta device, which allocates nothing.
    monkeypatch.setattr(torch.nn.Linear, "reset_parameters",
                        lambda self: built.append(self.weight.device.type))
    with pytest.raises(ConfigError, match=message):
        config_from_dict({**BASE, "model": model})
    assert set(built) <= {"meta"}


def test_bad_feature_params_are_config_errors():
    with pytest.raises(ConfigError, match="feature 'fusion107': n_mfcc must be an integer, not 'many'"):
        config_from_dict({**BASE, "features": {"name": "fusion107", "params": {"n_mfcc": "many"}}})
    with pytest.raises(ConfigError, match="feature 'logmel': n_fft is 10000000, over the limit of 1000000"):
        config_from_dict({**BASE, "model": "cnn_transformer",
                          "features": {"name": "logmel", "params": {"n_fft": 10**7}},
                          "training": {"standardize": False}})


def test_names_that_become_folders_are_checked():
    for name in ("/etc", "../up", "a/../../b", ""):
        with pytest.raises(ConfigError, match="experiment must be a name"):
            config_from_dict({**BASE, "experiment": name})
    with pytest.raises(ConfigError, match="variant '../x' must be a folder name"):
        config_from_dict({**BASE, "variants": {"../x": {}}})
    with pytest.raises(ConfigError, match="keys must be names"):
        config_from_dict({**BASE, "variants": {1: {}}})
    with pytest.raises(ConfigError, match="variant 'bad'.*no parameter 'dropot'"):
        config_from_dict({**BASE, "variants": {"bad": {"model.params.dropot": 0.1}}})


def test_seeds_are_bounded():
    with pytest.raises(ConfigError, match="seeds must be between 1 and 10000"):
        config_from_dict({**BASE, "seeds": 10**12})


#: Nine to the sixth values when expanded, in a few lines of YAML aliases.
ALIAS_BOMB = "a: &a [1, 2, 3, 4, 5, 6, 7, 8, 9]\n" + "".join(
    f"{name}: &{name} [{', '.join([f'*{previous}'] * 9)}]\n" for previous, name in zip("abcde", "bcdef"))


def test_unreadable_yaml_is_a_config_error(tmp_path):
    path = tmp_path / "c.yaml"
    for text, message in [("[" * 5000 + "]" * 5000, "nested"),
                          ("experiment: &a [*a]\n", "nested"),
                          ("experiment: " + "9" * 5000, "not a usable YAML value"),
                          (ALIAS_BOMB, "more than 100,000 values")]:
        path.write_text(text)
        with pytest.raises(ConfigError, match=message):
            load_config(path)
    path.write_bytes(b"experiment: \xff\xfe\x00")
    with pytest.raises(ConfigError, match="cannot be read as UTF-8"):
        load_config(path)
    path.write_text(yaml.safe_dump(BASE))
    with pytest.raises(ConfigError, match="--set training.epochs: the value '\\[1' is not valid YAML"):
        load_config(path, overrides=["training.epochs=[1"])


def test_run_with_an_unknown_protocol_param_is_one_line_and_exit_2(tmp_path, capsys):
    from serkit.cli import main

    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(BASE))
    out = tmp_path / "runs" / "x"
    code = main(["run", str(path), "--set", "protocol.params.bogus=1", "--out", str(out),
                 "--data-root", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert err.startswith("serkit: error:") and "has no parameter 'bogus'" in err
    assert not out.exists()


def test_class_weights_default_on_and_left_out_of_the_resolved_config_while_default():
    # Added after run folders existed (issue 16): a config that does not set it resolves as
    # before, so older run folders still resume; false is written and compared.
    plain = config_from_dict(BASE)
    assert plain.training.class_weights is True
    assert "class_weights" not in plain.to_dict()["training"]
    off = config_from_dict({**BASE, "training": {"class_weights": False}})
    assert off.training.class_weights is False and off.to_dict()["training"]["class_weights"] is False
    assert config_from_dict(off.to_dict()).training.class_weights is False
    with pytest.raises(ConfigError, match="class_weights must be bool"):
        config_from_dict({**BASE, "training": {"class_weights": "balanced"}})


def test_speechnet_configs_never_choose_on_the_margin_loss():
    # Issue 16: the margin loss falls below 1e-3 long before accuracy stops rising.
    for path in sorted((Path(__file__).parents[1] / "configs" / "speechnet").glob("*.yaml")):
        config = load_config(path)
        for name, variant in (variant_configs(config) or {path.stem: config}).items():
            if variant.model.name != "speechnet" or variant.training.loss.name != "balanced_margin":
                continue
            assert variant.training.select in ("last", "val_accuracy"), (path.name, name)
            # ...and a chosen epoch is judged over a window of epochs, not alone.
            assert variant.training.select == "last" or variant.training.select_window > 1, (path.name, name)
            assert variant.training.early_stopping_patience is None, (path.name, name)
            assert variant.training.epochs == 200, (path.name, name)


def test_select_window_is_an_odd_count_for_a_validation_choice():
    assert config_from_dict(BASE).training.select_window == 1
    assert "select_window" not in config_from_dict(BASE).to_dict()["training"]
    five = config_from_dict({**BASE, "training": {"select": "val_accuracy", "select_window": 5}})
    assert five.training.select_window == 5 and five.to_dict()["training"]["select_window"] == 5
    for bad in (0, -3, 4):
        with pytest.raises(ConfigError, match=f"select_window must be an odd number of epochs.*not {bad}"):
            config_from_dict({**BASE, "training": {"select": "val_accuracy", "select_window": bad}})
    with pytest.raises(ConfigError, match="select_window needs select: val_loss or val_accuracy"):
        config_from_dict({**BASE, "training": {"select": "last", "select_window": 3}})


def test_the_wavelet_ablation_runs_the_full_coverage_recipe():
    # Its variants are compared with emodb_full_si.yaml's run, which it does not rerun: the
    # two configs must agree on everything but the name, the variants and the search.
    configs = Path(__file__).parents[1] / "configs" / "wavelet"
    ablation, default = (load_config(configs / name).to_dict() for name in ("emodb_ablation.yaml", "emodb_full_si.yaml"))
    for raw in (ablation, default):
        for key in ("experiment", "variants", "search"):
            raw.pop(key, None)
    assert ablation == default
