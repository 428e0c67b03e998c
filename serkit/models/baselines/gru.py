"""The GRU peer: a GRU over the sequence, classified from its final hidden state."""

from __future__ import annotations

from torch import nn

from serkit.models.baselines.base import RecurrentClassifier


class GRUClassifier(RecurrentClassifier):
    """GRU over the sequence; the last layer's final hidden state feeds a linear layer (args as LSTMClassifier)."""

    rnn_class = nn.GRU
    name = "gru"
