"""Losses: the balanced margin loss (eq. 15) against hand computation, on raw capsule lengths
(the default) and on softmax probabilities; weighted cross-entropy; class weights on and off."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from serkit.errors import ConfigError
from serkit.models import LOSSES, make_loss

LOGITS = [[2.0, 0.5, -1.0], [0.1, 0.2, 0.3]]
TARGETS = [0, 2]


def softmax(row):
    exps = [math.exp(v) for v in row]
    return [e / sum(exps) for e in exps]


def margin_by_hand(logits, targets, weights, a1=0.5, a2=0.5, a3=0.5, scores="softmax"):
    n_classes = len(logits[0])
    beta = (n_classes + 1) / n_classes  # eq. 15's β for one-hot targets, worked out in the docstring
    total = 0.0
    for row, target in zip(logits, targets):
        p = softmax(row) if scores == "softmax" else [math.exp(v) for v in row]
        sample = 0.0
        for j in range(n_classes):
            y = 1.0 if j == target else 0.0
            sample += weights[j] * (y * max(0.0, a1 - p[j]) ** 2 + a2 * (1 - y) * max(0.0, p[j] - a3) ** 2)
        total += sample * beta
    return total / len(logits)


def test_registry_names():
    assert LOSSES.names() == ["balanced_margin", "cross_entropy"]


#: Raw capsule lengths ‖v_j‖ of two samples; SpeechNet's logits are their logs.
LENGTHS = [[0.9, 0.3, 0.7], [0.2, 0.6, 0.4]]


def test_balanced_margin_on_raw_lengths_by_hand():
    # Eq. 15 in CapsNet's form on the lengths themselves, α1 = α2 = α3 = 0.5, β = 4/3 (C = 3):
    # sample 1 (target 0): 0.9 ≥ 0.5 → 0; class 2 at 0.7 > 0.5 → 0.5 (0.7 - 0.5)² = 0.02;
    # sample 2 (target 2): (0.5 - 0.4)² = 0.01; class 1 at 0.6 → 0.5 (0.6 - 0.5)² = 0.005.
    want = (0.02 + 0.01 + 0.005) * (4 / 3) / 2
    logits = torch.tensor(LENGTHS).log()
    assert make_loss("balanced_margin")(logits, torch.tensor(TARGETS)).item() == pytest.approx(want, rel=1e-5)
    assert make_loss("balanced_margin", scores="lengths")(logits, torch.tensor(TARGETS)).item() == \
        pytest.approx(want, rel=1e-5)
    # CapsNet's own margins (m+ 0.9, m- 0.1, λ 0.5) are the alphas:
    capsnet = ((0.5 * ((0.3 - 0.1) ** 2 + (0.7 - 0.1) ** 2))
               + ((0.9 - 0.4) ** 2 + 0.5 * ((0.2 - 0.1) ** 2 + (0.6 - 0.1) ** 2))) * (4 / 3) / 2
    got = make_loss("balanced_margin", alpha1=0.9, alpha2=0.5, alpha3=0.1)(logits, torch.tensor(TARGETS)).item()
    assert got == pytest.approx(capsnet, rel=1e-5)


def test_balanced_margin_on_lengths_does_not_normalise():
    # Scaling every length changes the loss (softmax of the logits would not see it):
    # each class is scored on its own length, not on its share.
    logits = torch.tensor(LENGTHS).log()
    on_lengths = [make_loss("balanced_margin")(logits + shift, torch.tensor(TARGETS)).item() for shift in (0.0, -1.0)]
    on_softmax = [make_loss("balanced_margin", scores="softmax")(logits + shift, torch.tensor(TARGETS)).item()
                  for shift in (0.0, -1.0)]
    assert on_lengths[0] != pytest.approx(on_lengths[1])
    assert on_softmax[0] == pytest.approx(on_softmax[1])


def test_balanced_margin_scores_must_be_known():
    with pytest.raises(ValueError, match="scores must be one of lengths, softmax"):
        make_loss("balanced_margin", scores="probabilities")


@pytest.mark.parametrize("scores", ["softmax", "lengths"])
@pytest.mark.parametrize("weights", [None, [1.0, 2.0, 0.5]])
def test_balanced_margin_matches_hand_computation(weights, scores):
    loss = make_loss("balanced_margin", class_weights=None if weights is None else torch.tensor(weights),
                     scores=scores)
    logits = LOGITS if scores == "softmax" else torch.tensor(LENGTHS).log().tolist()
    got = loss(torch.tensor(logits), torch.tensor(TARGETS)).item()
    want = margin_by_hand(logits, TARGETS, weights or [1.0, 1.0, 1.0], scores=scores)
    assert got == pytest.approx(want, rel=1e-5)
    assert want > 0


def test_balanced_margin_hand_value_is_what_we_think():
    # Sample 1: p ≈ (0.786, 0.175, 0.039), class 0 above 0.5 → 0. Sample 2: p ≈ (0.301, 0.332, 0.367),
    # target 2 → (0.5 - 0.367)^2; no other class above 0.5. β = 4/3; mean over 2 samples.
    p2 = softmax(LOGITS[1])[2]
    assert margin_by_hand(LOGITS, TARGETS, [1, 1, 1]) == pytest.approx((0.5 - p2) ** 2 * 4 / 3 / 2)


def test_balanced_margin_beta_for_soft_targets():
    # β from the formula with soft y: (1/C) Σ_c (1 - y_c + y_c (C-1)/C) / (1 - 1/C), at least 1.
    soft = torch.tensor([[0.5, 0.5, 0.0]])
    logits = torch.tensor([[0.0, 0.0, 3.0]])
    p = softmax([0.0, 0.0, 3.0])
    c = 3
    beta = max(sum(1 - y + y * (c - 1) / c for y in (0.5, 0.5, 0.0)) / c / (1 - 1 / c), 1.0)
    per = sum(y * max(0, 0.5 - pj) ** 2 + 0.5 * (1 - y) * max(0, pj - 0.5) ** 2 for y, pj in zip((0.5, 0.5, 0.0), p))
    assert make_loss("balanced_margin", scores="softmax")(logits, soft).item() == pytest.approx(per * beta, rel=1e-6)
    assert beta == pytest.approx(4 / 3)


def test_balanced_margin_is_zero_for_confident_correct_predictions():
    logits = torch.tensor([[5.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 1.2]])
    assert make_loss("balanced_margin", scores="softmax")(logits, torch.tensor([0, 3])).item() == 0.0
    lengths = torch.tensor([[0.9, 0.1, 0.4, 0.0], [0.2, 0.5, 0.3, 0.6]])
    assert make_loss("balanced_margin")(lengths.log(), torch.tensor([0, 3])).item() == 0.0


def test_balanced_margin_alphas_are_parameters():
    base = make_loss("balanced_margin", scores="softmax")(torch.tensor(LOGITS), torch.tensor(TARGETS)).item()
    other = make_loss("balanced_margin", alpha1=0.9, alpha3=0.1, scores="softmax")(
        torch.tensor(LOGITS), torch.tensor(TARGETS)).item()
    assert other == pytest.approx(margin_by_hand(LOGITS, TARGETS, [1, 1, 1], a1=0.9, a3=0.1), rel=1e-6)
    assert other != pytest.approx(base)


def test_balanced_margin_has_gradients():
    logits = torch.tensor(LOGITS, requires_grad=True)
    make_loss("balanced_margin", scores="softmax")(logits, torch.tensor(TARGETS)).backward()
    assert logits.grad is not None and logits.grad.abs().sum() > 0
    log_lengths = torch.tensor(LENGTHS).log().requires_grad_()
    make_loss("balanced_margin")(log_lengths, torch.tensor(TARGETS)).backward()
    assert log_lengths.grad is not None and log_lengths.grad.abs().sum() > 0


def test_weighted_cross_entropy_matches_hand_computation():
    weights = [1.0, 2.0, 0.5]
    loss = make_loss("cross_entropy", class_weights=torch.tensor(weights))
    got = loss(torch.tensor(LOGITS), torch.tensor(TARGETS)).item()
    nll = [-math.log(softmax(row)[t]) * weights[t] for row, t in zip(LOGITS, TARGETS)]
    want = sum(nll) / sum(weights[t] for t in TARGETS)
    assert got == pytest.approx(want, rel=1e-6)
    unweighted = make_loss("cross_entropy", class_weights=None)(torch.tensor(LOGITS), torch.tensor(TARGETS)).item()
    assert unweighted == pytest.approx(sum(-math.log(softmax(r)[t]) for r, t in zip(LOGITS, TARGETS)) / 2, rel=1e-6)


def test_training_class_weights_are_inverse_frequency_and_0_for_an_absent_class():
    # The one class-weight function (serkit.training.data): N / (C n_j), C the classes present.
    from serkit.training.data import class_weights

    weights = class_weights(np.array([0, 0, 0, 1, 1, 2]), 4)
    assert weights.dtype == np.float32
    assert weights.tolist() == pytest.approx([6 / 9, 6 / 6, 6 / 3, 0.0])
    assert class_weights(np.array([0, 1, 2, 0, 1, 2]), 3).tolist() == pytest.approx([1.0, 1.0, 1.0])


def test_unknown_loss_and_parameter_are_config_errors():
    with pytest.raises(ConfigError, match="Did you mean 'balanced_margin'"):
        make_loss("balanced_margn")
    with pytest.raises(ConfigError, match="valid parameters: alpha1, alpha2, alpha3, class_weights, scores"):
        make_loss("balanced_margin", beta=2.0)


def test_wrong_class_weight_size_says_so():
    loss = make_loss("balanced_margin", class_weights=torch.ones(4))
    with pytest.raises(ValueError, match=r"shape \(3,\)"):
        loss(torch.tensor(LOGITS), torch.tensor(TARGETS))
