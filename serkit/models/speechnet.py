"""SpeechNet (Zhang et al., 2025, section 3.2): encoding → recall → attention → refinement → routing.

Every module can be switched off, as in the paper's ablation (Table 2). Where the paper is
ambiguous, the choices are explained in docs/models.md ("SpeechNet"); in short:

* the model works on ``n_intervals`` (the paper's n3 = 64) time intervals. A vector input's
  128-d code is cut into 64 steps of 2 values; frame input is encoded frame by frame and
  the real frames are averaged into 64 equal intervals per utterance (padding never enters);
* the LSTM (64 units) returns its hidden state at each of the 64 steps: ``h_r`` (64, 64);
* pre-attention is three parallel position-wise linear maps (q, k, v); multi-head
  attention concatenates its heads without an output projection (eq. 9); the maps have no
  bias (eq. 9 has none);
* signal refinement is a valid 1-D convolution with ReLU: ``(64 - k + 1, conv_channels)``;
* routing cuts the flattened map into ``ceil(size / 16)`` capsules of 16 (not squashed:
  eqs. 12-14 have no squash) and routes them to one 16-d capsule per class; the logits are
  the log capsule lengths;
* weights start as a Keras model's would (Glorot-uniform kernels, zero biases, an
  orthogonal recurrent kernel and a forget-gate bias of 1), the query and key maps scaled
  by ``attention_gain`` so that the attention scores start at a useful scale
  (docs/models.md, "SpeechNet: what changed and why").
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from serkit.errors import ConfigError
from serkit.models.layers import (
    CapsuleRouting,
    capsule_logits,
    check_dropout,
    check_input_kind,
    check_positive,
    frame_lengths,
    packed_interval_pool,
    sequence_mask,
    steps_width,
    vector_as_steps,
)

#: The default ``attention_gain`` (see :class:`PreAttentionMHA`).
ATTENTION_GAIN = 2.0


class PreAttentionMHA(nn.Module):
    """Speech attention: optional pre-attention (three parallel linear layers) then multi-head attention.

    Every map is linear without bias, as eq. 9 writes them (``q = W_q h_r``, ``q_i = W_q^i q``),
    and the scores are ``q_i k_iᵀ / sqrt(d_h)``. The maps start Glorot-uniform, the four
    query and key maps multiplied by ``gain``: the scores are bilinear in ``h_r``, whose
    entries (an LSTM's outputs) have an rms of about 0.2 at initialisation, so with
    ``gain=1`` they would start with a spread of ~0.02 and the attention would be a plain
    average that training does not leave.

    Args:
        in_dim: channels per position of the input ``h_r``.
        pre_attention_dim: ``n_q``, the width of the pre-query/key/value; 0 means no pre-attention
            (q = k = v = h_r).
        n_heads: ``n_h``.
        head_dim: ``d_h``; the output has ``n_h * d_h`` channels (heads concatenated, eq. 9).
        gain: of the query and key maps' initial weights.

    Shapes:
        ``(B, S, in_dim)`` → ``(B, S, n_heads * head_dim)``.
    """

    def __init__(self, in_dim: int, *, pre_attention_dim: int, n_heads: int, head_dim: int, gain: float = 1.0):
        super().__init__()
        self.n_heads, self.head_dim = n_heads, head_dim
        if pre_attention_dim:
            self.pre_query = nn.Linear(in_dim, pre_attention_dim, bias=False)
            self.pre_key = nn.Linear(in_dim, pre_attention_dim, bias=False)
            self.pre_value = nn.Linear(in_dim, pre_attention_dim, bias=False)
            width = pre_attention_dim
        else:
            self.pre_query = self.pre_key = self.pre_value = None
            width = in_dim
        self.query = nn.Linear(width, n_heads * head_dim, bias=False)
        self.key = nn.Linear(width, n_heads * head_dim, bias=False)
        self.value = nn.Linear(width, n_heads * head_dim, bias=False)
        for layer in (self.pre_query, self.pre_key, self.query, self.key):
            if layer is not None:
                nn.init.xavier_uniform_(layer.weight, gain=gain)
        for layer in (self.pre_value, self.value):
            if layer is not None:
                nn.init.xavier_uniform_(layer.weight)

    def _heads(self, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Per-head queries, keys and values, each ``(B, n_heads, S, head_dim)``."""
        if self.pre_query is not None:
            q, k, v = self.pre_query(h), self.pre_key(h), self.pre_value(h)
        else:
            q = k = v = h
        batch, steps, _ = h.shape

        def heads(t: torch.Tensor) -> torch.Tensor:
            return t.view(batch, steps, self.n_heads, self.head_dim).transpose(1, 2)

        return heads(self.query(q)), heads(self.key(k)), heads(self.value(v))

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        batch, steps, _ = h.shape
        out = F.scaled_dot_product_attention(*self._heads(h))
        return out.transpose(1, 2).reshape(batch, steps, self.n_heads * self.head_dim)

    def attention_weights(self, h: torch.Tensor) -> torch.Tensor:
        """The attention of each head, ``(B, n_heads, S, S)``, rows summing to 1 (what
        :meth:`forward` averages the values with)."""
        q, k, _ = self._heads(h)
        return torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(self.head_dim), dim=-1)


