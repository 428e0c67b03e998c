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
