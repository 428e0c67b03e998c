"""The LSTM peer: an LSTM over the sequence, classified from its final hidden state."""

from __future__ import annotations

from torch import nn

from serkit.models.baselines.base import RecurrentClassifier


class LSTMClassifier(RecurrentClassifier):
    """LSTM over the sequence; the last layer's final hidden state feeds a linear layer.

    Args:
        n_features, n_classes: input width and classes.
        input_kind: "vector", "frames" or "waveform" (the SERCT thesis's LSTM baseline on the
            padded time series).
        hidden_size, num_layers, bidirectional: of the LSTM.
        dropout: before the classifier (and between layers).
        n_intervals: with frame input, average the real frames into this many equal time
            intervals first (SpeechNet's 64); None reads every frame.
        frame_samples: with waveform input, the LSTM steps through non-overlapping frames of
            this many samples (320 = 20 ms at 16 kHz; a clip of ``L`` samples is
            ``ceil(L / 320)`` steps), not through single samples: an LSTM cannot run over
            96 000 raw steps (6 s at 16 kHz) on a CPU (one sequential step per sample, for
            every batch, forward and backward), nor carry a gradient across them.

    Raises:
        ConfigError: a parameter out of range.
    """

    rnn_class = nn.LSTM
    name = "lstm"
