"""SpeechNet: shapes, masking, ablation switches, routing rules, size, determinism, learning,
and that its attention attends and its routing routes (issue 16)."""

from __future__ import annotations

import math

import pytest
import torch

from serkit.errors import ConfigError
from serkit.models import make_loss, make_model, n_parameters
from serkit.models.layers import CapsuleRouting, interval_pool, squash
from serkit.models.speechnet import ATTENTION_GAIN, PreAttentionMHA, SpeechNet

N_FEATURES, N_CLASSES = 107, 7

SWITCHES = ["information_encoding", "speech_recall", "pre_attention", "speech_attention", "signal_refinement",
            "routing", "modified_routing"]


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def model(seed: int = 0, **params) -> SpeechNet:
    torch.manual_seed(seed)
    return make_model("speechnet", N_FEATURES, N_CLASSES, **params)


def frames(batch: int, length: int, seed: int = 1) -> torch.Tensor:
    return torch.randn(batch, length, N_FEATURES, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("batch", [1, 5])
def test_vector_logits_shape_and_probabilities(batch):
    logits = model().eval()(torch.randn(batch, N_FEATURES))
    assert logits.shape == (batch, N_CLASSES)
    assert torch.isfinite(logits).all()
    torch.testing.assert_close(torch.softmax(logits, 1).sum(1), torch.ones(batch))


def test_frames_logits_shape_and_lengths_default_to_all_frames():
    net = model(input_kind="frames").eval()
    x = frames(3, 50)
    assert net(x).shape == (3, N_CLASSES)
    assert torch.equal(net(x), net(x, torch.tensor([50, 50, 50])))


@pytest.mark.parametrize("switch", [None, "information_encoding", "speech_recall"])
def test_frames_padding_is_masked(switch):
    params = {switch: False} if switch else {}
    net = model(input_kind="frames", **params).eval()
    lengths = torch.tensor([40, 7, 1, 90])
    x = frames(4, 90)
    # Garbage, not zeros, in the padding: it must not matter either.
    x[0, 40:], x[1, 7:], x[2, 1:] = 1e3, -5.0, 7.0
    with torch.no_grad():
        out = net(x, lengths)
        padded = net(torch.cat([x, torch.full((4, 33, N_FEATURES), 9.0)], 1), lengths)
        alone = net(x[1:2, :7], torch.tensor([7]))
    torch.testing.assert_close(padded, out, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(alone, out[1:2], rtol=1e-5, atol=1e-5)


def test_interval_pool_averages_real_frames_into_equal_intervals():
    x = torch.arange(6.0).view(1, 6, 1).repeat(2, 1, 1)
    pooled = interval_pool(x, torch.tensor([6, 3]), 3)
    assert pooled[0, :, 0].tolist() == [0.5, 2.5, 4.5]
    assert pooled[1, :, 0].tolist() == [0.0, 1.0, 2.0]
    # Fewer frames than intervals: intervals repeat frames (adaptive_avg_pool1d's rule).
    assert interval_pool(x, torch.tensor([2, 2]), 4)[0, :, 0].tolist() == [0.0, 0.0, 1.0, 1.0]
    assert torch.equal(interval_pool(x[:1], torch.tensor([6]), 4),
                       torch.nn.functional.adaptive_avg_pool1d(x[:1].transpose(1, 2), 4).transpose(1, 2))


def structure(net: torch.nn.Module) -> dict[str, tuple[int, ...]]:
    return {k: tuple(v.shape) for k, v in net.state_dict().items()}


@pytest.mark.parametrize("input_kind", ["vector", "frames"])
@pytest.mark.parametrize("switch", SWITCHES)
def test_each_ablation_switch_changes_the_model_and_still_trains(switch, input_kind):
    full = model(input_kind=input_kind)
    ablated = model(input_kind=input_kind, **{switch: False})
    if switch == "modified_routing":
        # Same weights, different routing rule.
        assert structure(ablated) == structure(full)
        assert ablated.router.modified is False and full.router.modified is True
    else:
        assert structure(ablated) != structure(full)
    x = torch.randn(4, N_FEATURES) if input_kind == "vector" else frames(4, 20)
    lengths = None if input_kind == "vector" else torch.tensor([20, 3, 11, 1])
    ablated.train()
    logits = ablated(x, lengths)
    assert logits.shape == (4, N_CLASSES)
    make_loss("balanced_margin")(logits, torch.tensor([0, 1, 2, 3])).backward()
    grads = [p.grad for p in ablated.parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    assert sum(g.abs().sum() for g in grads) > 0


def test_routing_rules_differ_on_the_same_weights():
    full, standard = model().eval(), model(modified_routing=False).eval()
    with torch.no_grad():
        # At initialisation the class capsules are short and every agreement is near 0, so the
        # coefficients hardly move; larger routing weights (as after training) make them move.
        full.router.weight.mul_(30)
    standard.load_state_dict(full.state_dict())
    x = torch.randn(3, N_FEATURES)
    assert not torch.allclose(full(x), standard(x))
    # With a single iteration neither rule updates its coefficients: they coincide.
    one, one_std = model(routing_iterations=1).eval(), model(routing_iterations=1, modified_routing=False).eval()
    one_std.load_state_dict(one.state_dict())
    torch.testing.assert_close(one(x), one_std(x))


def routing_by_hand(u, weight, n_classes, out_dim, iterations, modified):
    """Eqs. 12-14 and Sabour's routing with explicit loops over capsules, for one sample."""
    n_in = u.shape[0]
    # weight[i] is (in_dim, classes * out_dim): a_ij is u_i @ weight[i], cut per class.
    a = [[(u[i] @ weight[i]).view(n_classes, out_dim)[j] for j in range(n_classes)] for i in range(n_in)]
    c = [[torch.full((out_dim,), 1.0 / n_classes) for _ in range(n_classes)] for _ in range(n_in)]
    b = [[0.0] * n_classes for _ in range(n_in)]
    for r in range(iterations):
        v = [squash(sum(c[i][j] * a[i][j] for i in range(n_in))) for j in range(n_classes)]
        if r == iterations - 1:
            return torch.stack(v)
        for i in range(n_in):
            if modified:
                sims = torch.stack([a[i][j] * v[j] for j in range(n_classes)])  # (classes, out_dim)
                c[i] = list(torch.softmax(sims, 0))
            else:
                for j in range(n_classes):
                    b[i][j] += float(a[i][j] @ v[j])
                e = [math.exp(x) for x in b[i]]
                c[i] = [torch.full((out_dim,), x / sum(e)) for x in e]


@pytest.mark.parametrize("modified", [True, False])
@pytest.mark.parametrize("iterations", [1, 2, 3])
def test_capsule_routing_matches_loops(modified, iterations):
    torch.manual_seed(3)
    routing = CapsuleRouting(5, 4, 3, 6, iterations=iterations, modified=modified)
    u = squash(torch.randn(2, 5, 4))
    got = routing(u)
    for s in range(2):
        want = routing_by_hand(u[s], routing.weight.detach(), 3, 6, iterations, modified)
        torch.testing.assert_close(got[s].detach(), want, rtol=1e-5, atol=1e-6)


def test_logits_are_log_capsule_lengths():
    net = model().eval()
    captured = {}
    net.router.register_forward_hook(lambda mod, inp, out: captured.update(v=out))
    logits = net(torch.randn(4, N_FEATURES))
    lengths = captured["v"].norm(dim=-1)
    torch.testing.assert_close(torch.softmax(logits, 1), lengths / lengths.sum(1, keepdim=True))
    assert torch.equal(logits.argmax(1), lengths.argmax(1))


def test_parameter_count_follows_the_architecture():
    net = model()
    encoder = (107 * 256 + 256) + (256 * 128 + 128)
    lstm = 4 * 64 * (2 + 64) + 2 * 4 * 64  # 128-d code as 64 steps of 2
    attention = 6 * 64 * 64  # pre-q/k/v and the heads' q/k/v (4 x 16), no biases (eq. 9)
    conv = 32 * 64 * 3 + 32
    capsules = math.ceil((64 - 3 + 1) * 32 / 16)  # τ = 124
    routing = capsules * 16 * N_CLASSES * 16
    assert n_parameters(net) == encoder + lstm + attention + conv + routing == 330_912
    print(f"SpeechNet parameters (107 features, 7 classes): {n_parameters(net):,}")


def test_same_seed_same_outputs_and_state_dict_loads_without_forward():
    x = torch.randn(6, N_FEATURES)
    a, b, c = model(seed=0).eval(), model(seed=0).eval(), model(seed=1).eval()
    assert torch.equal(a(x), b(x))
    assert not torch.equal(a(x), c(x))
    c.load_state_dict(a.state_dict())
    assert torch.equal(a(x), c(x))
    # Training steps are reproducible too (dropout draws from the global generator).
    outs = []
    for _ in range(2):
        net = model(seed=5).train()
        torch.manual_seed(9)
        opt = torch.optim.Adam(net.parameters(), lr=1e-3)
        for _ in range(3):
            opt.zero_grad()
            make_loss("balanced_margin")(net(x), torch.arange(6) % N_CLASSES).backward()
            opt.step()
        outs.append(net.eval()(x))
    assert torch.equal(outs[0], outs[1])


def test_learns_a_small_training_set():
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(32, N_FEATURES, generator=gen)
    y = torch.arange(32) % 4
    net = SpeechNet(N_FEATURES, 4)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    loss_fn = make_loss("balanced_margin")
    for _ in range(120):  # 100% after ~100 steps
        net.train()
        opt.zero_grad()
        loss_fn(net(x), y).backward()
        opt.step()
    with torch.no_grad():
        accuracy = (net.eval()(x).argmax(1) == y).float().mean().item()
    assert accuracy > 0.9


@pytest.mark.parametrize("params, message", [
    ({"input_kind": "waveform"}, "input_kind 'vector' or 'frames', not 'waveform'"),
    ({"kernel_size": 65}, "kernel_size"),
    ({"dropout": 1.0}, "dropout"),
    ({"capsule_dim": 0}, "capsule_dim"),
    ({"encoder_units": ()}, "encoder_units"),
    ({"routing_iteration": 3}, "valid parameters: attention_gain, capsule_dim"),
])
def test_bad_parameters_are_config_errors(params, message):
    with pytest.raises(ConfigError, match=message):
        make_model("speechnet", N_FEATURES, N_CLASSES, **params)


def test_wrong_input_shape_says_what_was_expected():
    with pytest.raises(ValueError, match=r"expects \(batch, features\)"):
        model()(frames(2, 5))
    with pytest.raises(ValueError, match=r"lengths must be in \[1, 5\]"):
        model(input_kind="frames")(frames(2, 5), torch.tensor([5, 0]))


def test_stored_parameters():
    net = model(conv_channels=16, encoder_units=[64, 32], routing=False)
    assert (net.conv_channels, net.encoder_units, net.routing, net.input_kind) == (16, (64, 32), False, "vector")
    assert net.classifier.in_features == 62 * 16


# --------------------------------------------------------------------------- issue 16: do they do anything?


def probe(net: SpeechNet, x: torch.Tensor, lengths=None) -> dict[str, torch.Tensor]:
    """The attention's input h_r, the refined map, the router's input capsules and class capsules."""
    seen: dict[str, torch.Tensor] = {}
    hooks = [net.attention.register_forward_pre_hook(lambda m, i: seen.update(h=i[0])),
             net.refinement.register_forward_hook(lambda m, i, o: seen.update(refined=o)),
             net.router.register_forward_pre_hook(lambda m, i: seen.update(u=i[0])),
             net.router.register_forward_hook(lambda m, i, o: seen.update(v=o))]
    with torch.no_grad():
        net.eval()(x, lengths)
    for hook in hooks:
        hook.remove()
    return seen


def entropy(weights: torch.Tensor) -> torch.Tensor:
    return -(weights * weights.clamp_min(1e-30).log()).sum(-1)


def test_capsule_lengths_at_initialisation_are_order_one():
    # Before issue 16 the squashed input capsules were ~0.03 long and the class capsules
    # ~0.001: the routing had nothing to route. Standardised frames in, O(1) lengths out.
    seen = probe(model(input_kind="frames"), frames(8, 120))
    inputs, classes = seen["u"].norm(dim=-1), seen["v"].norm(dim=-1)
    assert 0.2 < inputs.mean() < 3, inputs.mean()
    assert 0.2 < classes.min() and classes.max() < 0.99, (classes.min(), classes.max())


def test_input_capsules_are_the_refined_map_unsquashed():
    seen = probe(model(input_kind="frames"), frames(3, 40))
    # The conv's (B, channels, positions) map, read position-major as h_s (eq. 11).
    blocks = seen["refined"].transpose(1, 2).reshape(3, -1, 16)
    torch.testing.assert_close(seen["u"], blocks)


def test_routing_coefficients_move_away_from_uniform():
    torch.manual_seed(0)
    u = torch.randn(1, 4, 4, generator=torch.Generator().manual_seed(2))  # 4 capsules of 4, O(1) entries
    for modified in (True, False):
        spreads = []
        for iterations in (1, 2, 3):
            torch.manual_seed(0)  # the same weights for every iteration count
            routing = CapsuleRouting(4, 4, 3, 4, iterations=iterations, modified=modified)
            v, c = routing.route(u)
            torch.testing.assert_close(v, routing(u))
            torch.testing.assert_close(c.sum(2), torch.ones_like(c.sum(2)))  # a distribution over classes
            spreads.append(c.std(dim=2).mean().item())
        assert spreads[0] == 0.0  # one iteration: the uniform 1/C
        assert 0.02 < spreads[1] < spreads[2], (modified, spreads)


def test_attention_attends_on_a_varying_input_and_averages_a_constant_one():
    net = model(input_kind="frames")
    seen = probe(net, frames(4, 120))
    weights = net.attention.attention_weights(seen["h"])  # (B, heads, 64, 64)
    assert weights.shape == (4, 4, 64, 64)
    torch.testing.assert_close(weights.sum(-1), torch.ones(4, 4, 64))
    # Before issue 16 the entropy was ln 64 to 1e-5 (scores ~0.001): a plain average.
    assert entropy(weights).mean() < math.log(64) - 0.01, entropy(weights).mean()
    # The same vector at every position: nothing to prefer, the weights are uniform.
    constant = seen["h"][:, :1].expand(-1, 64, -1)
    torch.testing.assert_close(net.attention.attention_weights(constant), torch.full((4, 4, 64, 64), 1 / 64))


def test_attention_weights_are_what_the_module_averages_with():
    torch.manual_seed(0)
    attention = PreAttentionMHA(8, pre_attention_dim=6, n_heads=2, head_dim=3, gain=ATTENTION_GAIN)
    h = torch.randn(2, 5, 8)
    weights = attention.attention_weights(h)  # (2, 2, 5, 5)
    values = attention.value(attention.pre_value(h)).view(2, 5, 2, 3).transpose(1, 2)
    torch.testing.assert_close(attention(h), (weights @ values).transpose(1, 2).reshape(2, 5, 6))
    # Eq. 9's maps have no bias.
    assert all(layer.bias is None for layer in (attention.pre_query, attention.pre_key, attention.pre_value,
                                                attention.query, attention.key, attention.value))


def test_initial_weights_are_keras_like():
    net = model(input_kind="frames")
    lstm = net.recall
    units = lstm.hidden_size
    forget = torch.zeros(4 * units)
    forget[units:2 * units] = 1.0
    assert torch.equal(lstm.bias_ih_l0.detach(), forget) and not lstm.bias_hh_l0.detach().any()
    # Orthogonal recurrent kernel: its columns are orthonormal.
    torch.testing.assert_close(lstm.weight_hh_l0.T @ lstm.weight_hh_l0, torch.eye(units), atol=1e-5, rtol=0)
    for layer in (*net.encoder, *net.refinement):
        if hasattr(layer, "bias"):
            assert not layer.bias.detach().any()
    # The routing weights: std C / sqrt(d · τ), so that ‖s_j‖ ≈ ‖u_i‖ at the first iteration.
    assert abs(net.router.weight.std().item() - N_CLASSES / math.sqrt(16 * 124)) < 0.005


def test_class_weights_off_is_an_unweighted_margin():
    logits = torch.randn(6, N_CLASSES)
    targets = torch.arange(6) % N_CLASSES
    ones = make_loss("balanced_margin", class_weights=torch.ones(N_CLASSES))(logits, targets)
    assert make_loss("balanced_margin", class_weights=None)(logits, targets).item() == pytest.approx(ones.item())
