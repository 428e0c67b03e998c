"""The CNN-BiLSTM baseline of the SERCT thesis: strided convolutions over the samples, a BiLSTM over their frames.

Zheng (2024), section 5.2, after Deschamps-Berger et al. (2021): a CNN extracts local
features, a bidirectional LSTM reads their context in both directions. The thesis gives
no sizes ("other hyperparameters are kept at their default values"); these are small,
standard ones, every one configurable::

    waveform (B, S) ──[Conv1d(kernel, stride) → norm → ReLU → MaxPool(pool)] × blocks──►
    frames (B, T, channels[-1]) ──BiLSTM, packed by real lengths──► (B, T, 2·hidden)
    ──mean over real frames──► dropout ──► linear ──► logits

Defaults: three blocks of 32, 64 and 64 channels, kernels 80, 3, 3, strides 4, 1, 1,
pools 4, 4, 4 (the first kernel spans 5 ms at 16 kHz, as in Dai et al.'s raw-waveform M5):
one frame every 4·4·4·4 = 256 samples (16 ms), 186 frames for a 3-s clip, and a clip
shorter than 492 samples (31 ms) is read with zeros appended.

Padding never changes a clip's output: samples past its length are zeroed, the
convolutions are unpadded and the pooling drops an incomplete last window, so every
output step counted as real (``(L - kernel) // stride + 1``, then ``// pool``) reads real
steps only; the normalisation takes its statistics over real steps (``"instance"``) or
over each step's channels (``"layer"``), never over the batch (no BatchNorm: a clip's
logits would depend on its batch, and a last batch of one would not train). A clip
shorter than the network's :attr:`~CNNBiLSTM.min_samples` is read as that many samples,
zeros appended.

``input_kind="frames"`` reads ``(B, T, n_features)`` frames (e.g. ``logmel``) the same
way, the first convolution taking ``n_features`` channels; give it kernels, strides and
pools that suit frames (``kernel_sizes: [3, 3, 3], strides: [1, 1, 1], pool_sizes: [2, 2, 1]``).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from serkit.errors import ConfigError
from serkit.models.baselines.base import _exporting, check_waveform_input, validate_params
from serkit.models.layers import frame_lengths, masked_mean, sequence_mask

#: What follows each convolution: statistics over a clip's real steps per channel, over
#: each step's channels, or nothing.
NORMS = ("instance", "layer", "none")


class CNNBiLSTM(nn.Module):
    """Conv blocks over the samples, then a BiLSTM over the frames they make, mean-pooled.

    Args:
        n_features, n_classes: 1 for a waveform (``n_features`` for frames) and classes.
        input_kind: "waveform" or "frames".
        channels: output channels of each conv block (their number is the number of blocks).
        kernel_sizes, strides, pool_sizes: of each block's convolution and max-pooling, one
            per block (a pool of 1 pools nothing).
        norm: "instance", "layer" or "none" (above).
        hidden_size: LSTM units per direction.
        num_layers: stacked BiLSTM layers.
        dropout: before the classifier (and between LSTM layers).

    Raises:
        ConfigError: a size out of range, lists of sizes that do not give one per block, an
            unknown norm or input kind, or waveform input with ``n_features`` other than 1.

    Example:
        >>> net = CNNBiLSTM(1, 7).eval()
        >>> net(torch.randn(2, 16000), torch.tensor([16000, 9000])).shape
        torch.Size([2, 7])
        >>> net.min_samples, net.hop_samples
        (492, 256)
    """

    name = "cnn_bilstm"

    def __init__(self, n_features: int, n_classes: int, *, input_kind: str = "waveform",
                 channels: tuple[int, ...] = (32, 64, 64), kernel_sizes: tuple[int, ...] = (80, 3, 3),
                 strides: tuple[int, ...] = (4, 1, 1), pool_sizes: tuple[int, ...] = (4, 4, 4),
                 norm: str = "instance", hidden_size: int = 64, num_layers: int = 1, dropout: float = 0.3):
        super().__init__()
        validate_params(self.name, input_kind=input_kind, allowed_kinds=("waveform", "frames"), dropout=dropout,
                        n_features=n_features, n_classes=n_classes, hidden_size=hidden_size, num_layers=num_layers)
        if input_kind == "waveform":
            check_waveform_input(self.name, n_features)
        channels = _sizes("channels", channels)
        blocks = len(channels)
        kernel_sizes, strides, pool_sizes = (_sizes(label, value, blocks) for label, value in
                                             (("kernel_sizes", kernel_sizes), ("strides", strides),
                                              ("pool_sizes", pool_sizes)))
        if norm not in NORMS:
            raise ConfigError(f"model {self.name!r}: norm must be one of {', '.join(NORMS)}, not {norm!r}")
        self.n_features, self.n_classes, self.input_kind = n_features, n_classes, input_kind
        self.channels, self.kernel_sizes, self.strides, self.pool_sizes = channels, kernel_sizes, strides, pool_sizes
        self.norm_kind, self.hidden_size, self.num_layers, self.dropout = norm, hidden_size, num_layers, dropout
        width = n_features
        self.convs = nn.ModuleList()
        self.norms = nn.ModuleList()
        for c, k, s in zip(channels, kernel_sizes, strides):
            self.convs.append(nn.Conv1d(width, c, k, stride=s))
            self.norms.append(_ChannelNorm(c, norm))
            width = c
        self.lstm = nn.LSTM(width, hidden_size, num_layers=num_layers, batch_first=True, bidirectional=True,
                            dropout=dropout if num_layers > 1 else 0.0)
        self.drop = nn.Dropout(dropout)
        self.head = nn.Linear(2 * hidden_size, n_classes)

    @property
    def blocks(self) -> list[tuple[int, int, int]]:
        """``(kernel, stride, pool)`` of each conv block."""
        return list(zip(self.kernel_sizes, self.strides, self.pool_sizes))

    @property
    def hop_samples(self) -> int:
        """Input steps (samples) between two output frames."""
        return math.prod(self.strides) * math.prod(self.pool_sizes)

    @property
    def min_samples(self) -> int:
        """The fewest input steps that give one output frame; shorter clips get zeros appended."""
        need = 1
        for k, s, p in reversed(self.blocks):
            need = (need * p - 1) * s + k
        return need

    def frame_lengths(self, lengths: torch.Tensor) -> torch.Tensor:
        """Real output frames of clips of ``lengths`` input steps (each read as at least :attr:`min_samples`)."""
        lengths = lengths.clamp_min(self.min_samples)
        for k, s, p in self.blocks:
            lengths = ((lengths - k) // s + 1) // p
        return lengths

    def frames(self, x: torch.Tensor, lengths: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """The conv blocks' frames ``(B, T, channels[-1])`` and their real counts ``(B,)`` (CPU).

        Raises:
            ValueError: ``x`` is not ``(batch, samples)`` (waveform) or ``(batch, frames,
                n_features)`` (frames), or bad ``lengths``.
        """
        if x.dim() != (2 if self.input_kind == "waveform" else 3):
            layout = "(batch, samples)" if self.input_kind == "waveform" else "(batch, frames, features)"
            raise ValueError(f"CNNBiLSTM with input_kind={self.input_kind!r} expects {layout}, "
                             f"not shape {tuple(x.shape)}")
        lengths = frame_lengths(x, lengths)
        h = x.unsqueeze(1) if self.input_kind == "waveform" else x.transpose(1, 2)  # (B, C, S)
        # Zeros past each clip's end, whatever the batch padded it with: a clip shorter than
        # min_samples then reads the same zeros alone and batched.
        h = torch.where(sequence_mask(lengths, h.shape[-1], device=h.device).unsqueeze(1), h,
                        torch.zeros((), dtype=h.dtype, device=h.device))
        if h.shape[-1] < self.min_samples:
            h = F.pad(h, (0, self.min_samples - h.shape[-1]))
        steps = lengths.clamp_min(self.min_samples)
        for conv, norm, (k, s, p) in zip(self.convs, self.norms, self.blocks):
            h = conv(h)
            steps = (steps - k) // s + 1
            h = F.relu(norm(h, sequence_mask(steps, h.shape[-1], device=h.device)))
            if p > 1:
                h = F.max_pool1d(h, p)  # floor mode: an incomplete last window is dropped
                steps = steps // p
        return h.transpose(1, 2), steps

    def forward(self, x: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        """Logits ``(batch, classes)`` of padded samples ``(batch, samples)`` (or frames) with real ``lengths``."""
        h, steps = self.frames(x, lengths)
        if _exporting():
            # An exported graph takes one unpadded clip per call; neither ONNX exporter
            # handles packed sequences, and on full-length steps the two agree.
            out, _ = self.lstm(h)
        else:
            packed = pack_padded_sequence(h, steps, batch_first=True, enforce_sorted=False)
            out, _ = pad_packed_sequence(self.lstm(packed)[0], batch_first=True, total_length=h.shape[1])
        pooled = masked_mean(out, sequence_mask(steps, out.shape[1], device=out.device))
        return self.head(self.drop(pooled))


class _ChannelNorm(nn.Module):
    """Batch-free normalisation of ``(B, C, T)`` conv outputs, with a learnt per-channel scale and shift.

    ``"instance"``: each channel of each clip over its real steps (``mask``); ``"layer"``:
    each step over its channels; ``"none"``: the identity.
    """

    def __init__(self, channels: int, kind: str, eps: float = 1e-5):
        super().__init__()
        self.kind, self.eps = kind, eps
        if kind != "none":
            self.weight = nn.Parameter(torch.ones(channels))
            self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, h: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        if self.kind == "none":
            return h
        if self.kind == "layer":
            mean = h.mean(1, keepdim=True)
            var = h.var(1, unbiased=False, keepdim=True)
        else:
            keep = mask.unsqueeze(1)
            count = keep.sum(-1, keepdim=True).clamp_min(1).to(h.dtype)
            zero = torch.zeros((), dtype=h.dtype, device=h.device)
            mean = torch.where(keep, h, zero).sum(-1, keepdim=True) / count
            var = torch.where(keep, (h - mean) ** 2, zero).sum(-1, keepdim=True) / count
        out = (h - mean) * torch.rsqrt(var + self.eps)
        return out * self.weight.view(1, -1, 1) + self.bias.view(1, -1, 1)

    def extra_repr(self) -> str:
        return self.kind


def _sizes(label: str, value, blocks: int | None = None) -> tuple[int, ...]:
    """``value`` as a tuple of positive ints, one per block when ``blocks`` is given."""
    sizes = tuple(value) if isinstance(value, (list, tuple)) else (value,)
    if not sizes or any(isinstance(v, bool) or not isinstance(v, int) or v < 1 for v in sizes) \
            or (blocks is not None and len(sizes) != blocks):
        count = f"one per conv block ({blocks}, as channels)" if blocks is not None else "one per conv block"
        raise ConfigError(f"model 'cnn_bilstm': {label} must be a list of positive sizes, {count}, not {value!r}")
    return sizes