class SpeechNet(nn.Module):
    """SpeechNet for utterance vectors ``(B, n_features)`` or padded frames ``(B, T, n_features)``.

    Args:
        n_features: input features per vector or frame (107 for the fusion features).
        n_classes: emotion classes.
        input_kind: ``"vector"`` (one vector per utterance) or ``"frames"`` (padded frames + lengths).
        encoder_units: the information-encoding layers' widths (paper: 256, 128).
        negative_slope: of the encoder's LeakyReLU (0.2: ``tf.nn.leaky_relu``'s default).
        n_intervals: time intervals the model works on (paper: n3 = 64).
        lstm_units: the speech-recall LSTM's units (paper: n3 = 64).
        pre_attention_dim: width ``n_q`` of the pre-query/key/value.
        n_heads, head_dim: multi-head attention heads and their size.
        conv_channels, kernel_size: the refinement convolution's ``n4`` and ``k``.
        capsule_dim: capsule size ``d`` (paper: 16), for input and class capsules.
        routing_iterations: dynamic-routing iterations (paper: 2).
        dropout: dropout before the routing module (paper: 0.5).
        attention_gain: of the query and key maps' initial (Glorot) weights; see
            :class:`PreAttentionMHA` (not in the paper, which gives no initialisation).
        information_encoding, speech_recall, pre_attention, speech_attention,
        signal_refinement, routing, modified_routing: module switches (Table 2). Without
            speech attention the whole module goes, pre-attention included; without routing
            the refined map is flattened into a linear classifier; without modified routing
            the routing is CapsNet's standard dynamic routing.

    Shapes:
        forward: ``x`` ``(B, n_features)`` or ``(B, T, n_features)``, ``lengths`` ``(B,)`` or None
        → logits ``(B, n_classes)``.

    Example:
        >>> model = SpeechNet(107, 7)
        >>> model(torch.zeros(2, 107)).shape
        torch.Size([2, 7])
    """

    def __init__(
        self,
        n_features: int,
        n_classes: int,
        *,
        input_kind: str = "vector",
        encoder_units: tuple[int, ...] = (256, 128),
        negative_slope: float = 0.2,
        n_intervals: int = 64,
        lstm_units: int = 64,
        pre_attention_dim: int = 64,
        n_heads: int = 4,
        head_dim: int = 16,
        conv_channels: int = 32,
        kernel_size: int = 3,
        capsule_dim: int = 16,
        routing_iterations: int = 2,
        dropout: float = 0.5,
        attention_gain: float = ATTENTION_GAIN,
        information_encoding: bool = True,
        speech_recall: bool = True,
        pre_attention: bool = True,
        speech_attention: bool = True,
        signal_refinement: bool = True,
        routing: bool = True,
        modified_routing: bool = True,
    ):
        super().__init__()
        encoder_units = tuple(int(u) for u in encoder_units)
        self.n_features, self.n_classes, self.input_kind = n_features, n_classes, input_kind
        self.encoder_units, self.negative_slope = encoder_units, negative_slope
        self.n_intervals, self.lstm_units = n_intervals, lstm_units
        self.pre_attention_dim, self.n_heads, self.head_dim = pre_attention_dim, n_heads, head_dim
        self.conv_channels, self.kernel_size = conv_channels, kernel_size
        self.capsule_dim, self.routing_iterations, self.dropout = capsule_dim, routing_iterations, dropout
        self.attention_gain = attention_gain
        self.information_encoding, self.speech_recall = information_encoding, speech_recall
        self.pre_attention, self.speech_attention = pre_attention, speech_attention
        self.signal_refinement, self.routing, self.modified_routing = signal_refinement, routing, modified_routing

        check_input_kind(input_kind, model="speechnet")
        check_positive("speechnet", n_features=n_features, n_intervals=n_intervals, lstm_units=lstm_units,
                       pre_attention_dim=pre_attention_dim, n_heads=n_heads, head_dim=head_dim,
                       conv_channels=conv_channels, kernel_size=kernel_size, capsule_dim=capsule_dim,
                       routing_iterations=routing_iterations, attention_gain=attention_gain)
        check_dropout("speechnet", dropout)
        if n_classes < 2:
            raise ConfigError(f"model 'speechnet' needs n_classes >= 2, not {n_classes}")
        if not encoder_units or min(encoder_units) < 1:
            raise ConfigError(f"model 'speechnet': encoder_units must be positive widths, not {encoder_units!r}")
        if signal_refinement and kernel_size > n_intervals:
            raise ConfigError(f"model 'speechnet': kernel_size ({kernel_size}) must not exceed "
                              f"n_intervals ({n_intervals})")

        # Information encoding (eq. 7), applied to the vector or to each frame.
        width = n_features
        if information_encoding:
            layers: list[nn.Module] = []
            for units in encoder_units:
                layers += [nn.Linear(width, units), nn.LeakyReLU(negative_slope)]
                width = units
            self.encoder = nn.Sequential(*layers)
        else:
            self.encoder = None
        # A vector's code becomes n_intervals steps of this many values (frames keep `width`).
        step_width = steps_width(width, n_intervals) if input_kind == "vector" else width

        # Speech recall (eq. 8): the hidden state at every interval.
        if speech_recall:
            self.recall = nn.LSTM(step_width, lstm_units, batch_first=True)
            step_width = lstm_units
        else:
            self.recall = None

        # Speech attention (eq. 9).
        if speech_attention:
            self.attention = PreAttentionMHA(step_width, pre_attention_dim=pre_attention_dim if pre_attention else 0,
                                             n_heads=n_heads, head_dim=head_dim, gain=attention_gain)
            step_width = n_heads * head_dim
        else:
            self.attention = None

        # Speech signal refinement (eqs. 10-11): valid convolution over the intervals.
        steps = n_intervals
        if signal_refinement:
            self.refinement = nn.Sequential(nn.Conv1d(step_width, conv_channels, kernel_size), nn.ReLU())
            step_width, steps = conv_channels, n_intervals - kernel_size + 1
        else:
            self.refinement = None

        self.drop = nn.Dropout(dropout)
        # Speech routing: ceil(size / d) capsules of d values (the last zero-padded).
        self.map_size = steps * step_width
        self.n_capsules = -(-self.map_size // capsule_dim)
        if routing:
            self.router = CapsuleRouting(self.n_capsules, capsule_dim, n_classes, capsule_dim,
                                         iterations=routing_iterations, modified=modified_routing)
            self.classifier = None
        else:
            self.router = None
            self.classifier = nn.Linear(self.map_size, n_classes)
        self._keras_init()

    def _keras_init(self) -> None:
        """Initial weights as Keras gives its layers (the paper names no initialisation; its
        LeakyReLU slope is TensorFlow's): Glorot-uniform kernels and zero biases for the dense
        and convolution layers, and for the LSTM a Glorot-uniform input kernel, an orthogonal
        recurrent kernel and zero biases but 1 on the forget gate. The attention maps and the
        routing weights set their own (see PreAttentionMHA and CapsuleRouting)."""
        layers = [*(self.encoder or ()), *(self.refinement or ()), self.classifier]
        for layer in layers:
            if isinstance(layer, (nn.Linear, nn.Conv1d)):
                nn.init.xavier_uniform_(layer.weight)
                nn.init.zeros_(layer.bias)
        if self.recall is not None:
            units = self.recall.hidden_size
            nn.init.xavier_uniform_(self.recall.weight_ih_l0)
            nn.init.orthogonal_(self.recall.weight_hh_l0)
            nn.init.zeros_(self.recall.bias_ih_l0)
            nn.init.zeros_(self.recall.bias_hh_l0)
            with torch.no_grad():
                self.recall.bias_ih_l0[units:2 * units] = 1.0  # gates i, f, g, o: f's bias

    def forward(self, x: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        """Logits ``(B, n_classes)`` for ``x`` ``(B, n_features)`` or padded ``(B, T, n_features)``."""
        if self.input_kind == "vector":
            if x.dim() != 2:
                raise ValueError(f"speechnet with input_kind='vector' expects (batch, features), "
                                 f"not shape {tuple(x.shape)}")
            h = self.encoder(x) if self.encoder is not None else x
            h = vector_as_steps(h, self.n_intervals)  # (B, S, width)
        else:
            if x.dim() != 3:
                raise ValueError(f"speechnet with input_kind='frames' expects (batch, frames, features), "
                                 f"not shape {tuple(x.shape)}")
            lengths = frame_lengths(x, lengths)
            # Only the real frames are encoded: a batch is padded to its longest utterance
            # (EmoDB: 9 s against a 2.8 s mean), so this saves most of the encoder's work.
            h = x[sequence_mask(lengths, x.shape[1], device=x.device)]  # (N real frames, n_features)
            if self.encoder is not None:
                h = self.encoder(h)
            h = packed_interval_pool(h, lengths, self.n_intervals)  # (B, S, width)
        if self.recall is not None:
            h, _ = self.recall(h)  # (B, S, lstm_units)
        if self.attention is not None:
            h = self.attention(h)  # (B, S, heads * head_dim)
        if self.refinement is not None:
            h = self.refinement(h.transpose(1, 2)).transpose(1, 2)  # (B, S - k + 1, conv_channels)
        h = self.drop(h.reshape(h.shape[0], -1))  # (B, map_size), position-major as h_s in eq. 11
        if self.router is None:
            return self.classifier(h)
        pad = self.n_capsules * self.capsule_dim - self.map_size
        if pad:
            h = F.pad(h, (0, pad))
        # The blocks u_1 ... u_τ are the capsules as they are: eqs. 12-14 squash nothing before
        # routing (squashing them kept their lengths near 0.03 and the routing inert).
        u = h.view(h.shape[0], self.n_capsules, self.capsule_dim)
        return capsule_logits(self.router(u))
