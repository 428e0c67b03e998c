"""The TCN peer: causal dilated residual convolutions; the last real step is classified."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from serkit.errors import ConfigError

from serkit.models.baselines.base import SequenceClassifier
from serkit.models.layers import last_valid


#: Most TCN levels: a receptive field of (kernel - 1) · (2**levels - 1) + 1 steps.
MAX_LEVELS = 20

class TemporalBlock(nn.Module):
    """Two causal dilated convolutions with ReLU and dropout, plus a residual (Bai et al., 2018).

    Shapes:
        forward: ``(batch, in_channels, steps)`` → ``(batch, out_channels, steps)``.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, dilation: int, dropout: float):
        super().__init__()
        self.left_pad = (kernel_size - 1) * dilation
        self.conv1 = nn.Conv1d(in_channels, out_channels, kernel_size, dilation=dilation)
        self.conv2 = nn.Conv1d(out_channels, out_channels, kernel_size, dilation=dilation)
        self.drop = nn.Dropout(dropout)
        self.residual = nn.Conv1d(in_channels, out_channels, 1) if in_channels != out_channels else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.drop(F.relu(self.conv1(F.pad(x, (self.left_pad, 0)))))
        h = self.drop(F.relu(self.conv2(F.pad(h, (self.left_pad, 0)))))
        return F.relu(h + self.residual(x))


class TCNClassifier(SequenceClassifier):
    """Temporal convolutional network: causal dilated residual blocks; the last real step is classified.

    Causal convolutions never look ahead, so padding after the last real step cannot reach it.

    Args:
        n_features, n_classes: input width and classes.
        input_kind: "vector" or "frames".
        channels: channels of every block.
        levels: blocks, with dilations 1, 2, 4, ... (5 levels of kernel 3 see 125 steps,
            more than the 107 features of a vector).
        kernel_size: of every convolution.
        dropout: inside the blocks and before the classifier.
        n_intervals: with frame input, average the real frames into this many equal time
            intervals first (SpeechNet's 64); None reads every frame.

    Raises:
        ConfigError: a parameter out of range.
    """

    name = "tcn"

    def __init__(self, n_features: int, n_classes: int, *, input_kind: str = "vector", channels: int = 64,
                 levels: int = 5, kernel_size: int = 3, dropout: float = 0.2, n_intervals: int | None = None):
        super().__init__(n_features, n_classes, input_kind=input_kind, dropout=dropout, n_intervals=n_intervals,
                         channels=channels, levels=levels, kernel_size=kernel_size)
        if levels > MAX_LEVELS:
            # Dilation 2**level: past ~20 levels the receptive field outgrows any clip and
            # past 62 the dilation overflows inside the convolution.
            raise ConfigError(f"model 'tcn': levels must be at most {MAX_LEVELS}, not {levels}")
        self.channels, self.levels, self.kernel_size = channels, levels, kernel_size
        width, blocks = self.step_width, []
        for level in range(levels):
            blocks.append(TemporalBlock(width, channels, kernel_size, 2 ** level, dropout))
            width = channels
        self.blocks = nn.Sequential(*blocks)
        self.add_head(channels)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        """Logits ``(batch, classes)`` of ``(batch, n_features)`` or padded ``(batch, frames, n_features)``."""
        seq, lengths = self.as_sequence(x, lengths)
        h = self.blocks(seq.transpose(1, 2)).transpose(1, 2)  # (B, T, channels)
        return self.classify(last_valid(h, lengths))
