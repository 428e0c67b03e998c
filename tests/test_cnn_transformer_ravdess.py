"""A short real CNN–Transformer training run on RAVDESS (log-mel, noise augmentation)."""

from __future__ import annotations

import pytest

from serkit.training.config import load_config
from serkit.training.runner import run_experiment
from tests.conftest import corpus_root


@pytest.mark.slow
@pytest.mark.data
def test_short_real_training_on_ravdess_beats_the_majority_baseline(tmp_path, one_torch_thread):
    root = corpus_root("ravdess").parent
    # The paper's pipeline (configs/cnn_transformer/ravdess_paper.yaml) made small enough
    # for a test: four classes, a narrow network, Adam, a few epochs, one noisy copy.
    config = load_config("configs/cnn_transformer/ravdess_paper.yaml", seeds=1, overrides=[
        "data.label_scheme=4class-strict",
        "protocol.params={test_fraction: 0.2, val_fraction: 0.1}",
        "model.params.channels=[4, 8, 16, 32]",
        "training.optimizer=adam", "training.batch_size=32", "training.epochs=6",
        "training.early_stopping_patience=null", "training.checkpoint_every=6",
        "training.augment=[{name: white_noise, params: {copies: 1}}]",
    ])
    report = run_experiment(config, out_dir=tmp_path / "ravdess", data_root=root, progress=False)
    accuracy = report["metrics"]["accuracy"]["mean"]
    majority = report["majority_baseline"]["accuracy"]
    assert accuracy > majority + 0.08, (accuracy, majority)
    # Validation and test stayed clean: the report scores exactly the 20 % test side.
    # (per-class rounding of the stratified hold-out moves it by at most one per class)
    assert abs(report["n_predictions"] - 0.2 * 672) <= 4
