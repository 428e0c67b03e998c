"""The default model's network: a multilayer perceptron on one feature vector per utterance.

Not one of SpeechNet's peers (those are in :mod:`serkit.models.baselines`): the bundled
default model (configs/default-model.yaml, docs/default-model.md) is an ``mlp``.
"""

from __future__ import annotations

import torch
from torch import nn

from serkit.models.layers import (
    check_dropout,
    check_input_kind,
    check_positive,
    frame_lengths,
    masked_mean,
    sequence_mask,
)


class MLPClassifier(nn.Module):
    """Multilayer perceptron on one feature vector per utterance (the SERCT thesis's MLP baseline).

    Hidden layers are Linear → LayerNorm → ReLU → Dropout (LayerNorm, not BatchNorm, so a
    last mini-batch of one utterance trains); frames are averaged over real
    frames first. Small and fast: the bundled default model is one (docs/default-model.md).

    Args:
        n_features, n_classes: input width and classes.
        input_kind: "vector" or "frames".
        hidden_units: width of each hidden layer.
        dropout: after each hidden layer.

    Raises:
        ConfigError: a parameter out of range.
    """

    def __init__(self, n_features: int, n_classes: int, *, input_kind: str = "vector",
                 hidden_units: tuple[int, ...] = (256, 128), dropout: float = 0.3):
        super().__init__()
        hidden_units = tuple(int(h) for h in hidden_units)
        self.n_features, self.n_classes, self.input_kind = n_features, n_classes, input_kind
        self.hidden_units, self.dropout = hidden_units, dropout
        check_input_kind(input_kind, model="mlp")
        check_positive("mlp", n_features=n_features, n_classes=n_classes,
                       **{f"hidden_units[{i}]": h for i, h in enumerate(hidden_units)})
        check_dropout("mlp", dropout)
        layers, width = [], n_features
        for units in hidden_units:
            layers += [nn.Linear(width, units), nn.LayerNorm(units), nn.ReLU(), nn.Dropout(dropout)]
            width = units
        self.body = nn.Sequential(*layers)
        self.head = nn.Linear(width, n_classes)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        """Logits ``(batch, classes)`` of ``(batch, n_features)`` or padded ``(batch, frames, n_features)``.

        Raises:
            ValueError: ``x`` of the wrong layout, or bad ``lengths``.
        """
        if self.input_kind == "frames":
            if x.dim() != 3:
                raise ValueError(f"MLPClassifier with input_kind='frames' expects (batch, frames, features), "
                                 f"not shape {tuple(x.shape)}")
            x = masked_mean(x, sequence_mask(frame_lengths(x, lengths), x.shape[1], device=x.device))
        elif x.dim() != 2:
            raise ValueError(f"MLPClassifier with input_kind='vector' expects (batch, features), "
                             f"not shape {tuple(x.shape)}")
        return self.head(self.body(x))
