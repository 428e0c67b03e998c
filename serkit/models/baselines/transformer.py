"""The Transformer peer: an encoder over the sequence, mean-pooled over real steps."""

from __future__ import annotations

import torch
from torch import nn

from serkit.errors import ConfigError
from serkit.models.baselines.base import SequenceClassifier
from serkit.models.layers import masked_mean, sinusoidal_positions


class TransformerClassifier(SequenceClassifier):
    """Transformer encoder over the sequence (sinusoidal positions, padded keys masked), mean-pooled.

    Args:
        n_features, n_classes: input width and classes.
        input_kind: "vector" or "frames".
        d_model, n_heads, n_layers, dim_feedforward: of the encoder.
        dropout: inside the encoder and before the classifier.
        n_intervals: with frame input, average the real frames into this many equal time
            intervals first (SpeechNet's 64); None reads every frame.

    Raises:
        ConfigError: a parameter out of range, or a ``d_model`` that is odd or not divisible
            by ``n_heads``.
    """

    name = "transformer"

    def __init__(self, n_features: int, n_classes: int, *, input_kind: str = "vector", d_model: int = 64,
                 n_heads: int = 4, n_layers: int = 2, dim_feedforward: int = 128, dropout: float = 0.1,
                 n_intervals: int | None = None):
        super().__init__(n_features, n_classes, input_kind=input_kind, dropout=dropout, n_intervals=n_intervals,
                         d_model=d_model, n_heads=n_heads, n_layers=n_layers, dim_feedforward=dim_feedforward)
        if d_model % n_heads or d_model % 2:
            raise ConfigError(f"model 'transformer': d_model ({d_model}) must be even and divisible by "
                              f"n_heads ({n_heads})")
        self.d_model, self.n_heads, self.n_layers = d_model, n_heads, n_layers
        self.dim_feedforward = dim_feedforward
        self.embed = nn.Linear(self.step_width, d_model)
        layer = nn.TransformerEncoderLayer(d_model, n_heads, dim_feedforward, dropout, batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, n_layers, enable_nested_tensor=False)
        self.add_head(d_model)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        """Logits ``(batch, classes)`` of ``(batch, n_features)`` or padded ``(batch, frames, n_features)``."""
        seq, lengths = self.as_sequence(x, lengths)
        mask = self.padding_mask(seq, lengths)
        h = self.embed(seq) + sinusoidal_positions(seq.shape[1], self.d_model, device=seq.device)
        h = self.encoder(h, src_key_padding_mask=~mask)
        return self.classify(masked_mean(h, mask))
