"""Small heads over one embedding per utterance, fitted in closed form rather than trained.

Few-shot adaptation (:mod:`serkit.training.fewshot`) fits one of these on a handful of
labelled clips' voice-encoder embeddings and saves it as an ordinary bundle: a bundle
holds torch weights only, so both heads are torch modules whose weights are the fitted
values (no training loop, no pickled estimator).

- ``linear_head``: ``logits = W x + b``: a (multinomial) logistic regression.
- ``prototype_head``: ``logits = scale * cos(x, p_c)``: cosine similarity to one
  prototype per class (the mean embedding of its clips) times a scale, i.e. a linear
  layer without bias over L2-normalised inputs and L2-normalised rows. Its argmax is
  the nearest prototype whatever the scale; the scale (a softmax inverse temperature)
  only sets how confident the probabilities are.

Example:
    >>> import torch
    >>> head = PrototypeHead(3, 2)
    >>> head.set_prototypes(torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]), scale=10.0)
    >>> head(torch.tensor([[2.0, 0.1, 0.0]])).argmax(1).tolist()
    [0]
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from serkit.models.layers import check_positive

#: Norms below this count as zero when normalising (a zero input gives zero logits).
_EPS = 1e-12


class LinearHead(nn.Module):
    """Logits ``W x + b`` of ``(batch, n_features)`` vectors: a logistic regression's.

    Args:
        n_features, n_classes: input width and classes.

    Raises:
        ConfigError: a size that is not positive.
    """

    def __init__(self, n_features: int, n_classes: int):
        super().__init__()
        check_positive("linear_head", n_features=n_features, n_classes=n_classes)
        self.n_features, self.n_classes, self.input_kind = n_features, n_classes, "vector"
        self.linear = nn.Linear(n_features, n_classes)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        """Logits ``(batch, classes)``.

        Raises:
            ValueError: ``x`` not ``(batch, n_features)``.
        """
        _check_vectors(x, self.n_features, "LinearHead")
        return self.linear(x)


class PrototypeHead(nn.Module):
    """Logits ``scale * cos(x, p_c)``: cosine similarity to one prototype per class.

    The weights are the prototypes ``(n_classes, n_features)`` (normalised when used, so
    only their direction matters) and the scalar ``scale``.

    Args:
        n_features, n_classes: input width and classes.

    Raises:
        ConfigError: a size that is not positive.
    """

    def __init__(self, n_features: int, n_classes: int):
        super().__init__()
        check_positive("prototype_head", n_features=n_features, n_classes=n_classes)
        self.n_features, self.n_classes, self.input_kind = n_features, n_classes, "vector"
        self.prototypes = nn.Parameter(torch.randn(n_classes, n_features) / n_features ** 0.5)
        self.scale = nn.Parameter(torch.tensor(10.0))

    @torch.no_grad()
    def set_prototypes(self, prototypes: torch.Tensor, *, scale: float) -> PrototypeHead:
        """Use ``prototypes`` ``(n_classes, n_features)`` and ``scale`` (> 0); returns self."""
        if tuple(prototypes.shape) != (self.n_classes, self.n_features):
            raise ValueError(f"prototypes must be ({self.n_classes}, {self.n_features}), "
                             f"not {tuple(prototypes.shape)}")
        if not scale > 0:
            raise ValueError(f"scale must be > 0, not {scale!r}")
        self.prototypes.copy_(prototypes.to(self.prototypes.dtype))
        self.scale.fill_(float(scale))
        return self

    def forward(self, x: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        """Logits ``(batch, classes)``.

        Raises:
            ValueError: ``x`` not ``(batch, n_features)``.
        """
        _check_vectors(x, self.n_features, "PrototypeHead")
        cosine = F.normalize(x, dim=1, eps=_EPS) @ F.normalize(self.prototypes, dim=1, eps=_EPS).T
        return self.scale * cosine


def _check_vectors(x: torch.Tensor, n_features: int, name: str) -> None:
    if x.dim() != 2 or x.shape[1] != n_features:
        raise ValueError(f"{name} expects (batch, {n_features}) vectors, not shape {tuple(x.shape)}")
