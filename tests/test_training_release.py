"""Releases: candidates compared on held-out folds, the winner trained on all data and bundled."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from serkit.errors import ConfigError

from serkit.training.config import config_from_dict
from serkit.training.release import run_release
from serkit.training.runner import run_experiment
from tests.conftest import FAKE_EMOTIONS, write_tone

EMOTIONS = FAKE_EMOTIONS


@pytest.fixture(autouse=True, scope="module")
def _own_cache(private_cache):
    """Features of this module's fake corpora go to a cache of their own."""


def release_config(bundle: Path):
    return config_from_dict({
        "experiment": "tiny-release",
        "data": {"corpora": ["folder"]},
        "features": {"name": "fusion107", "params": {"pooling": "meanstd"}},
        "model": {"name": "mlp", "params": {"hidden_units": [16]}},
        "protocol": {"split": "kfold"},
        "training": {"epochs": 3, "batch_size": 8},
        "variants": {"small": {}, "smaller": {"model.params.hidden_units": [4]}},
        "release": {
            "protocols": [{"split": "kfold", "params": {"n_folds": 2, "val_fraction": 0.2}},
                          {"split": "holdout", "params": {"test_fraction": 0.3, "val_fraction": 0.2}}],
            "bundle": str(bundle), "name": "tiny", "description": "a test release",
        },
    })


def test_release_chooses_on_mean_ua_trains_on_all_and_writes_a_loadable_bundle(fake_root, tmp_path, one_torch_thread):
    from serkit.inference import load_model

    bundle, out = tmp_path / "bundle", tmp_path / "runs"
    record = run_release(release_config(bundle), out_dir=out, data_root=fake_root, progress=False)

    ua = {v: sum(json.loads((out / split / v / "report.json").read_text())["metrics"]["uar"]["mean"]
                 for split in ("kfold", "holdout")) / 2 for v in ("small", "smaller")}
    assert record["chosen_variant"] == max(ua, key=ua.get)
    assert record["training"]["final_fit"]["train"] + record["training"]["final_fit"]["validation"] == 30
    card = (bundle / "MODEL_CARD.md").read_text()
    assert "Known limits" in card and f"{100 * record['metrics']['protocols']['kfold']['uar']:.1f}" in card

    recognizer = load_model(bundle)
    assert recognizer.name == "tiny" and recognizer.labels == sorted(EMOTIONS)
    prediction = recognizer.predict(write_tone(tmp_path / "clip.wav", seconds=1.0))
    assert set(prediction.probabilities) == set(EMOTIONS)

    # A rerun resumes: nothing is trained again.
    final_model = out / "final" / "model.pt"
    before = final_model.stat().st_mtime_ns
    again = run_release(release_config(bundle), out_dir=out, data_root=fake_root, progress=False)
    assert again["chosen_variant"] == record["chosen_variant"]
    assert final_model.stat().st_mtime_ns == before
    with pytest.raises(ConfigError, match="serkit release"):
        run_experiment(release_config(bundle), out_dir=out, data_root=fake_root, progress=False)


def test_a_release_needs_protocols():
    from serkit.errors import ConfigError

    with pytest.raises(ConfigError, match="release.protocols"):
        config_from_dict({"experiment": "x", "data": {"corpora": ["folder"]}, "features": {"name": "fusion107"},
                          "model": {"name": "mlp"}, "release": {"protocols": []}})
