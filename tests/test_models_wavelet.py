"""The wavelet CNN–LSTM of Sayed et al. 2025: sizes, padding, the centred window, switches, learning."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from serkit.batching import FeatureSet, collate
from serkit.errors import ConfigError
from serkit.features import make_features
from serkit.models import make_model, make_model_for, model_input_kind, n_parameters
from serkit.models.layers import MaskedBatchNorm2d
from serkit.models.wavelet_cnn_lstm import WaveletCNNLSTM

SMALL = {"filters": 8, "lstm_units": 12, "fc_units": 16}


def small(n_classes: int = 3, **params) -> WaveletCNNLSTM:
    torch.manual_seed(0)
    return make_model("wavelet_cnn_lstm", 32, n_classes, height=32, **{**SMALL, **params}).eval()


def test_defaults_are_table_3_and_built_from_the_scalogram_spec():
    model = make_model_for("wavelet_cnn_lstm", make_features("scalogram").spec, 7)
    convs = [m for m in model.modules() if isinstance(m, torch.nn.Conv2d)]
    pools = [m for m in model.modules() if isinstance(m, torch.nn.AvgPool2d)]
    bns = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert len(convs) == 9 and all(c.out_channels == 64 for c in convs)
    assert sorted({c.kernel_size for c in convs}) == [(3, 3), (5, 5)]
    assert len(pools) == 9 and len(bns) == 9  # 3 pipelines × 2 + 3 LFLBs; 5 pooling stages in depth
    assert model.n_pools == 5 and model.lstm.hidden_size == 100 and not model.lstm.bidirectional
    assert model.fc.out_features == 1024 and model.out.out_features == 7
    assert model.lstm.input_size == 64 * (64 >> 5)
    assert n_parameters(model) == 632_487
    assert model_input_kind("wavelet_cnn_lstm") == "image"


def test_output_shape_for_any_width_including_very_short_clips():
    model = small()
    for width in (1, 7, 31, 32, 100):
        assert model(torch.rand(2, 1, 32, width)).shape == (2, 3)


def test_padding_does_not_change_the_output_in_evaluation():
    model = small()
    clips = [np.random.default_rng(i).random((1, 32, n)).astype(np.float32) for i, n in enumerate((40, 77, 120))]
    x, lengths = collate(clips, "image")
    batched = model(x, lengths)
    for i, clip in enumerate(clips):
        alone = model(torch.from_numpy(clip)[None])
        assert torch.allclose(batched[i], alone[0], atol=1e-5)
    # What sits in the padding does not matter either.
    noisy = x.clone()
    noisy[0, ..., 40:] = 5.0
    assert torch.allclose(model(noisy, lengths), batched, atol=1e-5)


def test_masked_batchnorm_keeps_padding_out_of_the_training_statistics():
    torch.manual_seed(0)
    x = torch.randn(3, 4, 5, 6)
    padded = torch.cat([x, torch.randn(3, 4, 5, 3)], dim=-1)  # 3 columns of batch padding
    lengths = torch.tensor([6, 6, 6])
    plain, masked = torch.nn.BatchNorm2d(4), MaskedBatchNorm2d(4)
    with torch.no_grad():
        for norm in (plain, masked):
            norm.weight.copy_(torch.linspace(0.5, 2.0, 4))
            norm.bias.copy_(torch.linspace(-1.0, 1.0, 4))
    want = plain(x)  # training mode: the batch's statistics over the real columns only
    got = masked(padded, lengths)
    assert torch.allclose(got[..., :6], want, atol=1e-5)
    assert torch.allclose(masked.running_mean, plain.running_mean, atol=1e-6)
    assert torch.allclose(masked.running_var, plain.running_var, atol=1e-6)
    assert int(masked.num_batches_tracked) == 1
    # Unequal lengths: each clip's own real columns, pooled over the batch.
    masked.reset_running_stats()
    lengths = torch.tensor([2, 6, 9])
    real = torch.cat([padded[b, :, :, :n].reshape(4, -1) for b, n in enumerate(lengths.tolist())], dim=1)
    out = masked(padded, lengths)
    mean, var = real.mean(1), real.var(1, unbiased=False)
    expected = (padded[0, :, :, :2] - mean.view(4, 1, 1)) / torch.sqrt(var.view(4, 1, 1) + 1e-5)
    expected = expected * masked.weight.view(4, 1, 1) + masked.bias.view(4, 1, 1)
    assert torch.allclose(out[0, :, :, :2], expected, atol=1e-5)
    assert torch.allclose(masked.running_var, 0.9 + 0.1 * real.var(1, unbiased=True), atol=1e-6)
    # Evaluation: the running statistics, as nn.BatchNorm2d.
    plain.load_state_dict(masked.state_dict())
    plain.eval(), masked.eval()
    assert torch.equal(masked(padded, lengths), plain(padded))


def textbook_masked_batchnorm(x, lengths, weight, bias, eps=1e-5):
    """The masked statistics written plainly, for autograd to differentiate."""
    keep = (torch.arange(x.shape[-1])[None, :] < lengths[:, None]).to(x.dtype)[:, None, None, :]
    count = keep.sum() * x.shape[2]
    mean = (x * keep).sum((0, 2, 3)) / count
    var = ((x - mean.view(1, -1, 1, 1)).square() * keep).sum((0, 2, 3)) / count
    return (x - mean.view(1, -1, 1, 1)) * torch.rsqrt(var + eps).view(1, -1, 1, 1) * weight.view(1, -1, 1, 1) \
        + bias.view(1, -1, 1, 1)


@pytest.mark.parametrize("layout", [torch.contiguous_format, torch.channels_last])
def test_masked_batchnorm_outputs_and_gradients_equal_the_textbook_form(layout):
    # The layer's forward and backward are written by hand (for speed); autograd through
    # the plain formula is the reference, padding columns included, in float64.
    torch.manual_seed(0)
    x = (torch.randn(3, 4, 5, 9, dtype=torch.float64) * 2 + 3).contiguous(memory_format=layout)
    lengths = torch.tensor([2, 6, 9])
    upstream = torch.randn(3, 4, 5, 9, dtype=torch.float64)
    norm = MaskedBatchNorm2d(4).double().train()
    with torch.no_grad():
        norm.weight.copy_(torch.linspace(0.5, 2.0, 4))
        norm.bias.copy_(torch.linspace(-1.0, 1.0, 4))
    results = []
    for forward in (lambda x: norm(x, lengths), lambda x: textbook_masked_batchnorm(x, lengths, norm.weight, norm.bias)):
        x_ = x.clone().requires_grad_()
        out = forward(x_)
        grads = torch.autograd.grad((out * upstream).sum(), (x_, norm.weight, norm.bias))
        results.append((out, *grads))
    for got, want in zip(*results):
        assert torch.allclose(got, want, atol=1e-10), (got - want).abs().max()
    # Without affine parameters: the same statistics, no weight or bias.
    bare = MaskedBatchNorm2d(4, affine=False).double().train()
    want = textbook_masked_batchnorm(x, lengths, torch.ones(4, dtype=torch.float64), torch.zeros(4, dtype=torch.float64))
    assert torch.allclose(bare(x, lengths), want, atol=1e-10)
    short = torch.tensor([2, 6])
    assert torch.autograd.gradcheck(lambda x: bare(x, short), (x[:2, :, :3, :7].clone().requires_grad_(),))


def test_masked_batchnorm_under_bfloat16_autocast_keeps_float32_statistics():
    # training.mixed_precision: a bfloat16 map in, as nn.BatchNorm2d gets one; statistics,
    # gradients of the parameters and running statistics in float32; bfloat16 out and back.
    torch.manual_seed(0)
    x = (torch.randn(4, 8, 6, 20) * 2 + 3).to(torch.bfloat16).contiguous(memory_format=torch.channels_last)
    lengths = torch.tensor([7, 20, 13, 20])
    upstream = torch.randn(4, 8, 6, 20).to(torch.bfloat16)
    norm = MaskedBatchNorm2d(8).train()
    with torch.no_grad():
        norm.weight.copy_(torch.linspace(0.5, 2.0, 8))
        norm.bias.copy_(torch.linspace(-1.0, 1.0, 8))
    exact = MaskedBatchNorm2d(8).train()
    exact.load_state_dict(norm.state_dict())
    x_ = x.clone().requires_grad_()
    out = norm(x_, lengths)
    assert out.dtype == torch.bfloat16 and norm.running_mean.dtype == torch.float32
    grad_x, grad_w = torch.autograd.grad((out.float() * upstream.float()).sum(), (x_, norm.weight))
    assert grad_x.dtype == torch.bfloat16 and grad_w.dtype == torch.float32
    # The reference: the same bfloat16 values, in float32 throughout.
    ref_in = x.float().requires_grad_()
    want = textbook_masked_batchnorm(ref_in, lengths, exact.weight, exact.bias)
    want_x, want_w = torch.autograd.grad((want * upstream.float()).sum(), (ref_in, exact.weight))
    exact(x.float(), lengths)
    assert torch.allclose(out.float(), want, atol=0.02, rtol=0.01)  # bfloat16's rounding of the output
    assert torch.allclose(grad_w, want_w, rtol=1e-4, atol=1e-3)
    assert torch.allclose(grad_x.float(), want_x, atol=0.02, rtol=0.01)
    assert torch.allclose(norm.running_mean, exact.running_mean, atol=1e-6)
    assert torch.allclose(norm.running_var, exact.running_var, atol=1e-6)


def test_with_masked_batchnorm_batch_padding_does_not_change_training_outputs():
    clips = [np.random.default_rng(i).random((1, 32, n)).astype(np.float32) for i, n in enumerate((40, 77))]
    x, lengths = collate(clips, "image")
    wider = torch.nn.functional.pad(x, (0, 50))
    for masked, same in ((True, True), (False, False)):
        model = small(masked_batchnorm=masked).train()
        assert torch.allclose(model(x, lengths), model(wider, lengths), atol=1e-5) is same
    # The same state_dict keys: a bundle of either kind loads into the other.
    small(masked_batchnorm=True).load_state_dict(small().state_dict())


def test_a_wide_input_is_cut_to_its_centred_window():
    model = small(max_frames=64)
    clip = torch.rand(1, 1, 32, 100)
    assert torch.allclose(model(clip), model(clip[..., 18:82]), atol=1e-5)
    # In a batch: each clip's own centre, from its own length.
    x, lengths = collate([clip[0].numpy(), clip[0, ..., :80].numpy()], "image")
    out = model(x, lengths)
    assert torch.allclose(out[1], model(clip[..., 8:72])[0], atol=1e-5)


def test_switches_change_the_layers():
    assert isinstance(small(pooling="max").lflbs[0].pool, torch.nn.MaxPool2d)
    assert isinstance(small(activation="elu").lflbs[0].act, torch.nn.ELU)
    for filters in (64, 128, 256):
        model = make_model("wavelet_cnn_lstm", 64, 7, filters=filters)
        assert model.lflbs[-1].conv.out_channels == filters and model.lflbs[0].conv.in_channels == 3 * filters
    for units in (64, 100, 128, 256):
        assert make_model("wavelet_cnn_lstm", 64, 7, lstm_units=units).lstm.hidden_size == units


def test_rgb_images_and_frame_input():
    rgb = make_model_for("wavelet_cnn_lstm", make_features("scalogram", n_scales=32, rgb=True).spec, 4, **SMALL)
    assert rgb.in_channels == 3 and rgb(torch.rand(2, 3, 32, 40)).shape == (2, 4)
    frames = make_model("wavelet_cnn_lstm", 32, 4, input_kind="frames", **SMALL).eval()
    x = torch.rand(2, 40, 32)
    assert frames(x).shape == (2, 4)
    image = make_model("wavelet_cnn_lstm", 32, 4, **SMALL).eval()
    image.load_state_dict(frames.state_dict())
    assert torch.allclose(frames(x), image(x.transpose(1, 2).unsqueeze(1)), atol=1e-6)


@pytest.mark.parametrize(("params", "key"), [
    ({"pooling": "median"}, "pooling"),
    ({"activation": "tanh"}, "activation"),
    ({"pipeline_kernels": [[3, 3], [5]]}, "pipeline_kernels"),
    ({"pipeline_kernels": [[4, 4]]}, "pipeline_kernels"),
    ({"lflb_kernels": [2]}, "lflb_kernels"),
    ({"filters": 0}, "filters"),
    ({"lstm_units": 0}, "lstm_units"),
    ({"dropout": 1.0}, "dropout"),
    ({"max_frames": 0}, "max_frames"),
    ({"input_kind": "waveform"}, "input_kind"),
    ({"lflb_kernels": [3, 3, 3, 3, 3]}, "pooling stages"),
    ({"channels": 3, "height": 64}, "channels"),
])
def test_bad_values_are_one_config_error_naming_the_key(params, key):
    with pytest.raises(ConfigError, match=key):
        make_model("wavelet_cnn_lstm", 64, 7, **params)


def test_a_tiny_training_learns_fake_images():
    """Two classes that differ in which rows carry energy, at random widths: the network must
    find it through convolutions, pools, the masked LSTM and the classifier."""
    from serkit.models import make_loss
    from serkit.training.config import TrainingConfig
    from serkit.training.fit import evaluate, fit

    rng = np.random.default_rng(0)

    def clip(label: int) -> np.ndarray:
        image = 0.3 * rng.random((1, 32, int(rng.integers(40, 90)))).astype(np.float32)
        rows = slice(2, 6) if label == 0 else slice(10, 14)
        image[0, rows] += 0.7
        return image

    labels = np.array([0, 1] * 24)
    data = FeatureSet([clip(y) for y in labels], labels, "image")
    val = FeatureSet([clip(y) for y in labels[:16]], labels[:16], "image")
    torch.manual_seed(0)
    model = make_model("wavelet_cnn_lstm", 32, 2, height=32, **SMALL)
    settings = TrainingConfig(epochs=8, batch_size=8, learning_rate=3e-3, select="val_accuracy", random_crop=48)
    loss_fn = make_loss("cross_entropy")
    before = evaluate(model, val, loss_fn, 16, "cpu")[1]
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny batches: threads only add barriers (2 s here, a minute under load)
    try:
        result = fit(model, data, val, loss_fn=loss_fn, settings=settings, seed=0, progress=False)
    finally:
        torch.set_num_threads(threads)
    model.load_state_dict(result.best_state)
    after = evaluate(model, val, loss_fn, 16, "cpu")[1]
    assert after >= 0.9 > before or after == 1.0
