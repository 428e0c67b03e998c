"""The CNN–Transformer with cross-attention (Wei et al., 2025): shapes, loading, padding, determinism, errors."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from serkit.errors import ConfigError
from serkit.models import make_model, model_input_kind, model_params, n_parameters
from serkit.models.cnn_transformer import CNNTransformer

pytestmark = pytest.mark.usefixtures("one_torch_thread")

#: A small configuration: odd sizes so that every floor in the pooling arithmetic matters.
MELS, FRAMES, CLASSES = 36, 50, 5
SMALL = {"n_frames": FRAMES, "channels": (4, 8, 8), "d_model": 16, "n_heads": 2, "n_layers": 2, "ff_dim": 32}


def small(seed: int = 0, **params) -> CNNTransformer:
    torch.manual_seed(seed)
    return make_model("cnn_transformer", MELS, CLASSES, **{**SMALL, **params})


def frames(batch: int = 4, n: int = FRAMES, seed: int = 1) -> torch.Tensor:
    return torch.randn(batch, n, MELS, generator=torch.Generator().manual_seed(seed))


def test_default_model_shapes_follow_the_pooling_arithmetic():
    torch.manual_seed(0)
    net = make_model("cnn_transformer", 128, 8, n_frames=188).eval()
    assert isinstance(net, CNNTransformer) and model_input_kind("cnn_transformer") == "frames"
    # Four 2×2 pools: 128 → 8 mels, 188 → 11 frames, 128 channels.
    assert net.cnn_dim == 128 * 8 * 11 == 11_264
    # The 2×4 (mel, time) pool: 47 steps of 64 values, which is d_model: no projection.
    assert net.sequence_length == 188 // 4 == 47
    assert isinstance(net.transformer.project, nn.Identity)
    with torch.no_grad():
        parts = net.branches(torch.randn(2, 188, 128))
        logits = net(torch.randn(2, 188, 128))
    assert parts.f_cnn.shape == (2, 11_264)
    assert parts.f_transf.shape == (2, 47, 64)
    assert parts.f_fused.shape == (2, 64)
    torch.testing.assert_close(parts.attention.sum(1), torch.ones(2))
    assert logits.shape == (2, 8)
    assert net.head.in_features == 11_264 + 64
    print(f"cnn_transformer (128 mels, 188 frames, 8 classes): {n_parameters(net):,} parameters")


def test_small_model_shapes_and_projection():
    net = small().eval()
    # Three 2×2 pools floor 36 → 18 → 9 → 4 and 50 → 25 → 12 → 6.
    assert net.cnn_dim == 8 * 4 * 6
    assert net.sequence_length == 50 // 4
    # 36 / 2 = 18 pooled mels are projected to d_model = 16.
    assert isinstance(net.transformer.project, nn.Linear)
    assert net.transformer.project.in_features == 18 and net.transformer.project.out_features == 16
    with torch.no_grad():
        parts = net.branches(frames())
    assert parts.f_cnn.shape == (4, 192) and parts.f_transf.shape == (4, 12, 16)
    assert parts.step_mask.all() and parts.f_fused.shape == (4, 16)
    assert net(frames()).shape == (4, CLASSES)


def test_state_dict_loads_into_a_fresh_model_without_a_forward_pass():
    trained = small(seed=0)
    optimizer = torch.optim.SGD(trained.parameters(), lr=0.1)
    nn.functional.cross_entropy(trained(frames()), torch.tensor([0, 1, 2, 3])).backward()
    optimizer.step()  # also moves the BatchNorm running statistics away from their defaults
    state = trained.state_dict()
    assert not any("positions" in key for key in state)  # the fixed table is rebuilt, not saved
    fresh = small(seed=1)
    fresh.load_state_dict(state)  # strict: every size already matches
    x = frames(seed=5)
    torch.testing.assert_close(fresh.eval()(x), trained.eval()(x), rtol=0, atol=0)


def test_short_inputs_are_zero_padded_and_long_ones_cropped():
    net = small().eval()
    x = frames()
    with torch.no_grad():
        short = net(x[:, :30])
        padded = net(torch.cat([x[:, :30], torch.zeros(4, FRAMES - 30, MELS)], 1), torch.full((4,), 30))
        long = net(torch.cat([x, torch.randn(4, 9, MELS)], 1))
        exact = net(x)
        long_lengths = net(torch.cat([x, torch.randn(4, 9, MELS)], 1), torch.tensor([59, 50, 20, 55]))
        clipped = net(x, torch.tensor([50, 50, 20, 50]))
    torch.testing.assert_close(short, padded, rtol=0, atol=0)
    torch.testing.assert_close(long, exact, rtol=0, atol=0)
    torch.testing.assert_close(long_lengths, clipped, rtol=0, atol=0)
    assert torch.isfinite(short).all()


def test_mask_changes_nothing_at_full_length():
    net = small().eval()
    x = frames()
    with torch.no_grad():
        assert torch.equal(net(x), net(x, torch.full((4,), FRAMES)))


def test_padded_frames_are_irrelevant():
    net = small().eval()
    x, lengths = frames(), torch.tensor([50, 23, 1, 17])  # 23 and 17 end inside a pooled step
    other = x.clone()
    for b, n in enumerate(lengths.tolist()):
        other[b, n:] = 5.0 + torch.randn(FRAMES - n, MELS)
    with torch.no_grad():
        out, parts = net(x, lengths), net.branches(x, lengths)
        changed = net(other, lengths)
        alone = net(x[1:2, :23])
    torch.testing.assert_close(changed, out, rtol=0, atol=0)
    torch.testing.assert_close(alone, out[1:2], rtol=1e-5, atol=1e-6)
    # ⌈23/4⌉ = 6, ⌈1/4⌉ = 1, ⌈17/4⌉ = 5 real steps; the cross-attention puts no weight after them.
    assert parts.step_mask.sum(1).tolist() == [12, 6, 1, 5]
    assert torch.all(parts.attention[~parts.step_mask] == 0)
    torch.testing.assert_close(parts.attention.sum(1), torch.ones(4))


def test_padding_values_get_no_gradient():
    net = small().eval()
    x = frames().requires_grad_()
    lengths = torch.tensor([50, 23, 1, 17])
    net(x, lengths).sum().backward()
    for b, n in enumerate(lengths.tolist()):
        assert torch.all(x.grad[b, n:] == 0) and x.grad[b, :n].abs().sum() > 0


def test_same_seed_same_output_and_gradients():
    def step(seed: int):
        net = small(seed=seed).train()
        torch.manual_seed(seed)  # the dropout masks
        logits = net(frames(), torch.tensor([50, 23, 1, 17]))
        nn.functional.cross_entropy(logits, torch.tensor([0, 1, 2, 3])).backward()
        return logits.detach(), [p.grad.clone() for p in net.parameters()]

    (out_a, grads_a), (out_b, grads_b), (out_c, _) = step(3), step(3), step(4)
    assert torch.equal(out_a, out_b)
    assert all(torch.equal(a, b) for a, b in zip(grads_a, grads_b))
    assert not torch.equal(out_a, out_c)


def test_it_learns_a_small_problem():
    net = small(dropout=0.0, transformer_dropout=0.0).train()
    x, y = frames(8, seed=2), torch.arange(8) % CLASSES
    optimizer = torch.optim.Adam(net.parameters(), lr=3e-3)
    losses = []
    for _ in range(25):
        optimizer.zero_grad()
        loss = nn.functional.cross_entropy(net(x), y)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]


@pytest.mark.parametrize(("params", "message"), [
    ({"n_frame": 188}, r"no parameter 'n_frame' \(did you mean 'n_frames'\?\); valid parameters: attention_dim, bn_recalibration_batches, channels"),
    ({}, "needs n_frames"),
    ({"n_frames": 8}, "n_features and n_frames must be >= 16"),
    ({"n_frames": 188, "channels": ()}, "channels must be positive"),
    ({"n_frames": 188, "d_model": 30, "n_heads": 4}, r"d_model \(30\) must be divisible by n_heads \(4\)"),
    ({"n_frames": 188, "dropout": 1.0}, "dropout must be in"),
    ({"n_frames": 188, "transformer_pool": (2, 400)}, "larger than the spectrogram"),
    ({"n_frames": 188, "input_kind": "vector"}, "takes input_kind 'frames', not 'vector'"),
])
def test_bad_params_are_config_errors(params, message):
    with pytest.raises(ConfigError, match=message):
        make_model("cnn_transformer", 128, 8, **params)


def test_params_are_listed_with_their_defaults():
    params = model_params("cnn_transformer")
    assert params["n_frames"] is None and params["channels"] == (16, 32, 64, 128)
    assert params["dropout"] == 0.4 and params["transformer_pool"] == (2, 4) and params["n_layers"] == 4
    # Lists from YAML configs work like tuples.
    net = make_model("cnn_transformer", MELS, CLASSES, **{**SMALL, "channels": [4, 8, 8],
                                                         "transformer_pool": [2, 4]})
    assert net.cnn_dim == 192


def test_recalibrated_batch_norm_matches_dropout_free_batch_statistics(one_torch_thread):
    torch.manual_seed(0)
    net = make_model("cnn_transformer", 32, 3, n_frames=24, channels=(4, 8), dropout=0.5)
    x = torch.randn(6, 24, 32)
    net.train()
    optimizer = torch.optim.SGD(net.parameters(), lr=0.01)
    for _ in range(3):  # running statistics learnt with dropout active
        optimizer.zero_grad()
        torch.nn.functional.cross_entropy(net(x), torch.tensor([0, 1, 2, 0, 1, 2])).backward()
        optimizer.step()
    net.recalibrate(iter([(x, None)]))
    assert net.training  # the mode it was in
    net.eval()
    calibrated = net(x)
    # Reference: BatchNorm on this batch's own statistics, dropout off.
    for module in net.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.train()
    reference = net(x)
    # Running variances are unbiased (n/(n-1), n = 6 clips x 6 x 12 positions at the
    # second block): up to about 0.2 % apart from the batch's own, no more.
    assert torch.allclose(calibrated, reference, rtol=3e-3, atol=1e-4)


def test_recalibration_can_be_switched_off():
    torch.manual_seed(0)
    net = make_model("cnn_transformer", 32, 3, n_frames=24, channels=(4, 8), bn_recalibration_batches=0)
    before = {k: v.clone() for k, v in net.state_dict().items()}
    net.recalibrate(iter([(torch.randn(4, 24, 32), None)]))
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())


def test_block_dropout_zeroes_its_share_and_rescales_the_rest_in_training_only():
    from serkit.models.cnn_transformer import ResidualBlock

    torch.manual_seed(0)
    block = ResidualBlock(1, 2, dropout=0.4)
    x = torch.ones(200_000)
    dropped = block.train()._drop(x)
    assert abs((dropped == 0).float().mean().item() - 0.4) < 0.005
    assert torch.allclose(dropped[dropped != 0], torch.tensor(1 / 0.6))
    assert block.eval()._drop(x) is x
    assert ResidualBlock(1, 2, dropout=0.0).train()._drop(x) is x
