"""Parallel CNN pipelines, modified LFLBs and an LSTM over a scalogram (Sayed et al., 2025).

Section 3.2 and Table 3 of the paper: three parallel convolutional pipelines (three
"temporal resolutions") whose outputs are concatenated and fed through a sequence of
modified local feature learning blocks (LFLB: convolution, batch normalisation,
activation, pooling); then one unidirectional LSTM, a 1024-unit fully connected layer and
a softmax. Table 3: 9 convolutions of 64 filters, 3×3 and 5×5 kernels, 5 pools, an LSTM
of 100. Our reading of how those add up (docs/models.md, "which reading"):

* each pipeline is two blocks (conv–BN–activation–pool); pipeline kernels 3×3 + 3×3,
  5×5 + 5×5 and 3×3 + 5×5, so that only the two named sizes give three resolutions;
* after concatenation (3 × 64 channels), three LFLBs with 3×3 kernels:
  3 × 2 + 3 = 9 convolutions and 2 + 3 = 5 pooling stages (2×2 each), every one
  followed by batch normalisation (L247);
* average pooling (the paper found it better than max, L397);
* the LSTM reads the pooled map column by column (filters × remaining scale rows per
  step) and its state at the last real column goes to FC 1024 (ReLU) and the classes.

Input ``(batch, channels, scales, columns)`` from the ``scalogram`` features (or, with
``input_kind: frames``, ``(batch, frames, bands)`` such as ``logmel``'s, read as a one-
channel image). Columns past ``lengths`` are zeroed after every block and the LSTM's output is
taken at each clip's last real column, so batch padding does not change an evaluation-mode output.
An input wider than ``max_frames`` columns is cut to its centred window (the paper's fixed
8 s; training crops a random window first, ``training.random_crop``).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from serkit.errors import ConfigError
from serkit.models.layers import MaskedBatchNorm2d

POOLINGS = ("avg", "max")
ACTIVATIONS = ("relu", "elu")


class LFLB(nn.Module):
    """Conv (``same`` padding, no bias: BN follows) → BatchNorm → activation → 2×2 pool.

    With ``masked_batchnorm`` the BatchNorm's training statistics skip the batch padding
    (:class:`~serkit.models.layers.MaskedBatchNorm2d`).
    """

    def __init__(self, in_channels: int, out_channels: int, kernel: int, pooling: str, activation: str,
                 masked_batchnorm: bool = False):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel, padding=kernel // 2, bias=False)
        self.bn = MaskedBatchNorm2d(out_channels) if masked_batchnorm else nn.BatchNorm2d(out_channels)
        self.act = nn.ReLU() if activation == "relu" else nn.ELU()
        self.pool = nn.AvgPool2d(2) if pooling == "avg" else nn.MaxPool2d(2)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.conv(x)
        x = self.bn(x, lengths) if isinstance(self.bn, MaskedBatchNorm2d) else self.bn(x)
        x = self.pool(self.act(x))
        lengths = lengths // 2
        return _zero_past(x, lengths), lengths


class WaveletCNNLSTM(nn.Module):
    """The paper's network; every size is a parameter (defaults: Table 3 and our reading).

    Args:
        n_features: values per column (channels × scales); the registry passes it.
        n_classes: outputs.
        channels, height: the image's channels and rows (filled from the feature's spec).
        input_kind: ``"image"`` or ``"frames"`` (a one-channel image of ``n_features`` rows).
        filters: every convolution's width (the paper: 64; 128 and 256 tried).
        pipeline_kernels: one list of kernel sizes per parallel pipeline, one block each;
            all pipelines must have the same number of blocks (their maps are concatenated).
        lflb_kernels: kernel sizes of the LFLBs after the concatenation.
        pooling: ``"avg"`` (the paper's choice) or ``"max"``.
        activation: ``"relu"`` or ``"elu"``.
        lstm_units: the LSTM's width (the paper: 100; 64, 128, 256 tried).
        fc_units: the fully connected layer (the paper: 1024).
        dropout: before the last layer (the paper gives none: 0).
        max_frames: the widest input read; wider ones are cut to their centred window
            (500 columns = 8 s at a 256-sample hop); None: no limit.
        masked_batchnorm: BatchNorm statistics from real columns only in training (the
            paper's fixed 8 s input puts its padding into them; False keeps that).
    """

    def __init__(self, n_features: int, n_classes: int, *, channels: int = 1, height: int | None = None,
                 input_kind: str = "image", filters: int = 64,
                 pipeline_kernels: tuple[tuple[int, ...], ...] = ((3, 3), (5, 5), (3, 5)),
                 lflb_kernels: tuple[int, ...] = (3, 3, 3), pooling: str = "avg", activation: str = "relu",
                 lstm_units: int = 100, fc_units: int = 1024, dropout: float = 0.0,
                 max_frames: int | None = 500, masked_batchnorm: bool = False):
        super().__init__()
        self.input_kind = input_kind
        self.in_channels, self.height = _input_shape(n_features, channels, height, input_kind)
        _check(filters=filters, pipeline_kernels=pipeline_kernels, lflb_kernels=lflb_kernels, pooling=pooling,
               activation=activation, lstm_units=lstm_units, fc_units=fc_units, dropout=dropout,
               max_frames=max_frames)
        self.max_frames = max_frames
        self.n_pools = len(pipeline_kernels[0]) + len(lflb_kernels)
        if self.height >> self.n_pools < 1:
            raise ConfigError(f"model 'wavelet_cnn_lstm': {self.n_pools} pooling stages halve the {self.height} "
                              f"rows below 1; use fewer blocks (pipeline_kernels, lflb_kernels) or more rows")
        self.pipelines = nn.ModuleList(
            nn.ModuleList(LFLB(self.in_channels if i == 0 else filters, filters, k, pooling, activation,
                               masked_batchnorm)
                          for i, k in enumerate(kernels))
            for kernels in pipeline_kernels)
        widths = [filters * len(pipeline_kernels)] + [filters] * len(lflb_kernels)
        self.lflbs = nn.ModuleList(LFLB(widths[i], filters, k, pooling, activation, masked_batchnorm)
                                   for i, k in enumerate(lflb_kernels))
        # channels_last: oneDNN's convolutions, BN and pools run faster on CPU in that layout
        # (as in cnn_transformer); the numbers are the same up to rounding.
        self.pipelines.to(memory_format=torch.channels_last)
        self.lflbs.to(memory_format=torch.channels_last)
        self.lstm = nn.LSTM(filters * (self.height >> self.n_pools), lstm_units, batch_first=True)
        self.fc = nn.Linear(lstm_units, fc_units)
        self.drop = nn.Dropout(dropout)
        self.out = nn.Linear(fc_units, n_classes)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        return self.out(self.drop(F.relu(self.fc(self.encode(x, lengths)))))

    def encode(self, x: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        """The LSTM's state at each clip's last real column, ``(batch, lstm_units)``."""
        x, lengths = self._image(x, lengths)
        x = x.contiguous(memory_format=torch.channels_last)
        maps = []
        for pipeline in self.pipelines:
            y, n = x, lengths
            for block in pipeline:
                y, n = block(y, n)
            maps.append(y)
        x, lengths = torch.cat(maps, dim=1), n
        for block in self.lflbs:
            x, lengths = block(x, lengths)
        steps = x.flatten(1, 2).transpose(1, 2)  # (batch, columns, filters × rows)
        # A unidirectional LSTM's output at a clip's last real column has not seen the padding
        # after it, so taking it there equals packing the sequences, and unlike packing it
        # exports to ONNX.
        outputs, _ = self.lstm(steps)
        last = (lengths.clamp(min=1) - 1).clamp(max=outputs.shape[1] - 1)
        return outputs[torch.arange(outputs.shape[0], device=outputs.device), last]

    def _image(self, x: torch.Tensor, lengths: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        """``(batch, channels, rows, columns)``, centred windows of at most ``max_frames``
        columns, padding zeroed, at least 2^pools columns wide (so every pool has one)."""
        if self.input_kind == "frames":
            x = x.transpose(1, 2).unsqueeze(1)
        if x.dim() != 4 or x.shape[1] != self.in_channels or x.shape[2] != self.height:
            raise ValueError(f"wavelet_cnn_lstm expects (batch, {self.in_channels}, {self.height}, columns), "
                             f"got {tuple(x.shape)}")
        if lengths is None:
            lengths = torch.full((x.shape[0],), x.shape[-1], dtype=torch.long, device=x.device)
        lengths = lengths.to(x.device).clamp(max=x.shape[-1])
        if self.max_frames is not None and x.shape[-1] > self.max_frames:
            x, lengths = _centred(x, lengths, self.max_frames)
        x = _zero_past(x, lengths)
        short = (1 << self.n_pools) - x.shape[-1]
        if short > 0:
            x = F.pad(x, (0, short))
        return x, lengths


def _centred(x: torch.Tensor, lengths: torch.Tensor, width: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Each clip longer than ``width`` cut to its centred window; the others kept at the start."""
    starts = ((lengths - width).clamp(min=0) // 2).tolist()
    out = torch.stack([x[i, ..., s:s + width] for i, s in enumerate(starts)])
    return out, lengths.clamp(max=width)


def _zero_past(x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    mask = torch.arange(x.shape[-1], device=x.device)[None, :] < lengths[:, None]
    return x * mask[:, None, None, :].to(x.dtype)


def _input_shape(n_features: int, channels: int, height: int | None, input_kind: str) -> tuple[int, int]:
    if input_kind == "frames":
        return 1, n_features
    if input_kind != "image":
        raise ConfigError(f"model 'wavelet_cnn_lstm': input_kind must be 'image' or 'frames', not {input_kind!r}")
    height = height if height is not None else n_features // max(channels, 1)
    if channels < 1 or height < 1 or channels * height != n_features:
        raise ConfigError(f"model 'wavelet_cnn_lstm': channels × height must be the {n_features} values per "
                          f"column, not {channels} × {height}; leave both to the features' spec")
    return channels, height


def _check(*, filters, pipeline_kernels: Sequence[Sequence[int]], lflb_kernels, pooling, activation, lstm_units,
           fc_units, dropout, max_frames) -> None:
    def bad(key: str, what: str):
        raise ConfigError(f"model 'wavelet_cnn_lstm': {key} {what}")

    for key, value in (("filters", filters), ("lstm_units", lstm_units), ("fc_units", fc_units)):
        if value < 1:
            bad(key, f"must be a positive integer, not {value}")
    if not pipeline_kernels or any(not k for k in pipeline_kernels):
        bad("pipeline_kernels", "needs at least one pipeline of at least one kernel size, e.g. [[3, 3], [5, 5]]")
    if len({len(k) for k in pipeline_kernels}) != 1:
        bad("pipeline_kernels", f"must give every pipeline the same number of blocks (their maps are concatenated), "
                                f"not {[list(k) for k in pipeline_kernels]}")
    for key, kernels in (("pipeline_kernels", [k for p in pipeline_kernels for k in p]),
                         ("lflb_kernels", list(lflb_kernels))):
        if any(k < 1 or k % 2 == 0 for k in kernels):
            bad(key, f"must hold odd sizes ≥ 1 (a 'same' convolution), not {kernels}")
    if pooling not in POOLINGS:
        bad("pooling", f"must be one of {', '.join(POOLINGS)}, not {pooling!r}")
    if activation not in ACTIVATIONS:
        bad("activation", f"must be one of {', '.join(ACTIVATIONS)}, not {activation!r}")
    if not 0 <= dropout < 1:
        bad("dropout", f"must be in [0, 1), not {dropout}")
    if max_frames is not None and max_frames < 1:
        bad("max_frames", f"must be a positive number of columns or null, not {max_frames}")
