"""Every registered model: shapes for both input kinds, masking, training step, determinism, errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from serkit.errors import ConfigError
from serkit.models import (
    MODELS,
    is_sklearn,
    make_loss,
    make_model,
    model_input_kind,
    model_params,
    n_parameters,
)
from serkit.models.baselines import SequenceClassifier, validate_params
from serkit.models.layers import interval_pool

N_FEATURES, N_CLASSES = 107, 5
# Models of one utterance-level vector or of frame sequences (the CNN–Transformer, which
# reads fixed-size spectrograms only, and the few-shot heads, which read vectors only and
# are fitted in closed form, have their own tests: test_models_cnn_transformer.py and
# test_embedding_fewshot.py; the wavelet CNN–LSTM, which reads images, test_models_wavelet.py;
# the CNN-BiLSTM, SERCT and DST, which read waveforms, test_models_waveform_baselines.py and SERCT's own).
OWN_TESTS = ("cnn_bilstm", "cnn_transformer", "dst", "linear_head", "prototype_head", "serct", "wavelet_cnn_lstm")
TORCH_MODELS = [name for name in MODELS if not is_sklearn(name) and name not in OWN_TESTS]


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_registered_names():
    assert MODELS.names() == ["autoencoder", "cnn", "cnn_bilstm", "cnn_transformer", "dst", "gru", "linear_head",
                             "lstm", "mlp", "prototype_head", "serct", "speechnet", "svm", "tcn", "transformer",
                             "wavelet_cnn_lstm"]
    assert [name for name in MODELS if is_sklearn(name)] == ["svm"]
    assert is_sklearn("svm") and not is_sklearn("speechnet")
    with pytest.raises(ConfigError, match="Did you mean 'lstm'"):
        is_sklearn("lstn")


def build(name: str, seed: int = 0, **params) -> torch.nn.Module:
    torch.manual_seed(seed)
    return make_model(name, N_FEATURES, N_CLASSES, **params)


def padded_frames(seed: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    x = torch.randn(4, 30, N_FEATURES, generator=torch.Generator().manual_seed(seed))
    lengths = torch.tensor([30, 9, 1, 17])
    for b, n in enumerate(lengths.tolist()):
        x[b, n:] = 3.0  # non-zero padding must not matter either
    return x, lengths


@pytest.mark.parametrize("name", TORCH_MODELS)
def test_vector_input(name):
    net = build(name)
    assert net.input_kind == "vector" and model_input_kind(name) == "vector"
    for batch in (1, 6):
        assert net.eval()(torch.randn(batch, N_FEATURES)).shape == (batch, N_CLASSES)
    print(f"{name}: {n_parameters(net):,} parameters (vector input)")


@pytest.mark.parametrize("name", TORCH_MODELS)
def test_frames_input_masks_padding(name):
    net = build(name, input_kind="frames").eval()
    assert model_input_kind(name, {"input_kind": "frames"}) == "frames"
    x, lengths = padded_frames()
    with torch.no_grad():
        out = net(x, lengths)
        more = net(torch.cat([x, torch.full((4, 12, N_FEATURES), -4.0)], 1), lengths)
        alone = net(x[1:2, :9], torch.tensor([9]))
    assert out.shape == (4, N_CLASSES)
    torch.testing.assert_close(more, out, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(alone, out[1:2], rtol=1e-5, atol=1e-5)
    assert torch.equal(net(x[:, :20]), net(x[:, :20], torch.full((4,), 20)))


@pytest.mark.parametrize("input_kind", ["vector", "frames"])
@pytest.mark.parametrize("name", TORCH_MODELS)
def test_training_step_and_same_seed_same_model(name, input_kind):
    x, lengths = padded_frames()
    if input_kind == "vector":
        x, lengths = x[:, 0], None
    a, b = build(name, input_kind=input_kind), build(name, input_kind=input_kind)
    assert all(torch.equal(p, q) for p, q in zip(a.state_dict().values(), b.state_dict().values()))
    a.train()
    loss = make_loss("cross_entropy")(a(x, lengths), torch.tensor([0, 1, 2, 3]))
    aux = getattr(a, "auxiliary_loss", None)
    if aux is not None:
        loss = loss + aux
    loss.backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in a.parameters())
    fresh = build(name, seed=1, input_kind=input_kind)
    fresh.load_state_dict(b.state_dict())  # sizes follow from the constructor: no dummy forward
    assert torch.equal(fresh.eval()(x, lengths), b.eval()(x, lengths))


def test_autoencoder_reports_its_reconstruction_loss_in_training_only():
    net = build("autoencoder")
    x = torch.randn(3, N_FEATURES)
    net.train()(x)
    assert net.auxiliary_loss is not None and net.auxiliary_loss.item() > 0
    net.eval()(x)
    assert net.auxiliary_loss is None


@pytest.mark.parametrize("name", TORCH_MODELS)
def test_unknown_parameter_lists_valid_ones(name):
    with pytest.raises(ConfigError, match="valid parameters: .*input_kind"):
        build(name, hiden_size=3)
    # Those that read waveforms too are tested in test_models_waveform_baselines.py.
    if "waveform" not in MODELS.info(name)["accepts"]:
        with pytest.raises(ConfigError, match="not 'waveform'"):
            build(name, input_kind="waveform")
    assert "input_kind" in model_params(name)


@pytest.mark.parametrize("name, params, message", [
    ("cnn", {"kernel_size": 4}, "odd"),
    ("transformer", {"d_model": 30, "n_heads": 4}, "divisible"),
    ("lstm", {"dropout": -0.1}, "dropout"),
    ("tcn", {"levels": 0}, "levels"),
])
def test_bad_values_are_config_errors(name, params, message):
    with pytest.raises(ConfigError, match=message):
        build(name, **params)


def test_svm_fits_and_gives_probabilities_deterministically():
    rng = np.random.default_rng(0)
    y = np.arange(60) % 3
    x = rng.normal(size=(60, N_FEATURES)) + y[:, None] * 0.8
    proba = []
    for _ in range(2):
        svm = make_model("svm", N_FEATURES, 3).fit(x, y)
        proba.append(svm.predict_proba(x))
    assert proba[0].shape == (60, 3)
    np.testing.assert_allclose(proba[0].sum(1), 1.0)
    np.testing.assert_array_equal(proba[0], proba[1])
    assert (proba[0].argmax(1) == y).mean() > 0.9
    assert list(svm.classes_) == [0, 1, 2]


def test_svm_parameters_and_input_kind():
    assert model_input_kind("svm") == "vector"
    with pytest.raises(ConfigError, match="takes input_kind 'vector' or 'waveform', not 'frames'"):
        model_input_kind("svm", {"input_kind": "frames"})
    with pytest.raises(ConfigError, match="takes input_kind 'vector' or 'waveform', not 'frames'"):
        make_model("svm", N_FEATURES, 3, input_kind="frames")
    with pytest.raises(ConfigError, match="valid parameters: C, calibration_folds"):
        make_model("svm", N_FEATURES, 3, c=2.0)
    assert make_model("svm", N_FEATURES, 3, C=10.0).named_steps["svm"].estimator.C == 10.0


SEQUENCE_PEERS = ["lstm", "gru", "cnn", "tcn", "transformer"]


@pytest.mark.parametrize("name", SEQUENCE_PEERS)
def test_n_intervals_reads_the_interval_means_of_the_real_frames(name):
    net = build(name, input_kind="frames", n_intervals=8).eval()
    x, lengths = padded_frames()
    with torch.no_grad():
        out = net(x, lengths)
        # The same model fed the 8 interval means directly, read as whole sequences.
        reference = build(name, input_kind="frames").eval()
        reference.load_state_dict(net.state_dict())
        direct = reference(interval_pool(x, lengths, 8), torch.full((4,), 8))
        more = net(torch.cat([x, torch.full((4, 12, N_FEATURES), -4.0)], 1), lengths)
    torch.testing.assert_close(out, direct, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(more, out, rtol=1e-5, atol=1e-5)


def test_sequence_peers_share_the_base():
    assert all(isinstance(build(name), SequenceClassifier) for name in SEQUENCE_PEERS)


@pytest.mark.parametrize("params, message", [
    ({"input_kind": "frames", "size": 0}, "model 'm': size must be > 0, not 0"),
    ({"input_kind": "frames", "dropout": 1.0}, r"model 'm': dropout must be in \[0, 1\), not 1.0"),
    ({"input_kind": "vector", "n_intervals": 8}, "n_intervals applies to input_kind='frames' only, not "
                                                 "input_kind='vector' \\(n_intervals=8\\)"),
    ({"input_kind": "frames", "allowed_kinds": ("vector",)}, "model 'm' takes input_kind 'vector', not 'frames'"),
])
def test_validate_params_names_model_parameter_value_and_range(params, message):
    with pytest.raises(ConfigError, match=message):
        validate_params("m", **params)
    validate_params("m", input_kind="frames", dropout=0.0, n_intervals=8, size=1)


@pytest.mark.parametrize("name", SEQUENCE_PEERS)
def test_n_intervals_is_checked(name):
    with pytest.raises(ConfigError, match="n_intervals applies to input_kind='frames' only"):
        build(name, n_intervals=8)
    with pytest.raises(ConfigError, match="n_intervals"):
        build(name, input_kind="frames", n_intervals=0)


def test_tcn_levels_are_bounded_before_any_layer_is_built():
    from serkit.models.baselines.tcn import MAX_LEVELS

    with pytest.raises(ConfigError, match=f"levels must be at most {MAX_LEVELS}, not {MAX_LEVELS + 1}"):
        make_model("tcn", 107, 7, levels=MAX_LEVELS + 1)
    assert make_model("tcn", 107, 7, levels=MAX_LEVELS, channels=2).levels == MAX_LEVELS
