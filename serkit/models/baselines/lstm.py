"""The LSTM peer: an LSTM over the sequence, classified from its final hidden state."""

from __future__ import annotations

from torch import nn

from serkit.models.baselines.base import RecurrentClassifier


class LSTMClassifier(RecurrentClassifier):
    """LSTM over the sequence; the last layer's final hidden state feeds a linear layer.

    Args:
        n_features, n_classes: input width and classes.
        input_kind: "vector" or "frames".
        hidden_size, num_layers, bidirectional: of the LSTM.
        dropout: before the classifier (and between layers).
        n_intervals: with frame input, average the real frames into this many equal time
            intervals first (SpeechNet's 64); None reads every frame.

    Raises:
        ConfigError: a parameter out of range.
    """

    rnn_class = nn.LSTM
    name = "lstm"
