"""Training losses: cross-entropy and SpeechNet's balanced margin loss (Zhang et al., 2025, eq. 15).

Every loss is built by :func:`serkit.models.make_loss` and called as
``loss(logits, targets) -> scalar`` with ``logits`` ``(N, C)`` and ``targets`` ``(N,)`` class
indices (the balanced margin loss also takes ``(N, C)`` soft targets).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from serkit.registry import Registry

#: name → loss class; each is constructed as ``cls(class_weights=..., **params)``.
LOSSES: Registry = Registry("loss")


def _check_weights(class_weights: torch.Tensor | None, n_classes: int, loss: str) -> None:
    if class_weights is not None and class_weights.shape != (n_classes,):
        raise ValueError(f"{loss}: class_weights must have shape ({n_classes},) for {n_classes} classes, "
                         f"not {tuple(class_weights.shape)}")


@LOSSES.register("cross_entropy")
class CrossEntropyLoss:
    """Softmax cross-entropy, optionally class-weighted.

    With class weights the mean is over the summed weights of the batch's targets
    (``torch.nn.functional.cross_entropy``'s rule).

    Args:
        class_weights: ``(C,)`` or None.
        label_smoothing: in [0, 1).
    """

    def __init__(self, *, class_weights: torch.Tensor | None = None, label_smoothing: float = 0.0):
        self.class_weights = class_weights
        self.label_smoothing = label_smoothing

    def __call__(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        _check_weights(self.class_weights, logits.shape[1], "cross_entropy")
        weight = None if self.class_weights is None else self.class_weights.to(logits.device, logits.dtype)
        return F.cross_entropy(logits, targets, weight=weight, label_smoothing=self.label_smoothing)


#: What the balanced margin loss reads as ŷ (see :class:`BalancedMarginLoss`).
MARGIN_SCORES = ("lengths", "softmax")


@LOSSES.register("balanced_margin")
class BalancedMarginLoss:
    r"""SpeechNet's balanced margin loss (eq. 15), CapsNet's margin loss on the class scores.

    .. math::
        L = \frac1N \sum_i \beta_i \sum_j w_j \big[y_{ij} \max(0, \alpha_1 - \hat y_{ij})^2
            + \alpha_2 (1 - y_{ij}) \max(0, \hat y_{ij} - \alpha_3)^2\big]

    * ``ŷ``, by ``scores``:

      - ``"lengths"`` (default): ``ŷ = exp(logits)``. SpeechNet's logits are the log lengths
        of its class capsules (:func:`serkit.models.layers.capsule_logits`), so ``ŷ_j`` is the
        raw length ``‖v_j‖`` in [0, 1): eq. 15 is then Sabour et al.'s margin loss (``m+ =
        α1``, ``λ = α2``, ``m- = α3``), each class scored on its own. Only for logits that
        are the log of scores in [0, 1] (capsule lengths); anything else wants ``"softmax"``.
      - ``"softmax"``: ``ŷ = softmax(logits)``, for any model (for SpeechNet: the lengths
        normalised to sum 1). serkit's reading before issue 16; a sample then costs nothing
        once its true class has probability >= 0.5, and the loss goes to 0 early in training.
    * ``w_j`` weighs *output* j in both terms; training passes inverse class frequencies
      (:func:`serkit.training.data.class_weights`) unless ``training.class_weights: false``;
      None means all ones.
    * The balancing factor, read per sample ``i`` from its target row,
      ``β_i = max((1/C) Σ_c (1 - y_ic + y_ic (C-1)/C) / (1 - 1/C), 1)``. For a one-hot ``y``
      the sum is ``(C-1) + (C-1)/C``, so ``β = (C + 1) / C = 1 + 1/C`` for every sample
      (8/7 ≈ 1.143 for 7 classes): a constant scale, not a balance. It varies only for soft
      targets, and is computed as written.

    Args:
        class_weights: ``(C,)`` or None.
        alpha1, alpha2, alpha3: the margins and the negative term's weight (paper: 0.5 each).
        scores: ``"lengths"`` or ``"softmax"``, above.

    Raises:
        ValueError: at construction, for an unknown ``scores``; at call time, for fewer than
            2 classes or class weights of the wrong size.
    """

    def __init__(self, *, class_weights: torch.Tensor | None = None, alpha1: float = 0.5, alpha2: float = 0.5,
                 alpha3: float = 0.5, scores: str = "lengths"):
        if scores not in MARGIN_SCORES:
            raise ValueError(f"balanced_margin: scores must be one of {', '.join(MARGIN_SCORES)}, not {scores!r}")
        self.class_weights = class_weights
        self.alpha1, self.alpha2, self.alpha3 = alpha1, alpha2, alpha3
        self.scores = scores

    def __call__(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        n_classes = logits.shape[1]
        if n_classes < 2:
            raise ValueError(f"balanced_margin needs at least 2 classes, not {n_classes}")
        _check_weights(self.class_weights, n_classes, "balanced_margin")
        p = torch.exp(logits) if self.scores == "lengths" else torch.softmax(logits, dim=1)
        y = targets.to(p.dtype) if targets.dim() == 2 else F.one_hot(targets, n_classes).to(p.dtype)
        per_class = (y * F.relu(self.alpha1 - p) ** 2
                     + self.alpha2 * (1 - y) * F.relu(p - self.alpha3) ** 2)  # (N, C)
        if self.class_weights is not None:
            per_class = per_class * self.class_weights.to(p.device, p.dtype)
        beta = ((1 - y + y * (n_classes - 1) / n_classes) / (1 - 1 / n_classes)).mean(1).clamp_min(1.0)
        return (per_class.sum(1) * beta).mean()
