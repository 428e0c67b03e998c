"""The default model's network: a multilayer perceptron on one feature vector per utterance.

Not one of SpeechNet's peers (those are in :mod:`serkit.models.baselines`): the bundled
default model (configs/default-model.yaml, docs/default-model.md) is an ``mlp``.
"""

from __future__ import annotations

import torch
from torch import nn

from serkit.models.layers import (
    INPUT_KINDS,
    check_dropout,
    check_fixed_waveform,
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

    With ``input_kind="waveform"`` the whole padded clip is one vector of ``n_samples``
    samples, as the SERCT thesis's MLP reads its "Padded Time Series": the features must
    give every clip the same length (``waveform`` with ``fixed_samples``), and the
    registry fills ``n_samples`` from it. The zeros after a clip's end are part of the
    input, as in the thesis (there are no lengths to mask them with a fixed input width).

    Args:
        n_features, n_classes: input width (1 for a waveform) and classes.
        input_kind: "vector", "frames" or "waveform".
        hidden_units: width of each hidden layer.
        dropout: after each hidden layer.
        n_samples: with waveform input, the fixed clip length in samples, the input width
            (filled from the features' ``fixed_samples``); ignored otherwise.

    Raises:
        ConfigError: a parameter out of range, or waveform input without ``n_samples``.
    """

    def __init__(self, n_features: int, n_classes: int, *, input_kind: str = "vector",
                 hidden_units: tuple[int, ...] = (256, 128), dropout: float = 0.3, n_samples: int | None = None):
        super().__init__()
        hidden_units = tuple(int(h) for h in hidden_units)
        check_input_kind(input_kind, model="mlp", allowed=(*INPUT_KINDS, "waveform"))
        width = n_features
        if input_kind == "waveform":
            width = check_fixed_waveform("mlp", n_features, n_samples)
        self.n_features, self.n_classes, self.input_kind = n_features, n_classes, input_kind
        self.hidden_units, self.dropout = hidden_units, dropout
        self.n_samples = n_samples if input_kind == "waveform" else None
        check_positive("mlp", n_features=n_features, n_classes=n_classes,
                       **{f"hidden_units[{i}]": h for i, h in enumerate(hidden_units)})
        check_dropout("mlp", dropout)
        layers = []
        for units in hidden_units:
            layers += [nn.Linear(width, units), nn.LayerNorm(units), nn.ReLU(), nn.Dropout(dropout)]
            width = units
        self.body = nn.Sequential(*layers)
        self.head = nn.Linear(width, n_classes)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        """Logits ``(batch, classes)`` of ``(batch, n_features)``, padded ``(batch, frames, n_features)``
        or fixed-length samples ``(batch, n_samples)`` (``lengths`` unused: the padding is input).

        Raises:
            ValueError: ``x`` of the wrong layout, or bad ``lengths``.
        """
        if self.input_kind == "waveform":
            if x.dim() != 2 or x.shape[1] != self.n_samples:
                raise ValueError(f"MLPClassifier with input_kind='waveform' expects (batch, {self.n_samples}) "
                                 f"samples (features waveform with fixed_samples={self.n_samples}), "
                                 f"not shape {tuple(x.shape)}")
        elif self.input_kind == "frames":
            if x.dim() != 3:
                raise ValueError(f"MLPClassifier with input_kind='frames' expects (batch, frames, features), "
                                 f"not shape {tuple(x.shape)}")
            x = masked_mean(x, sequence_mask(frame_lengths(x, lengths), x.shape[1], device=x.device))
        elif x.dim() != 2:
            raise ValueError(f"MLPClassifier with input_kind='vector' expects (batch, features), "
                             f"not shape {tuple(x.shape)}")
        return self.head(self.body(x))
