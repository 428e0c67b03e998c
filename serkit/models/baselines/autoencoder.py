"""The autoencoder peer: a classifier on the bottleneck of a jointly trained autoencoder."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from serkit.models.baselines.base import check_input_shape, validate_params
from serkit.models.layers import frame_lengths, masked_mean, sequence_mask


class AutoencoderClassifier(nn.Module):
    """Autoencoder-based classifier: a classifier on the bottleneck of a jointly trained autoencoder.

    After a forward pass in training mode, :attr:`auxiliary_loss` holds
    ``reconstruction_weight * MSE(reconstruction, input)``; a training loop adds it to the
    classification loss (it is None in eval mode). Frames are averaged over real frames first.

    Args:
        n_features, n_classes: input width and classes.
        input_kind: "vector" or "frames".
        hidden_units: width of the encoder's (and mirrored decoder's) hidden layer.
        code_dim: bottleneck width.
        reconstruction_weight: weight of the reconstruction term.
        dropout: before the classifier.

    Raises:
        ConfigError: a parameter out of range.
    """

    def __init__(self, n_features: int, n_classes: int, *, input_kind: str = "vector", hidden_units: int = 128,
                 code_dim: int = 32, reconstruction_weight: float = 1.0, dropout: float = 0.5):
        super().__init__()
        validate_params("autoencoder", input_kind=input_kind, dropout=dropout, n_features=n_features,
                        n_classes=n_classes, hidden_units=hidden_units, code_dim=code_dim)
        self.n_features, self.n_classes, self.input_kind = n_features, n_classes, input_kind
        self.hidden_units, self.code_dim = hidden_units, code_dim
        self.reconstruction_weight, self.dropout = reconstruction_weight, dropout
        self.encoder = nn.Sequential(nn.Linear(n_features, hidden_units), nn.ReLU(),
                                     nn.Linear(hidden_units, code_dim), nn.ReLU())
        self.decoder = nn.Sequential(nn.Linear(code_dim, hidden_units), nn.ReLU(), nn.Linear(hidden_units, n_features))
        self.drop = nn.Dropout(dropout)
        self.head = nn.Linear(code_dim, n_classes)
        self.auxiliary_loss: torch.Tensor | None = None

    def forward(self, x: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        """Logits ``(batch, classes)`` of ``(batch, n_features)`` or padded ``(batch, frames, n_features)``.

        Raises:
            ValueError: ``x`` of the wrong layout, or bad ``lengths``.
        """
        check_input_shape(self, x)
        if self.input_kind == "frames":
            lengths = frame_lengths(x, lengths)
            x = masked_mean(x, sequence_mask(lengths, x.shape[1], device=x.device))
        code = self.encoder(x)
        if self.training:
            self.auxiliary_loss = self.reconstruction_weight * F.mse_loss(self.decoder(code), x)
        else:
            self.auxiliary_loss = None
        return self.head(self.drop(code))
