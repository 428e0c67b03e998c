"""The peer models SpeechNet is compared with (Zhang et al., 2025, Fig. 6 and Table 4).

The paper names the peers (LSTM, GRU, CNN, Transformer, Autoencoder, TCN, SVM) but not
their configurations; these are small, standard versions run on the same features.

Input kinds:

* ``"vector"``: ``(B, n_features)``. The sequence models (LSTM, GRU, CNN, TCN, Transformer)
  read the vector as a one-channel sequence of ``n_features`` steps (the usual recipe for
  utterance-level features); the autoencoder reads it as a vector.
* ``"frames"``: ``(B, T, n_features)`` with ``lengths``. Padding is masked: recurrent models
  use packed sequences, convolutions see zeros there and pool real frames only, the
  transformer masks padded keys, the autoencoder averages real frames.

  With ``n_intervals`` set, the sequence models first average each utterance's real frames
  into that many equal time intervals, as SpeechNet does before its LSTM, so that a peer
  reads the same 64 steps SpeechNet's recall module reads. It is also much cheaper: an
  LSTM peer over EmoDB's raw frames (up to 560) took 55 s an epoch on one CPU thread.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence

from serkit.errors import ConfigError
from serkit.models.layers import (
    check_dropout,
    check_input_kind,
    check_positive,
    frame_lengths,
    interval_pool,
    last_valid,
    masked_max,
    masked_mean,
    sequence_mask,
    sinusoidal_positions,
)


def _as_sequence(model: nn.Module, x: torch.Tensor, lengths: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
    """``(B, T, C)`` and CPU lengths ``(B,)`` for either input kind."""
    if model.input_kind == "vector":
        if x.dim() != 2:
            raise ValueError(f"{type(model).__name__} with input_kind='vector' expects (batch, features), "
                             f"not shape {tuple(x.shape)}")
        return x.unsqueeze(-1), torch.full((x.shape[0],), x.shape[1], dtype=torch.long)
    if x.dim() != 3:
        raise ValueError(f"{type(model).__name__} with input_kind='frames' expects (batch, frames, features), "
                         f"not shape {tuple(x.shape)}")
    lengths = frame_lengths(x, lengths)
    if model.n_intervals is None:
        return x, lengths
    return interval_pool(x, lengths, model.n_intervals), torch.full_like(lengths, model.n_intervals)


def _check_intervals(name: str, input_kind: str, n_intervals: int | None) -> None:
    """``n_intervals``: None (every frame) or a positive count, for frame input only."""
    if n_intervals is None:
        return
    check_positive(name, n_intervals=n_intervals)
    if input_kind != "frames":
        raise ConfigError(f"model {name!r}: n_intervals applies to input_kind='frames' only")


class _RNNClassifier(nn.Module):
    rnn_class: type[nn.RNNBase] = nn.LSTM
    name = "rnn"

    def __init__(self, n_features: int, n_classes: int, *, input_kind: str = "vector", hidden_size: int = 128,
                 num_layers: int = 1, bidirectional: bool = False, dropout: float = 0.5,
                 n_intervals: int | None = None):
        super().__init__()
        self.n_features, self.n_classes, self.input_kind = n_features, n_classes, input_kind
        _check_intervals(self.name, input_kind, n_intervals)
        self.n_intervals = n_intervals
        self.hidden_size, self.num_layers = hidden_size, num_layers
        self.bidirectional, self.dropout = bidirectional, dropout
        check_input_kind(input_kind, model=self.name)
        check_positive(self.name, n_features=n_features, n_classes=n_classes, hidden_size=hidden_size,
                       num_layers=num_layers)
        check_dropout(self.name, dropout)
        in_size = 1 if input_kind == "vector" else n_features
        self.rnn = self.rnn_class(in_size, hidden_size, num_layers=num_layers, batch_first=True,
                                  bidirectional=bidirectional, dropout=dropout if num_layers > 1 else 0.0)
        self.drop = nn.Dropout(dropout)
        self.head = nn.Linear(hidden_size * (2 if bidirectional else 1), n_classes)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        seq, lengths = _as_sequence(self, x, lengths)
        packed = pack_padded_sequence(seq, lengths, batch_first=True, enforce_sorted=False)
        _, h = self.rnn(packed)
        h = h[0] if isinstance(h, tuple) else h  # LSTM: (h_n, c_n)
        directions = 2 if self.bidirectional else 1
        last = h.view(self.num_layers, directions, h.shape[1], self.hidden_size)[-1]  # (dirs, B, H)
        return self.head(self.drop(last.transpose(0, 1).reshape(h.shape[1], -1)))


class LSTMClassifier(_RNNClassifier):
    """LSTM over the sequence; the last layer's final hidden state feeds a linear layer.

    Args:
        n_features, n_classes: input width and classes.
        input_kind: "vector" or "frames".
        hidden_size, num_layers, bidirectional: of the LSTM.
        dropout: before the classifier (and between layers).
        n_intervals: with frame input, average the real frames into this many equal time
            intervals first (SpeechNet's 64); None reads every frame.
    """

    rnn_class = nn.LSTM
    name = "lstm"


class GRUClassifier(_RNNClassifier):
    """GRU over the sequence; the last layer's final hidden state feeds a linear layer (args as LSTMClassifier)."""

    rnn_class = nn.GRU
    name = "gru"


class CNNClassifier(nn.Module):
    """1-D CNN: ``same``-padded convolutions with ReLU, then mean and max over real steps.

    Args:
        n_features, n_classes: input width and classes.
        input_kind: "vector" or "frames".
        channels: output channels of each convolution.
        kernel_size: odd kernel width.
        dropout: before the classifier.
        n_intervals: with frame input, average the real frames into this many equal time
            intervals first (SpeechNet's 64); None reads every frame.
    """

    def __init__(self, n_features: int, n_classes: int, *, input_kind: str = "vector",
                 channels: tuple[int, ...] = (32, 64, 128), kernel_size: int = 5, dropout: float = 0.5,
                 n_intervals: int | None = None):
        super().__init__()
        channels = tuple(int(c) for c in channels)
        self.n_features, self.n_classes, self.input_kind = n_features, n_classes, input_kind
        _check_intervals("cnn", input_kind, n_intervals)
        self.n_intervals = n_intervals
        self.channels, self.kernel_size, self.dropout = channels, kernel_size, dropout
        check_input_kind(input_kind, model="cnn")
        check_positive("cnn", n_features=n_features, n_classes=n_classes, kernel_size=kernel_size)
        check_dropout("cnn", dropout)
        if not channels or min(channels) < 1:
            raise ConfigError(f"model 'cnn': channels must be positive widths, not {channels!r}")
        if kernel_size % 2 == 0:
            raise ConfigError(f"model 'cnn': kernel_size must be odd (same padding), not {kernel_size}")
        width = 1 if input_kind == "vector" else n_features
        self.convs = nn.ModuleList()
        for c in channels:
            self.convs.append(nn.Conv1d(width, c, kernel_size, padding=kernel_size // 2))
            width = c
        self.drop = nn.Dropout(dropout)
        self.head = nn.Linear(2 * width, n_classes)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        seq, lengths = _as_sequence(self, x, lengths)
        mask = sequence_mask(lengths, seq.shape[1], device=seq.device)  # (B, T)
        h = seq.transpose(1, 2)  # (B, C, T)
        keep = mask.unsqueeze(1)
        for conv in self.convs:
            # Zeros on padding, as the convolution's own padding: real steps see the same input
            # however much padding follows.
            h = F.relu(conv(torch.where(keep, h, 0.0)))
        h = h.transpose(1, 2)
        return self.head(self.drop(torch.cat([masked_mean(h, mask), masked_max(h, mask)], dim=1)))


class _TemporalBlock(nn.Module):
    """Two causal dilated convolutions with ReLU and dropout, plus a residual (Bai et al., 2018)."""

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


class TCNClassifier(nn.Module):
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
    """

    def __init__(self, n_features: int, n_classes: int, *, input_kind: str = "vector", channels: int = 64,
                 levels: int = 5, kernel_size: int = 3, dropout: float = 0.2, n_intervals: int | None = None):
        super().__init__()
        self.n_features, self.n_classes, self.input_kind = n_features, n_classes, input_kind
        _check_intervals("tcn", input_kind, n_intervals)
        self.n_intervals = n_intervals
        self.channels, self.levels, self.kernel_size, self.dropout = channels, levels, kernel_size, dropout
        check_input_kind(input_kind, model="tcn")
        check_positive("tcn", n_features=n_features, n_classes=n_classes, channels=channels, levels=levels,
                       kernel_size=kernel_size)
        check_dropout("tcn", dropout)
        width = 1 if input_kind == "vector" else n_features
        blocks = []
        for level in range(levels):
            blocks.append(_TemporalBlock(width, channels, kernel_size, 2 ** level, dropout))
            width = channels
        self.blocks = nn.Sequential(*blocks)
        self.drop = nn.Dropout(dropout)
        self.head = nn.Linear(channels, n_classes)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        seq, lengths = _as_sequence(self, x, lengths)
        h = self.blocks(seq.transpose(1, 2)).transpose(1, 2)  # (B, T, channels)
        return self.head(self.drop(last_valid(h, lengths)))


class TransformerClassifier(nn.Module):
    """Transformer encoder over the sequence (sinusoidal positions, padded keys masked), mean-pooled.

    Args:
        n_features, n_classes: input width and classes.
        input_kind: "vector" or "frames".
        d_model, n_heads, n_layers, dim_feedforward: of the encoder.
        dropout: inside the encoder and before the classifier.
        n_intervals: with frame input, average the real frames into this many equal time
            intervals first (SpeechNet's 64); None reads every frame.
    """

    def __init__(self, n_features: int, n_classes: int, *, input_kind: str = "vector", d_model: int = 64,
                 n_heads: int = 4, n_layers: int = 2, dim_feedforward: int = 128, dropout: float = 0.1,
                 n_intervals: int | None = None):
        super().__init__()
        self.n_features, self.n_classes, self.input_kind = n_features, n_classes, input_kind
        _check_intervals("transformer", input_kind, n_intervals)
        self.n_intervals = n_intervals
        self.d_model, self.n_heads, self.n_layers = d_model, n_heads, n_layers
        self.dim_feedforward, self.dropout = dim_feedforward, dropout
        check_input_kind(input_kind, model="transformer")
        check_positive("transformer", n_features=n_features, n_classes=n_classes, d_model=d_model,
                       n_heads=n_heads, n_layers=n_layers, dim_feedforward=dim_feedforward)
        check_dropout("transformer", dropout)
        if d_model % n_heads or d_model % 2:
            raise ConfigError(f"model 'transformer': d_model ({d_model}) must be even and divisible by "
                              f"n_heads ({n_heads})")
        self.embed = nn.Linear(1 if input_kind == "vector" else n_features, d_model)
        layer = nn.TransformerEncoderLayer(d_model, n_heads, dim_feedforward, dropout, batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, n_layers, enable_nested_tensor=False)
        self.drop = nn.Dropout(dropout)
        self.head = nn.Linear(d_model, n_classes)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        seq, lengths = _as_sequence(self, x, lengths)
        mask = sequence_mask(lengths, seq.shape[1], device=seq.device)
        h = self.embed(seq) + sinusoidal_positions(seq.shape[1], self.d_model, device=seq.device)
        h = self.encoder(h, src_key_padding_mask=~mask)
        return self.head(self.drop(masked_mean(h, mask)))


class AutoencoderClassifier(nn.Module):
    """Autoencoder-based classifier: a classifier on the bottleneck of a jointly trained autoencoder.

    After a forward pass in training mode, :attr:`auxiliary_loss` holds
    ``reconstruction_weight * MSE(reconstruction, input)``; a training loop adds it to the
    classification loss (it is None in eval mode). Frames are averaged over real frames first.

    Args:
        n_features, n_classes: input width and classes.
        input_kind: "vector" or "frames".
        hidden_units: width of the encoder's (and mirrored decoder's) hidden layer.
        code_dim: bottleneck width.
        reconstruction_weight: weight of the reconstruction term.
        dropout: before the classifier.
    """

    def __init__(self, n_features: int, n_classes: int, *, input_kind: str = "vector", hidden_units: int = 128,
                 code_dim: int = 32, reconstruction_weight: float = 1.0, dropout: float = 0.5):
        super().__init__()
        self.n_features, self.n_classes, self.input_kind = n_features, n_classes, input_kind
        self.hidden_units, self.code_dim = hidden_units, code_dim
        self.reconstruction_weight, self.dropout = reconstruction_weight, dropout
        check_input_kind(input_kind, model="autoencoder")
        check_positive("autoencoder", n_features=n_features, n_classes=n_classes, hidden_units=hidden_units,
                       code_dim=code_dim)
        check_dropout("autoencoder", dropout)
        self.encoder = nn.Sequential(nn.Linear(n_features, hidden_units), nn.ReLU(),
                                     nn.Linear(hidden_units, code_dim), nn.ReLU())
        self.decoder = nn.Sequential(nn.Linear(code_dim, hidden_units), nn.ReLU(), nn.Linear(hidden_units, n_features))
        self.drop = nn.Dropout(dropout)
        self.head = nn.Linear(code_dim, n_classes)
        self.auxiliary_loss: torch.Tensor | None = None

    def forward(self, x: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        if self.input_kind == "frames":
            if x.dim() != 3:
                raise ValueError(f"AutoencoderClassifier with input_kind='frames' expects (batch, frames, "
                                 f"features), not shape {tuple(x.shape)}")
            lengths = frame_lengths(x, lengths)
            x = masked_mean(x, sequence_mask(lengths, x.shape[1], device=x.device))
        elif x.dim() != 2:
            raise ValueError(f"AutoencoderClassifier with input_kind='vector' expects (batch, features), "
                             f"not shape {tuple(x.shape)}")
        code = self.encoder(x)
        if self.training:
            self.auxiliary_loss = self.reconstruction_weight * F.mse_loss(self.decoder(code), x)
        else:
            self.auxiliary_loss = None
        return self.head(self.drop(code))


def make_svm(n_features: int, n_classes: int, *, input_kind: str = "vector", C: float = 1.0, kernel: str = "rbf",
             gamma: str | float = "scale", class_weight: str | None = "balanced", scale: bool = True,
             calibration_folds: int = 5):
    """A support vector machine as a scikit-learn Pipeline with ``predict_proba``.

    ``n_features`` and ``n_classes`` are taken for a uniform signature; scikit-learn reads
    both from the data. Probabilities are Platt-scaled decision values: an SVC's one-vs-rest
    scores are calibrated with sigmoids fitted on ``calibration_folds`` stratified,
    unshuffled folds, then the SVC is refitted on all the data
    (``CalibratedClassifierCV(ensemble=False)``, what ``SVC(probability=True)`` did before its
    deprecation, but without its random state). Deterministic.

    Args:
        input_kind: only "vector".
        C, kernel, gamma, class_weight: of :class:`sklearn.svm.SVC`.
        scale: standardise features first (fit on the training data only).
        calibration_folds: folds for the probability calibration; each class needs at least
            this many training samples.

    Returns:
        an unfitted :class:`sklearn.pipeline.Pipeline` (``fit``, ``predict_proba``, ``classes_``).
    """
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC

    check_input_kind(input_kind, model="svm", allowed=("vector",))
    check_positive("svm", C=C)
    if calibration_folds < 2:
        raise ConfigError(f"model 'svm': calibration_folds must be >= 2, not {calibration_folds}")
    svc = SVC(C=C, kernel=kernel, gamma=gamma, class_weight=class_weight)
    steps = [("scale", StandardScaler())] if scale else []
    steps.append(("svm", CalibratedClassifierCV(svc, method="sigmoid", cv=calibration_folds, ensemble=False)))
    return Pipeline(steps)


class MLPClassifier(nn.Module):
    """Multilayer perceptron on one feature vector per utterance (the SERCT thesis's MLP baseline).

    Hidden layers are Linear → LayerNorm → ReLU → Dropout (LayerNorm, not BatchNorm, so a
    last mini-batch of one utterance trains); frames are averaged over real
    frames first. Small and fast: the bundled default model is one (docs/default-model.md).

    Args:
        n_features, n_classes: input width and classes.
        input_kind: "vector" or "frames".
        hidden_units: width of each hidden layer.
        dropout: after each hidden layer.
    """

    def __init__(self, n_features: int, n_classes: int, *, input_kind: str = "vector",
                 hidden_units: tuple[int, ...] = (256, 128), dropout: float = 0.3):
        super().__init__()
        hidden_units = tuple(int(h) for h in hidden_units)
        self.n_features, self.n_classes, self.input_kind = n_features, n_classes, input_kind
        self.hidden_units, self.dropout = hidden_units, dropout
        check_input_kind(input_kind, model="mlp")
        check_positive("mlp", n_features=n_features, n_classes=n_classes,
                       **{f"hidden_units[{i}]": h for i, h in enumerate(hidden_units)})
        check_dropout("mlp", dropout)
        layers, width = [], n_features
        for units in hidden_units:
            layers += [nn.Linear(width, units), nn.LayerNorm(units), nn.ReLU(), nn.Dropout(dropout)]
            width = units
        self.body = nn.Sequential(*layers)
        self.head = nn.Linear(width, n_classes)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        if self.input_kind == "frames":
            if x.dim() != 3:
                raise ValueError(f"MLPClassifier with input_kind='frames' expects (batch, frames, features), "
                                 f"not shape {tuple(x.shape)}")
            x = masked_mean(x, sequence_mask(frame_lengths(x, lengths), x.shape[1], device=x.device))
        elif x.dim() != 2:
            raise ValueError(f"MLPClassifier with input_kind='vector' expects (batch, features), "
                             f"not shape {tuple(x.shape)}")
        return self.head(self.body(x))
