"""The SERCT thesis's baselines on the raw waveform (issue 15, item 3): MLP, LSTM, CNN-BiLSTM, SVM, CNN.

``lstm``, ``gru`` and ``cnn`` read a waveform as 20 ms frames of samples, ``cnn_bilstm``
is new, and ``mlp`` and ``svm`` read a fixed-length waveform as one vector. Small fake
tensors throughout; the end-to-end runs use the fake folder corpus of conftest.py.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from serkit.errors import ConfigError
from serkit.inputs import InputSpec
from serkit.models import (
    check_model,
    make_loss,
    make_model,
    make_model_for,
    model_input_kind,
    resolved_params,
)
from serkit.training.config import config_from_dict, load_config
from tests.conftest import write_tone

N_CLASSES = 5
FRAMED = ["lstm", "gru", "cnn"]  # waveform read as frames of frame_samples samples
SEQUENCE = [*FRAMED, "cnn_bilstm"]  # variable-length waveforms, padding masked
#: Small sizes: every clip below is under a second.
SMALL = {"lstm": {"frame_samples": 160, "hidden_size": 16}, "gru": {"frame_samples": 160, "hidden_size": 16},
         "cnn": {"frame_samples": 160, "channels": [8, 16]},
         "cnn_bilstm": {"channels": [8, 16], "kernel_sizes": [40, 3], "strides": [4, 1], "pool_sizes": [4, 2],
                        "hidden_size": 8}}
BASELINE_CONFIGS = ["mlp", "lstm", "cnn_bilstm", "svm", "cnn"]
SERCT_CONFIGS = Path(__file__).resolve().parents[1] / "configs" / "serct"

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def build(name: str, seed: int = 0, **params) -> torch.nn.Module:
    torch.manual_seed(seed)
    return make_model(name, 1, N_CLASSES, input_kind="waveform", **{**SMALL.get(name, {}), **params})


def clips(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """A padded batch of 4 clips (3 of lengths not a multiple of a frame), padding not zero."""
    x = torch.randn(4, 4000, generator=torch.Generator().manual_seed(seed))
    lengths = torch.tensor([4000, 1234, 700, 2999])
    for b, n in enumerate(lengths.tolist()):
        x[b, n:] = 5.0
    return x, lengths


# --- shapes and padding --------------------------------------------------------------------

@pytest.mark.parametrize("name", SEQUENCE)
def test_waveform_shapes(name):
    assert model_input_kind(name, {"input_kind": "waveform"}) == "waveform"
    net = build(name).eval()
    x, lengths = clips()
    with torch.no_grad():
        assert net(x, lengths).shape == (4, N_CLASSES)
        assert net(x[:1]).shape == (1, N_CLASSES)  # no lengths: nothing padded


@pytest.mark.parametrize("name", SEQUENCE)
def test_a_clip_alone_and_batched_with_a_longer_one_give_the_same_logits(name):
    net = build(name).eval()
    x, lengths = clips()
    with torch.no_grad():
        batched = net(x, lengths)
        longer = net(torch.cat([x, torch.full((4, 1000), -7.0)], 1), lengths)  # more padding
        for b, n in enumerate(lengths.tolist()):
            alone = net(x[b : b + 1, :n], torch.tensor([n]))
            torch.testing.assert_close(alone, batched[b : b + 1], rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(longer, batched, rtol=1e-5, atol=1e-5)


def test_frames_of_samples_are_zeroed_past_the_clip_and_counted_by_ceil():
    from serkit.models.layers import waveform_frames

    x = torch.arange(1.0, 11.0).repeat(2, 1)
    frames, n = waveform_frames(x, torch.tensor([10, 7]), 4)
    assert frames.shape == (2, 3, 4) and n.tolist() == [3, 2]
    assert frames[1].flatten().tolist() == [1, 2, 3, 4, 5, 6, 7, 0, 0, 0, 0, 0]
    assert build("lstm").step_width == 160 and build("lstm", frame_samples=320).step_width == 320


def test_cnn_bilstm_reads_a_clip_shorter_than_its_receptive_field_as_zeros_appended():
    net = build("cnn_bilstm").eval()
    short = net.min_samples - 37
    x = torch.randn(2, 3000)
    with torch.no_grad():
        batched = net(x, torch.tensor([3000, short]))
        alone = net(x[1:, :short], torch.tensor([short]))
        padded = net(torch.nn.functional.pad(x[1:, :short], (0, 37)), torch.tensor([net.min_samples]))
    torch.testing.assert_close(alone, batched[1:], rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(alone, padded, rtol=1e-5, atol=1e-5)
    # One frame needs 2 steps into the last pool, 4 into its conv (kernel 3), 16 into the
    # first pool and (16 - 1)·4 + 40 samples into the first conv.
    assert net.min_samples == 100
    # 16 000 samples: (16000 - 40) // 4 + 1 = 3991 → pool 997 → conv 995 → pool 497 frames.
    assert net.frame_lengths(torch.tensor([100, 99, 16000])).tolist() == [1, 1, 497]


@pytest.mark.parametrize("norm", ["instance", "layer", "none"])
def test_cnn_bilstm_gradient_reaches_its_first_conv(norm):
    net = build("cnn_bilstm", norm=norm).train()
    x, lengths = clips()
    loss = make_loss("cross_entropy")(net(x, lengths), torch.tensor([0, 1, 2, 3]))
    loss.backward()
    first = net.convs[0].weight.grad
    assert first is not None and torch.isfinite(first).all() and first.abs().sum() > 0
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in net.parameters())


def test_cnn_bilstm_reads_frames_too():
    net = make_model("cnn_bilstm", 12, N_CLASSES, input_kind="frames", channels=[8], kernel_sizes=[3],
                     strides=[1], pool_sizes=[2], hidden_size=8).eval()
    x = torch.randn(2, 20, 12)
    with torch.no_grad():
        batched = net(x, torch.tensor([20, 9]))
        alone = net(x[1:, :9], torch.tensor([9]))
    assert batched.shape == (2, N_CLASSES)
    torch.testing.assert_close(alone, batched[1:], rtol=1e-5, atol=1e-5)


def test_mlp_reads_the_whole_fixed_length_clip_as_one_vector():
    spec = InputSpec("waveform", (), length=8000, rate=16000.0)
    assert resolved_params("mlp", spec, {"input_kind": "waveform"}) == {"input_kind": "waveform", "n_samples": 8000}
    net = make_model_for("mlp", spec, N_CLASSES, input_kind="waveform", hidden_units=[16]).eval()
    assert net.body[0].in_features == 8000
    x = torch.randn(3, 8000)
    with torch.no_grad():
        assert net(x, torch.full((3,), 8000)).shape == (3, N_CLASSES)
        torch.testing.assert_close(net(x[1:2]), net(x)[1:2], rtol=1e-5, atol=1e-5)
        changed = x[1:2].clone()
        changed[:, 5000:] = 0.0  # no lengths to mask with: the padding is input, as in the thesis
        assert not torch.allclose(net(changed), net(x[1:2]))
    with pytest.raises(ValueError, match=r"expects \(batch, 8000\) samples"):
        net(torch.randn(3, 7999))


def test_n_samples_comes_from_a_fixed_length_waveform_only():
    frames = InputSpec("frames", (40,), length=188)
    assert resolved_params("mlp", frames, {"input_kind": "frames"}) == {"input_kind": "frames"}
    assert resolved_params("svm", InputSpec("waveform", ()), {"input_kind": "waveform"}) == {"input_kind": "waveform"}
    # The thesis's 144 000 samples are a clip, not a layer width: allowed past MAX_WIDTH.
    check_model("mlp", 1, 7, {"input_kind": "waveform", "n_samples": 144_000, "hidden_units": [8]})


def test_svm_on_a_fixed_length_waveform():
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(3), 10)
    x = rng.standard_normal((30, 800)).astype(np.float32) + y[:, None]
    svm = make_model_for("svm", InputSpec("waveform", (), length=800), 3, input_kind="waveform").fit(x, y)
    assert svm.predict_proba(x).shape == (30, 3) and (svm.predict(x) == y).mean() > 0.9


# --- errors --------------------------------------------------------------------------------

def config(model: dict, features: dict | None = None, **training) -> dict:
    return {
        "experiment": f"waveform_{model['name']}",
        "data": {"corpora": ["folder"]},
        "features": {"name": "waveform", "params": features or {"max_seconds": 1.0}},
        "model": model,
        "protocol": {"split": "holdout", "params": {"test_fraction": 0.2, "val_fraction": 0.1}},
        "seeds": 1,
        "training": {"epochs": 2, "batch_size": 8, "learning_rate": 0.01, "standardize": False, **training},
    }


@pytest.mark.parametrize("name", ["mlp", "svm"])
def test_a_variable_length_waveform_as_one_vector_is_refused_when_the_config_is_read(name):
    raw = config({"name": name, "params": {"input_kind": "waveform"}})
    with pytest.raises(ConfigError, match=f"model '{name}' reads a waveform as one vector: set "
                                          "features.params.fixed_samples") as error:
        config_from_dict(raw)
    assert "\n" not in str(error.value)
    raw["features"]["params"] = {"fixed_samples": 8000}
    assert config_from_dict(raw).model.params == {"input_kind": "waveform"}


@pytest.mark.parametrize("name", [*SEQUENCE, "mlp", "svm"])
def test_waveform_features_without_input_kind_name_the_fix(name):
    if name == "cnn_bilstm":  # reads a waveform by default
        config_from_dict(config({"name": name}))
        return
    with pytest.raises(ConfigError, match=f"model '{name}' reads 'vector' input with input_kind 'vector' "
                                          r"\(its default\), not the 'waveform' that features 'waveform' "
                                          "produce; set model.params.input_kind: waveform"):
        config_from_dict(config({"name": name}, {"fixed_samples": 8000}))


@pytest.mark.parametrize("name, params, message", [
    ("lstm", {"n_features": 40}, "model 'lstm' with input_kind='waveform' reads 1 sample per step, not 40-wide"),
    ("cnn", {"frame_samples": 0}, "model 'cnn': frame_samples must be a positive number of samples, not 0"),
    ("mlp", {"n_samples": 0}, "model 'mlp': n_samples must be a positive number of samples, not 0"),
    ("mlp", {}, "model 'mlp' reads a waveform as one vector"),
    ("svm", {}, "model 'svm' reads a waveform as one vector"),
    ("cnn_bilstm", {"n_features": 40}, "model 'cnn_bilstm' with input_kind='waveform' reads 1 sample per step"),
    ("cnn_bilstm", {"channels": []}, "model 'cnn_bilstm': channels must be a list of positive sizes"),
    ("cnn_bilstm", {"channels": [8, 0]}, (r"channels must be a list of positive sizes, one per conv block, "
                                          r"not \[8, 0\]")),
    ("cnn_bilstm", {"kernel_sizes": [80, 3]}, (r"kernel_sizes must be a list of positive sizes, one per conv "
                                               r"block \(3, as channels\), not \[80, 3\]")),
    ("cnn_bilstm", {"strides": [4, 0, 1]}, "strides must be a list of positive sizes"),
    ("cnn_bilstm", {"pool_sizes": [4, 4, 4, 4]}, "pool_sizes must be a list of positive sizes"),
    ("cnn_bilstm", {"norm": "batch"}, "model 'cnn_bilstm': norm must be one of instance, layer, none, not 'batch'"),
    ("cnn_bilstm", {"hidden_size": 0}, "model 'cnn_bilstm': hidden_size must be > 0, not 0"),
    ("cnn_bilstm", {"dropout": 1.0}, r"model 'cnn_bilstm': dropout must be in \[0, 1\)"),
    ("cnn_bilstm", {"input_kind": "vector"}, ("model 'cnn_bilstm' takes input_kind 'waveform' or 'frames', "
                                              "not 'vector'")),
])
def test_bad_sizes_are_config_errors(name, params, message):
    params = {"input_kind": "waveform", **params}
    n_features = params.pop("n_features", 1)
    with pytest.raises(ConfigError, match=message):
        check_model(name, n_features, N_CLASSES, params)


# --- end to end ----------------------------------------------------------------------------

@pytest.mark.parametrize("name, model, features", [
    ("cnn_bilstm", {"name": "cnn_bilstm", "params": SMALL["cnn_bilstm"]}, {"max_seconds": 1.0}),
    ("svm", {"name": "svm", "params": {"input_kind": "waveform"}}, {"fixed_samples": 8000}),
])
def test_serkit_run_on_the_waveform(name, model, features, fake_root, tmp_path, capsys):
    from serkit.cli import main

    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(config(model, features)))
    out = tmp_path / "run"
    assert main(["run", str(path), "--out", str(out), "--data-root", str(fake_root)]) == 0
    assert capsys.readouterr().out.startswith("accuracy ")
    report = json.loads((out / "report.json").read_text())
    assert report["n_predictions"] == 6 and 0.0 <= report["metrics"]["accuracy"]["mean"] <= 1.0
    fold = out / "seed=0" / "fold=0"
    assert (fold / ("model.joblib" if name == "svm" else "model.pt")).exists()
    if name == "svm":
        return
    from serkit.inference import load_model
    from serkit.inference.bundle import bundle_from_run

    recognizer = load_model(bundle_from_run(out, seed=0, fold=0, out=tmp_path / "bundle"))
    clip = write_tone(tmp_path / "clip.wav", seconds=0.3, rate=22_050)
    single = recognizer.predict(clip)
    batch = recognizer.predict_batch([clip, write_tone(tmp_path / "long.wav", seconds=0.9)])
    assert batch[0].probabilities == pytest.approx(single.probabilities, abs=1e-5)  # padding changes nothing


def test_mlp_on_a_fixed_length_waveform_runs_and_bundles(fake_root, tmp_path):
    from serkit.inference import load_model
    from serkit.inference.bundle import bundle_from_run
    from serkit.training.runner import run_experiment

    raw = config({"name": "mlp", "params": {"input_kind": "waveform", "hidden_units": [16]}},
                 {"fixed_samples": 8000})
    run_experiment(config_from_dict(raw), out_dir=tmp_path / "run", data_root=fake_root, progress=False)
    bundle = bundle_from_run(tmp_path / "run", seed=0, fold=0, out=tmp_path / "bundle")
    assert json.loads((bundle / "bundle.json").read_text())["model"]["params"]["n_samples"] == 8000
    prediction = load_model(bundle).predict(write_tone(tmp_path / "clip.wav", seconds=0.7))
    assert sum(prediction.probabilities.values()) == pytest.approx(1.0)


@pytest.mark.parametrize("name", BASELINE_CONFIGS)
def test_the_tess_baseline_configs_load(name):
    config = load_config(SERCT_CONFIGS / f"tess_baseline_{name}.yaml")
    assert config.data.corpora == ["tess"] and config.features.name == "waveform"
    assert config.model.name == name and config.first_seed == 3
    assert model_input_kind(name, config.model.params) == "waveform"
    reference = load_config(SERCT_CONFIGS / "tess_paper_small.yaml")
    assert config.protocol == reference.protocol
    for key in ("optimizer", "learning_rate", "weight_decay", "batch_size", "epochs", "scheduler", "select"):
        assert getattr(config.training, key) == getattr(reference.training, key), key
