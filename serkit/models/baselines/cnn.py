"""The CNN peer: 1-D convolutions over the sequence, mean- and max-pooled over real steps."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from serkit.errors import ConfigError
from serkit.models.baselines.base import WAVEFORM_KINDS, SequenceClassifier
from serkit.models.layers import masked_max, masked_mean


class CNNClassifier(SequenceClassifier):
    """1-D CNN: ``same``-padded convolutions with ReLU, then mean and max over real steps.

    With ``input_kind="waveform"`` (the SERCT thesis's CNN baseline on the padded time
    series) the samples are cut into non-overlapping frames of ``frame_samples`` samples,
    each frame a step of ``frame_samples`` channels, so the first convolution is a learnt
    filter bank over ``kernel_size`` consecutive 20 ms frames.

    Args:
        n_features, n_classes: input width and classes.
        input_kind: "vector", "frames" or "waveform".
        channels: output channels of each convolution.
        kernel_size: odd kernel width.
        dropout: before the classifier.
        n_intervals: with frame input, average the real frames into this many equal time
            intervals first (SpeechNet's 64); None reads every frame.
        frame_samples: with waveform input, samples per step (320 = 20 ms at 16 kHz).

    Raises:
        ConfigError: a parameter out of range, no or non-positive channels, an even kernel.
    """

    name = "cnn"
    input_kinds = WAVEFORM_KINDS

    def __init__(self, n_features: int, n_classes: int, *, input_kind: str = "vector",
                 channels: tuple[int, ...] = (32, 64, 128), kernel_size: int = 5, dropout: float = 0.5,
                 n_intervals: int | None = None, frame_samples: int = 320):
        super().__init__(n_features, n_classes, input_kind=input_kind, dropout=dropout, n_intervals=n_intervals,
                         frame_samples=frame_samples, kernel_size=kernel_size)
        channels = tuple(int(c) for c in channels)
        if not channels or min(channels) < 1:
            raise ConfigError(f"model 'cnn': channels must be positive widths, not {channels!r}")
        if kernel_size % 2 == 0:
            raise ConfigError(f"model 'cnn': kernel_size must be odd (same padding), not {kernel_size}")
        self.channels, self.kernel_size = channels, kernel_size
        width = self.step_width
        self.convs = nn.ModuleList()
        for c in channels:
            self.convs.append(nn.Conv1d(width, c, kernel_size, padding=kernel_size // 2))
            width = c
        self.add_head(2 * width)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        """Logits ``(batch, classes)`` of ``(batch, n_features)``, padded ``(batch, frames, n_features)``
        or padded samples ``(batch, samples)``."""
        seq, lengths = self.as_sequence(x, lengths)
        mask = self.padding_mask(seq, lengths)  # (B, T)
        h = seq.transpose(1, 2)  # (B, C, T)
        keep = mask.unsqueeze(1)
        for conv in self.convs:
            # Zeros on padding, as the convolution's own padding: real steps see the same input
            # however much padding follows.
            h = F.relu(conv(torch.where(keep, h, 0.0)))
        h = h.transpose(1, 2)
        return self.classify(torch.cat([masked_mean(h, mask), masked_max(h, mask)], dim=1))
