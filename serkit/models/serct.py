"""SERCT (Zheng 2024): a raw-waveform CNN front end and a Deformable Speech Transformer.

``waveform (B, S) ──front end──► frames (B, T, C) ──LayerNorm, Linear──► (B, T, d)
──DST: LayerNorm + sinusoidal positions, N post-norm blocks of deformable attention + FFN──►
per-frame MLP d→512→256→classes ──mean over real frames──► logits``

Front ends (``front_end``):

- ``"cnn7"`` (default): the thesis's public code, seven bias-free Conv1d layers with
  (kernel, stride) (10,5), (3,2)×4, (2,2), (2,2), the last padded by 1; a per-channel
  normalisation after the first layer (the code's GroupNorm(512, 512)); GELU. 320 samples a
  frame: 20 ms at 16 kHz.
- ``"cnn6"``: the thesis's text (L404, "six convolutional layers"): the same without the
  last (2,2) layer, 10 ms frames.
- ``"frames"``: no CNN (Table 5's "w/o CNN module"): non-overlapping 20 ms frames of samples
  (``frame_samples``), each projected linearly. Registered as the ``dst`` model.

Deformable speech attention (Chen et al. 2023; thesis eqs. 7–8): each head of each query
frame ``t`` attends only inside a window ``[t + o - w, t + o + w]`` whose offset ``o`` and
half-width ``w`` a linear layer predicts from the query (``o = tanh(·)·L``,
``w = sigmoid(·)·L``, ``L`` the clip's real frame count, so a window scales with each
clip's length). The window is clipped to the clip's real frames, so padding is never
attended; a key half inside the window's edge weighs by its fractional overlap, which
keeps offsets and widths differentiable. At initialisation the offsets are 0 and the
heads' half-widths are spread linearly over ``init_half_widths`` frames (the DST code:
1.25…25 frames, 50 ms…1 s at 20 ms a frame). ``attention="vanilla"`` replaces it by full
multi-head attention over the real frames (Table 5's vanilla transformer). Cost:
O(B·H·T²) memory per layer, as the reference code.

Departures from the public code (NOTES.md), each because ours must hold on padded batches
of clips of different lengths: the first layer's normalisation and the pooling read real
frames only, windows are clipped to the real frames, the positional table stays the fixed
sinusoid (the code's xavier init overwrote it with noise).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from serkit.errors import ConfigError
from serkit.models.layers import (
    check_dropout,
    check_positive,
    masked_mean,
    sequence_mask,
    sinusoidal_positions,
    waveform_frames,
)

#: (kernel, stride, padding) of each convolution, by front end.
FRONT_ENDS: dict[str, tuple[tuple[int, int, int], ...]] = {
    "cnn7": ((10, 5, 0), (3, 2, 0), (3, 2, 0), (3, 2, 0), (3, 2, 0), (2, 2, 0), (2, 2, 1)),
    "cnn6": ((10, 5, 0), (3, 2, 0), (3, 2, 0), (3, 2, 0), (3, 2, 0), (2, 2, 0)),
}
ATTENTIONS = ("deformable", "vanilla")


def conv_lengths(lengths: torch.Tensor, kernel: int, stride: int, padding: int) -> torch.Tensor:
    """Output steps of a Conv1d for each input length (at least 1)."""
    return ((lengths + 2 * padding - kernel) // stride + 1).clamp_min(1)


class MaskedChannelNorm(nn.Module):
    """Normalise each channel of each clip over its real steps (GroupNorm(C, C) without the padding)."""

    def __init__(self, channels: int, eps: float = 1e-5):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, h: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """``h`` ``(B, C, T)``, ``mask`` ``(B, T)`` True on real steps."""
        # Statistics in float32 (also under autocast) from one pass of sums, then one
        # multiply-add: this layer sees the longest sequence of the network, where the
        # textbook (h - mean) / std form's extra passes over (B, C, T) are most of its cost.
        keep = mask.unsqueeze(1).to(torch.float32)
        count = keep.sum(-1, keepdim=True).clamp_min(1.0)
        masked = h.float() * keep
        mean = masked.sum(-1, keepdim=True) / count
        var = ((masked * h.float()).sum(-1, keepdim=True) / count - mean * mean).clamp_min(0.0)
        scale = self.weight.view(1, -1, 1) * torch.rsqrt(var + self.eps)
        return (h * scale + (self.bias.view(1, -1, 1) - mean * scale)).to(h.dtype)


class WaveformCNN(nn.Module):
    """The bias-free Conv1d stack on samples: ``(B, S)`` → ``(B, T, channels)`` with frame lengths."""

    def __init__(self, layers: tuple[tuple[int, int, int], ...], channels: int):
        super().__init__()
        self.layers = layers
        self.convs = nn.ModuleList(
            nn.Conv1d(1 if i == 0 else channels, channels, k, stride=s, padding=p, bias=False)
            for i, (k, s, p) in enumerate(layers)
        )
        self.norm = MaskedChannelNorm(channels)
        for conv in self.convs:
            nn.init.kaiming_normal_(conv.weight)
        # The shortest clip every layer can read: pad shorter ones (e.g. a 10 ms blip).
        self.min_samples = self._min_samples()

    def _min_samples(self) -> int:
        need = 1
        for k, s, p in reversed(self.layers):
            need = max(1, (need - 1) * s + k - 2 * p)
        return need

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if x.shape[1] < self.min_samples:
            x = F.pad(x, (0, self.min_samples - x.shape[1]))
        h = x.unsqueeze(1)
        for i, (conv, (k, s, p)) in enumerate(zip(self.convs, self.layers)):
            if i == 0 or p:
                # Zeros past each clip's end, whatever the batch padded it with, where a
                # window can reach past it (the input; a padded layer): a clip's frames do
                # not depend on the clips it is batched with. An unpadded layer's real
                # outputs read only real steps (conv_lengths counts whole windows).
                h = h * sequence_mask(lengths, h.shape[-1], device=h.device).unsqueeze(1).to(h.dtype)
            h = conv(h)
            lengths = conv_lengths(lengths, k, s, p).clamp_max(h.shape[-1])
            if i == 0:
                h = self.norm(h, sequence_mask(lengths, h.shape[-1], device=h.device))
            h = F.gelu(h)
        return h.transpose(1, 2), lengths


class SampleFrames(nn.Module):
    """No CNN: non-overlapping frames of ``frame_samples`` samples, ``(B, S)`` → ``(B, T, frame_samples)``."""

    def __init__(self, frame_samples: int):
        super().__init__()
        self.frame_samples = frame_samples

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        frames, counts = waveform_frames(x, lengths, self.frame_samples)
        return frames, counts.to(x.device).clamp_min(1)


class DeformableAttention(nn.Module):
    """Multi-head self-attention, each head inside a learned window per query (or everywhere, vanilla).

    Args:
        d_model, n_heads: sizes.
        dropout: on the attention weights.
        deformable: learned windows (DSA); False: every real frame (vanilla MSA).
        init_half_widths: the heads' initial half-widths, in frames, spread from the first to
            the second value.
        reference_frames: the clip length (frames) at which those half-widths hold; a
            window is a fraction of the clip, so it is wider in longer clips.
        bias: bias terms in the projections (the thesis: none).
    """

    def __init__(self, d_model: int, n_heads: int, *, dropout: float, deformable: bool,
                 init_half_widths: tuple[float, float], reference_frames: int, bias: bool):
        super().__init__()
        self.n_heads, self.head_dim, self.deformable = n_heads, d_model // n_heads, deformable
        self.qkv = nn.Linear(d_model, 3 * d_model, bias=bias)
        self.out = nn.Linear(d_model, d_model, bias=bias)
        self.drop = nn.Dropout(dropout)
        if deformable:
            self.window = nn.Linear(d_model, 2 * n_heads)
            nn.init.zeros_(self.window.weight)
            half = torch.linspace(init_half_widths[0], init_half_widths[1], n_heads) / reference_frames
            half = half.clamp(1e-4, 1 - 1e-4)
            with torch.no_grad():
                self.window.bias[:n_heads] = 0.0  # tanh(0) = 0: no offset
                self.window.bias[n_heads:] = torch.log(half / (1 - half))  # sigmoid⁻¹

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        batch, frames, d = x.shape
        q, k, v = self.qkv(x).view(batch, frames, 3, self.n_heads, self.head_dim).unbind(2)
        q, k, v = (t.transpose(1, 2) for t in (q, k, v))  # (B, H, T, dh)
        scores = q @ k.transpose(-1, -2) / math.sqrt(self.head_dim)  # (B, H, T, T)
        keys = torch.arange(frames, device=x.device, dtype=x.dtype)
        last = (lengths.to(x.device, x.dtype) - 1).view(batch, 1, 1, 1)
        if self.deformable:
            weight = self._window_weights(q, lengths, keys, last)
        else:
            weight = (keys.view(1, 1, 1, -1) <= last).to(x.dtype)
        scores = scores + torch.log(weight.clamp_min(1e-6))
        scores = scores.masked_fill(weight <= 0, float("-inf"))
        attn = self.drop(torch.softmax(scores, dim=-1))
        return self.out((attn @ v).transpose(1, 2).reshape(batch, frames, d))

    def _window_weights(self, q, lengths, keys, last):
        """``(B, H, T, T)`` weight of key j for query t: 1 inside the window, a fraction at its edges."""
        batch, heads, frames, _ = q.shape
        query = q.transpose(1, 2).reshape(batch, frames, heads * self.head_dim)
        offset_logit, width_logit = self.window(query).transpose(1, 2).split(heads, dim=1)  # (B, H, T) each
        span = lengths.to(q.device, q.dtype).view(batch, 1, 1)
        centre = keys.view(1, 1, -1) + torch.tanh(offset_logit) * span
        half = torch.sigmoid(width_logit) * span
        # Kept inside the clip's real frames: a window pushed past either end still has a
        # frame to read, and padded frames are never inside.
        last = last.view(batch, 1, 1)
        lo = torch.minimum(torch.clamp(centre - half, min=0.0), last).unsqueeze(-1)
        hi = torch.minimum(torch.clamp(centre + half, min=0.0), last).unsqueeze(-1)
        j = keys.view(1, 1, 1, -1)
        return torch.clamp(j - lo + 1, 0.0, 1.0) * torch.clamp(hi - j + 1, 0.0, 1.0)


class TransformerBlock(nn.Module):
    """Post-norm block: x = LN(x + attention(x)); x = LN(x + FFN(x)) with a ReLU FFN."""

    def __init__(self, d_model: int, n_heads: int, ffn: int, dropout: float, **attention):
        super().__init__()
        self.attention = DeformableAttention(d_model, n_heads, dropout=dropout, **attention)
        self.norm1, self.norm2 = nn.LayerNorm(d_model), nn.LayerNorm(d_model)
        self.ffn = nn.Sequential(nn.Linear(d_model, ffn), nn.ReLU(), nn.Dropout(dropout), nn.Linear(ffn, d_model))
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        x = self.norm1(x + self.drop(self.attention(x, lengths)))
        return self.norm2(x + self.drop(self.ffn(x)))


class SERCT(nn.Module):
    """SERCT on raw waveforms ``(B, S)`` with sample ``lengths``; every size configurable.

    Defaults are the thesis's (26–28 M parameters: a GPU model); configs/serct/*_small.yaml
    use fewer channels and a narrower transformer for a CPU.

    Args:
        n_features: 1 (a waveform has one value per step; checked).
        n_classes: classes.
        front_end: "cnn7", "cnn6" or "frames" (see the module docstring).
        channels: convolution channels (512).
        frame_samples: samples per frame with ``front_end="frames"`` (320: 20 ms).
        d_model, n_layers, n_heads, ffn: the transformer (1024, 4, 8, 512); ``n_layers=0``
            is Table 5's "w/o transformer" (front end, projection and head only).
        attention: "deformable" (DST) or "vanilla".
        dropout: in the transformer blocks (0.1).
        head_units: the per-frame classifier's hidden widths (512, 256).
        init_half_widths, reference_frames: the deformable windows at initialisation
            (1.25…25 frames at 300 frames, i.e. 6 s of 20 ms frames).
        attention_bias: bias terms in the attention projections (the thesis: none).

    Raises:
        ConfigError: a size out of range, an unknown front end or attention, ``d_model``
            not divisible by ``n_heads``.
    """

    def __init__(self, n_features: int, n_classes: int, *, front_end: str = "cnn7", channels: int = 512,
                 frame_samples: int = 320, d_model: int = 1024, n_layers: int = 4, n_heads: int = 8,
                 ffn: int = 512, attention: str = "deformable", dropout: float = 0.1,
                 head_units: tuple[int, ...] = (512, 256), init_half_widths: tuple[float, float] = (1.25, 25.0),
                 reference_frames: int = 300, attention_bias: bool = False):
        super().__init__()
        name = "serct" if front_end != "frames" else "dst"
        if n_features != 1:
            raise ConfigError(f"model {name!r} reads a waveform (1 value per step), not {n_features}-wide frames")
        if front_end not in (*FRONT_ENDS, "frames"):
            raise ConfigError(f"model {name!r}: front_end must be one of {', '.join([*FRONT_ENDS, 'frames'])}, "
                              f"not {front_end!r}")
        if attention not in ATTENTIONS:
            raise ConfigError(f"model {name!r}: attention must be one of {', '.join(ATTENTIONS)}, not {attention!r}")
        head_units = tuple(int(h) for h in head_units)
        check_positive(name, n_classes=n_classes, channels=channels, frame_samples=frame_samples, d_model=d_model,
                       n_heads=n_heads, ffn=ffn, reference_frames=reference_frames,
                       **{f"head_units[{i}]": h for i, h in enumerate(head_units)})
        check_dropout(name, dropout)
        if n_layers < 0:
            raise ConfigError(f"model {name!r}: n_layers must be >= 0, not {n_layers}")
        if d_model % n_heads:
            raise ConfigError(f"model {name!r}: d_model ({d_model}) must be divisible by n_heads ({n_heads})")
        if not 0 < init_half_widths[0] <= init_half_widths[1]:
            raise ConfigError(f"model {name!r}: init_half_widths must be two increasing positive frame counts, "
                              f"not {list(init_half_widths)}")
        if front_end == "frames":
            self.front, width = SampleFrames(frame_samples), frame_samples
        else:
            self.front, width = WaveformCNN(FRONT_ENDS[front_end], channels), channels
        self.front_norm = nn.LayerNorm(width)
        self.project = nn.Linear(width, d_model)
        self.input_norm = nn.LayerNorm(d_model) if n_layers else nn.Identity()
        attention_args = {"deformable": attention == "deformable", "init_half_widths": tuple(init_half_widths),
                          "reference_frames": reference_frames, "bias": attention_bias}
        self.blocks = nn.ModuleList(TransformerBlock(d_model, n_heads, ffn, dropout, **attention_args)
                                    for _ in range(n_layers))
        layers, w = [], d_model
        for units in head_units:
            layers += [nn.Linear(w, units), nn.ReLU()]
            w = units
        self.head = nn.Sequential(*layers, nn.Linear(w, n_classes))
        self.d_model = d_model

    def frames(self, x: torch.Tensor, lengths: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """The transformer's output ``(B, T, d_model)`` and the real frame counts ``(B,)``."""
        if x.dim() != 2:
            raise ValueError(f"SERCT expects waveforms (batch, samples), not shape {tuple(x.shape)}")
        if lengths is None:
            lengths = torch.full((x.shape[0],), x.shape[1], dtype=torch.long)
        lengths = torch.as_tensor(lengths).to(x.device, torch.long)
        h, lengths = self.front(x, lengths)
        h = self.project(self.front_norm(h))
        if self.blocks:
            h = self.input_norm(h) + sinusoidal_positions(h.shape[1], self.d_model, device=h.device).to(h.dtype)
            for block in self.blocks:
                h = block(h, lengths)
        return h, lengths

    def forward(self, x: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        """Logits ``(batch, classes)``: the per-frame logits averaged over each clip's real frames."""
        h, lengths = self.frames(x, lengths)
        return masked_mean(self.head(h), sequence_mask(lengths, h.shape[1], device=h.device))


class DST(SERCT):
    """SERCT without its CNN (Table 5, "w/o CNN module"): 20 ms sample frames → Linear → DST → head.

    The parameters are SERCT's, less ``front_end`` and ``channels``.
    """

    def __init__(self, n_features: int, n_classes: int, *, frame_samples: int = 320, d_model: int = 1024,
                 n_layers: int = 4, n_heads: int = 8, ffn: int = 512, attention: str = "deformable",
                 dropout: float = 0.1, head_units: tuple[int, ...] = (512, 256),
                 init_half_widths: tuple[float, float] = (1.25, 25.0), reference_frames: int = 300,
                 attention_bias: bool = False):
        super().__init__(n_features, n_classes, front_end="frames", frame_samples=frame_samples, d_model=d_model,
                         n_layers=n_layers, n_heads=n_heads, ffn=ffn, attention=attention, dropout=dropout,
                         head_units=head_units, init_half_widths=init_half_widths,
                         reference_frames=reference_frames, attention_bias=attention_bias)
