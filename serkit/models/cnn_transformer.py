"""The parallel CNN–Transformer with cross-attention fusion (Wei et al., 2025, section III.C).

A log-mel spectrogram goes through two branches side by side:

* **CNN branch**: the spectrogram as a one-channel image ``(1, mels, frames)`` through
  residual blocks ``y = ReLU(F(x) + shortcut(x))``, ``F = BN2(Conv2(ReLU(BN1(Conv1(x)))))``
  (eqs. 1–2), each followed by a 2×2 max pool and dropout, flattened to ``f_cnn ∈ R^D``.
* **Transformer branch**: the spectrogram max-pooled by 2×4 over (mel, time), read as a
  sequence over time of ``mels / 2`` values per step, sinusoidal positions, four encoder
  layers: ``f_transf ∈ R^{T' × C}``.
* **Cross-attention** (eqs. 5–9): one query from the CNN, ``q = W_Q f_cnn``; keys and values
  from the Transformer, ``K = W_K f_transf``, ``V = W_V f_transf``;
  ``f_fused = softmax(q Kᵀ / √d) V ∈ R^d`` (single head, no bias, as the equations).
* **Classifier** (eq. 10): ``[f_cnn, f_fused]`` → linear → logits.

Every size follows from ``n_features``, ``n_frames`` and the parameters, so a saved
``state_dict`` loads into a freshly built model (the paper needed a dummy forward pass).
Inputs are cropped or zero-padded to ``n_frames``; frames past ``lengths`` are zeroed for the
CNN, never win a max in the Transformer's pooling, and their pooled steps are masked as keys
of both attentions, so padding values never change the output.

Example:
    >>> import torch
    >>> net = CNNTransformer(128, 8, n_frames=188).eval()
    >>> net(torch.zeros(2, 188, 128)).shape
    torch.Size([2, 8])
    >>> net.cnn_dim, net.sequence_length
    (11264, 47)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from itertools import pairwise

import torch
import torch.nn.functional as F
from torch import nn

from serkit.errors import ConfigError
from serkit.models.layers import (
    check_dropout,
    check_input_kind,
    check_positive,
    frame_lengths,
    sequence_mask,
    sinusoidal_positions,
)

MODEL_NAME = "cnn_transformer"


@dataclass(frozen=True)
class BranchFeatures:
    """The intermediate features of one forward pass (for tests, inspection and plots).

    Attributes:
        f_cnn: ``(B, D)`` flattened CNN map.
        f_transf: ``(B, T', C)`` Transformer output over the pooled time steps.
        step_mask: ``(B, T')`` True on pooled steps that hold at least one real frame.
        attention: ``(B, T')`` the cross-attention weights α (0 on masked steps).
        f_fused: ``(B, d)`` the attended values.
    """

    f_cnn: torch.Tensor
    f_transf: torch.Tensor
    step_mask: torch.Tensor
    attention: torch.Tensor
    f_fused: torch.Tensor


class ResidualBlock(nn.Module):
    """``ReLU(BN2(Conv2(ReLU(BN1(Conv1(x))))) + shortcut(x))``, then 2×2 max pool and dropout.

    The shortcut is a 1×1 convolution + BN when the channel count changes (the paper's
    "downsampling shortcut"), the identity otherwise. Convolutions are 3×3 with padding 1 and
    no bias, since each is followed by a BN that has its own shift.
    """

    def __init__(self, in_channels: int, out_channels: int, dropout: float):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.shortcut = nn.Identity()
        if in_channels != out_channels:
            self.shortcut = nn.Sequential(nn.Conv2d(in_channels, out_channels, 1, bias=False),
                                          nn.BatchNorm2d(out_channels))
        self.pool = nn.MaxPool2d(2)
        self.dropout = float(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        residual = self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x)))))
        return self._drop(self.pool(F.relu(residual + self.shortcut(x))))

    def _drop(self, x: torch.Tensor) -> torch.Tensor:
        """Inverted dropout with its mask from ``rand_like``: the same distribution as
        ``nn.Dropout``, whose ``bernoulli_`` kernel made the whole training step about 1.1×
        slower on CPU (issue 16's measurement)."""
        if not self.training or self.dropout == 0.0:
            return x
        keep = torch.rand_like(x) >= self.dropout
        return x * keep / (1.0 - self.dropout)


class CNNBranch(nn.Module):
    """Residual blocks over ``(B, 1, mels, frames)``, flattened to ``(B, D)``.

    ``D = channels[-1] · ⌊mels / 2^n⌋ · ⌊frames / 2^n⌋`` for ``n`` blocks (each max pool
    floors both sides).
    """

    def __init__(self, n_mels: int, n_frames: int, channels: tuple[int, ...], dropout: float):
        super().__init__()
        widths = (1, *channels)
        # channels_last: oneDNN's convolutions run 1.2-1.3× faster on CPU in that layout
        # (issue 16's measurement); the values are the same up to float rounding.
        self.blocks = nn.Sequential(*(ResidualBlock(a, b, dropout) for a, b in pairwise(widths)))
        self.blocks.to(memory_format=torch.channels_last)
        height, width = n_mels, n_frames
        for _ in channels:
            height, width = height // 2, width // 2
        self.output_dim = channels[-1] * height * width

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return self.blocks(image.contiguous(memory_format=torch.channels_last)).flatten(1)


class TransformerBranch(nn.Module):
    """Max pool over (mel, time), project to ``d_model`` if needed, add positions, encode.

    Args:
        n_mels, n_frames: the spectrogram's size.
        pool: the (mel, time) max-pool kernel (and stride).
        d_model, n_heads, n_layers, ff_dim, dropout: of the encoder layers (post-norm, ReLU
            feed-forward as eq. 4).
    """

    def __init__(self, n_mels: int, n_frames: int, pool: tuple[int, int], *, d_model: int, n_heads: int,
                 n_layers: int, ff_dim: int, dropout: float):
        super().__init__()
        self.pool = pool
        self.step_width = n_mels // pool[0]
        self.sequence_length = n_frames // pool[1]
        # The pooled spectrogram is the sequence itself when its width is d_model (128 mels,
        # d_model 64): a projection is only added when the widths differ.
        self.project = nn.Identity() if self.step_width == d_model else nn.Linear(self.step_width, d_model)
        # A fixed table, not a parameter: nothing can train or re-initialise it. Not saved in
        # the state_dict, since it is rebuilt from the sizes.
        self.register_buffer("positions", sinusoidal_positions(self.sequence_length, d_model), persistent=False)
        layer = nn.TransformerEncoderLayer(d_model, n_heads, ff_dim, dropout, batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, n_layers, enable_nested_tensor=False)

    def steps(self, frames: torch.Tensor, mask: torch.Tensor, step_mask: torch.Tensor) -> torch.Tensor:
        """The pooled sequence ``(B, T', mels / 2)`` of ``(B, n_frames, mels)`` frames.

        Padded frames are set to the lowest float before the max pool, so a step that mixes
        real and padded frames is the max over its real frames only; all-padding steps are 0.
        """
        low = torch.finfo(frames.dtype).min
        image = frames.masked_fill(~mask.unsqueeze(-1), low).transpose(1, 2).unsqueeze(1)  # (B, 1, M, T)
        pooled = F.max_pool2d(image, self.pool).squeeze(1).transpose(1, 2)  # (B, T', M')
        return pooled.masked_fill(~step_mask.unsqueeze(-1), 0.0)

    def step_mask(self, lengths: torch.Tensor, device: torch.device) -> torch.Tensor:
        """``(B, T')``: True on pooled steps that hold at least one real frame."""
        steps = torch.div(lengths + self.pool[1] - 1, self.pool[1], rounding_mode="floor")
        return sequence_mask(steps.clamp(1, self.sequence_length), self.sequence_length, device=device)

    def forward(self, frames: torch.Tensor, mask: torch.Tensor, step_mask: torch.Tensor) -> torch.Tensor:
        sequence = self.project(self.steps(frames, mask, step_mask)) + self.positions
        return self.encoder(sequence, src_key_padding_mask=~step_mask)


class CrossAttention(nn.Module):
    """Eqs. 5–9: one query from ``f_cnn`` attends over the Transformer's time steps.

    Single head and bias-free projections, as the equations: ``q = W_Q f_cnn``,
    ``K = W_K f_transf``, ``V = W_V f_transf``, ``α = softmax(q Kᵀ / √d)`` over the real
    steps, ``f_fused = α V``.
    """

    def __init__(self, query_dim: int, key_dim: int, attention_dim: int):
        super().__init__()
        self.w_q = nn.Linear(query_dim, attention_dim, bias=False)
        self.w_k = nn.Linear(key_dim, attention_dim, bias=False)
        self.w_v = nn.Linear(key_dim, attention_dim, bias=False)
        self.scale = 1.0 / math.sqrt(attention_dim)

    def forward(self, f_cnn: torch.Tensor, f_transf: torch.Tensor,
                step_mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(f_fused (B, d), α (B, T'))``."""
        query = self.w_q(f_cnn).unsqueeze(-1)  # (B, d, 1)
        scores = (self.w_k(f_transf) @ query).squeeze(-1) * self.scale  # (B, T')
        alpha = torch.softmax(scores.masked_fill(~step_mask, float("-inf")), dim=1)
        return (alpha.unsqueeze(1) @ self.w_v(f_transf)).squeeze(1), alpha


class CNNTransformer(nn.Module):
    """The CNN–Transformer with cross-attention of Wei et al. (2025) on log-mel frames.

    ``forward(x, lengths=None)``: ``x`` is ``(batch, frames, n_features)`` (any number of
    frames: cropped or zero-padded to ``n_frames``), ``lengths`` the real frame counts (all
    frames when None); returns logits ``(batch, n_classes)``.

    Args:
        n_features: mel bands (128).
        n_classes: classes.
        n_frames: frames per clip the model is built for (188 for 3 s at 16 kHz, hop 256).
            Required: it fixes the CNN's flattened size D.
        input_kind: only "frames".
        channels: output channels of the residual blocks, one block each (the paper has four
            blocks and gives no widths).
        dropout: after each residual block (paper: 0.4).
        transformer_pool: the (mel, time) max-pool kernel before the Transformer (paper: 2×4).
        d_model: Transformer width; None is ``n_features // transformer_pool[0]`` (the pooled
            mel width, so no projection is needed).
        n_heads, n_layers, ff_dim: of the Transformer encoder (paper: 4 layers).
        transformer_dropout: inside the encoder layers (PyTorch's default 0.1; the paper's
            0.4 is stated for the residual blocks).
        attention_dim: d of the cross-attention; None is ``d_model``.
        bn_recalibration_batches: after every training epoch, BatchNorm statistics are
            re-estimated without dropout on this many training batches (0: never). Why:
            the dropout after each block feeds the next block's BatchNorm activations whose
            variance dropout inflates; the running statistics learnt in training then do
            not fit the dropout-free activations of evaluation, and the model predicts much
            worse in eval mode than in training mode (docs/models.md). See :meth:`recalibrate`.
            8 batches (128 clips) rather than 32: the estimate is an exact average either
            way, and a quarter of the cost at every epoch's end.

    Raises:
        ConfigError: a size that is missing, not positive, or too small for the pooling.
    """

    def __init__(self, n_features: int, n_classes: int, *, n_frames: int | None = None, input_kind: str = "frames",
                 channels: tuple[int, ...] = (16, 32, 64, 128), dropout: float = 0.4,
                 transformer_pool: tuple[int, int] = (2, 4), d_model: int | None = None, n_heads: int = 4,
                 n_layers: int = 4, ff_dim: int = 256, transformer_dropout: float = 0.1,
                 attention_dim: int | None = None, bn_recalibration_batches: int = 8):
        super().__init__()
        if bn_recalibration_batches < 0:
            raise ConfigError(f"model {MODEL_NAME!r}: bn_recalibration_batches must be >= 0, "
                              f"not {bn_recalibration_batches}")
        self.bn_recalibration_batches = int(bn_recalibration_batches)
        channels, transformer_pool = tuple(int(c) for c in channels), tuple(int(p) for p in transformer_pool)
        _check_sizes(n_features, n_classes, n_frames, channels, transformer_pool)
        check_input_kind(input_kind, model=MODEL_NAME, allowed=("frames",))
        d_model = n_features // transformer_pool[0] if d_model is None else int(d_model)
        attention_dim = d_model if attention_dim is None else int(attention_dim)
        check_positive(MODEL_NAME, n_heads=n_heads, n_layers=n_layers, ff_dim=ff_dim, d_model=d_model,
                       attention_dim=attention_dim)
        check_dropout(MODEL_NAME, dropout)
        check_dropout(MODEL_NAME, transformer_dropout)
        if d_model % n_heads:
            raise ConfigError(f"model {MODEL_NAME!r}: d_model ({d_model}) must be divisible by n_heads ({n_heads})")
        self.n_features, self.n_classes, self.n_frames, self.input_kind = n_features, n_classes, n_frames, input_kind
        self.cnn = CNNBranch(n_features, n_frames, channels, dropout)
        self.transformer = TransformerBranch(n_features, n_frames, transformer_pool, d_model=d_model,
                                             n_heads=n_heads, n_layers=n_layers, ff_dim=ff_dim,
                                             dropout=transformer_dropout)
        self.cross_attention = CrossAttention(self.cnn.output_dim, d_model, attention_dim)
        self.head = nn.Linear(self.cnn.output_dim + attention_dim, n_classes)

    @torch.no_grad()
    def recalibrate(self, batches) -> None:
        """Re-estimate every BatchNorm's running statistics on ``batches`` without dropout.

        ``batches`` yields ``(x, lengths)``; the first ``bn_recalibration_batches`` are used,
        and the statistics become their exact average (momentum None). The fit loop calls
        this after each training epoch, so validation, checkpoint choice and test all see
        statistics that match dropout-free activations ("precise BN").
        """
        norms = [m for m in self.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
        if not norms or self.bn_recalibration_batches == 0:
            return
        was_training = self.training
        self.eval()
        momenta = [bn.momentum for bn in norms]
        for bn in norms:
            bn.reset_running_stats()
            bn.momentum = None
            bn.train()
        for _, (x, lengths) in zip(range(self.bn_recalibration_batches), batches):
            self.branches(x, lengths)
        for bn, momentum in zip(norms, momenta):
            bn.momentum = momentum
        self.train(was_training)

    @property
    def cnn_dim(self) -> int:
        """D, the size of ``f_cnn``."""
        return self.cnn.output_dim

    @property
    def sequence_length(self) -> int:
        """T', the Transformer's pooled time steps (``n_frames // 4`` with the paper's pool)."""
        return self.transformer.sequence_length

    def branches(self, x: torch.Tensor, lengths: torch.Tensor | None = None) -> BranchFeatures:
        """The intermediate features of ``forward`` (same arguments)."""
        frames, lengths = self._fit_frames(x, lengths)
        mask = sequence_mask(lengths, self.n_frames, device=frames.device)  # (B, n_frames)
        # Zeros, as the paper's zero-padding, and whatever the padding held: the CNN's output
        # then depends on a clip's real frames and its length only.
        zeroed = frames.masked_fill(~mask.unsqueeze(-1), 0.0)
        f_cnn = self.cnn(zeroed.transpose(1, 2).unsqueeze(1))
        step_mask = self.transformer.step_mask(lengths, frames.device)
        f_transf = self.transformer(frames, mask, step_mask)
        f_fused, attention = self.cross_attention(f_cnn, f_transf, step_mask)
        return BranchFeatures(f_cnn, f_transf, step_mask, attention, f_fused)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        features = self.branches(x, lengths)
        return self.head(torch.cat([features.f_cnn, features.f_fused], dim=1))

    def _fit_frames(self, x: torch.Tensor, lengths: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        """``x`` cropped or zero-padded to ``n_frames``, and the real lengths (CPU) clipped to it."""
        if x.dim() != 3 or x.shape[2] != self.n_features:
            raise ValueError(f"CNNTransformer expects (batch, frames, {self.n_features}), not shape {tuple(x.shape)}")
        lengths = frame_lengths(x, lengths).clamp(max=self.n_frames)
        missing = self.n_frames - x.shape[1]
        frames = F.pad(x, (0, 0, 0, missing)) if missing > 0 else x[:, : self.n_frames]
        return frames, lengths


def _check_sizes(n_features: int, n_classes: int, n_frames: int | None, channels: tuple[int, ...],
                 pool: tuple[int, int]) -> None:
    """ConfigError unless the spectrogram survives every pooling with at least one cell."""
    if n_frames is None:
        raise ConfigError(f"model {MODEL_NAME!r} needs n_frames, the frames per clip of its features "
                          "(188 for logmel at 16 kHz); set model.params.n_frames")
    check_positive(MODEL_NAME, n_features=n_features, n_classes=n_classes, n_frames=n_frames)
    if not channels or min(channels) < 1:
        raise ConfigError(f"model {MODEL_NAME!r}: channels must be positive widths, not {channels!r}")
    if len(pool) != 2 or min(pool) < 1:
        raise ConfigError(f"model {MODEL_NAME!r}: transformer_pool must be two positive sizes (mel, time), "
                          f"not {pool!r}")
    smallest = 2 ** len(channels)
    if min(n_features, n_frames) < smallest:
        raise ConfigError(f"model {MODEL_NAME!r}: {len(channels)} residual blocks halve the spectrogram "
                          f"{len(channels)} times, so n_features and n_frames must be >= {smallest}, "
                          f"not {n_features} and {n_frames}")
    if n_features < pool[0] or n_frames < pool[1]:
        raise ConfigError(f"model {MODEL_NAME!r}: transformer_pool {pool} is larger than the spectrogram "
                          f"({n_features} mels × {n_frames} frames)")
