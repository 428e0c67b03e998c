"""What the baselines share: input kinds, interval pooling, masking and parameter checks.

Input kinds:

* ``"vector"``: ``(batch, n_features)``. The sequence models (LSTM, GRU, CNN, TCN,
  Transformer) read the vector as a one-channel sequence of ``n_features`` steps (the usual
  recipe for utterance-level features); the autoencoder reads it as a vector.
* ``"frames"``: ``(batch, frames, n_features)`` with ``lengths``. Padding is masked:
  recurrent models use packed sequences, convolutions see zeros there and pool real frames
  only, the transformer masks padded keys, the autoencoder averages real frames.
* ``"waveform"`` (LSTM, GRU, CNN: the SERCT thesis's baselines): ``(batch, samples)`` with
  ``lengths``, ``n_features`` 1. The samples are read as non-overlapping frames of
  ``frame_samples`` samples (320 = 20 ms at 16 kHz), a clip of ``L`` samples giving
  ``ceil(L / frame_samples)`` steps of ``frame_samples`` values; samples past a clip's
  length are zeroed first, so its last, partial frame does not depend on the batch.
  A recurrent layer cannot step through 96 000 raw samples (6 s) on a CPU, nor keep a
  gradient alive over them; over 20 ms frames it takes 300 steps.

  With ``n_intervals`` set, the sequence models first average each utterance's real frames
  into that many equal time intervals, as SpeechNet does before its LSTM, so that a peer
  reads the same 64 steps SpeechNet's recall module reads. It is also much cheaper: an
  LSTM peer over EmoDB's raw frames (up to 560) took 55 s an epoch on one CPU thread.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence

from serkit.errors import ConfigError
from serkit.models.layers import (
    INPUT_KINDS,
    check_dropout,
    check_input_kind,
    check_positive,
    frame_lengths,
    interval_pool,
    sequence_mask,
    waveform_frames,
)

#: The layout each input kind expects, for shape errors.
_LAYOUTS = {"vector": "(batch, features)", "frames": "(batch, frames, features)", "waveform": "(batch, samples)"}
#: The kinds of the models that also read a waveform as frames of samples.
WAVEFORM_KINDS: tuple[str, ...] = (*INPUT_KINDS, "waveform")


def validate_params(model: str, *, input_kind: str, allowed_kinds: tuple[str, ...] = INPUT_KINDS,
                    dropout: float | None = None, n_intervals: int | None = None,
                    **positive: int | float) -> None:
    """Check a baseline's constructor arguments; the first one out of range raises.

    Each message names the model, the parameter, its value and the valid range, e.g.
    ``model 'tcn': levels must be > 0, not 0``.

    Args:
        model: the registry name, for the messages.
        input_kind: one of ``allowed_kinds``.
        allowed_kinds: the input kinds the model takes.
        dropout: in [0, 1); None when the model has no dropout.
        n_intervals: None (every frame) or a positive count, with ``input_kind="frames"`` only.
        positive: sizes that must be > 0, by name (``n_features=107, hidden_size=128``).

    Raises:
        ConfigError: an argument out of range.
    """
    check_input_kind(input_kind, model=model, allowed=allowed_kinds)
    check_positive(model, **positive)
    if dropout is not None:
        check_dropout(model, dropout)
    if n_intervals is not None:
        check_positive(model, n_intervals=n_intervals)
        if input_kind != "frames":
            raise ConfigError(f"model {model!r}: n_intervals applies to input_kind='frames' only, "
                              f"not input_kind={input_kind!r} (n_intervals={n_intervals!r})")


def check_waveform_input(model: str, n_features: int, **sizes: int | None) -> None:
    """ConfigError unless a waveform reader gets 1 value per step and positive ``sizes``.

    Example:
        >>> check_waveform_input("lstm", 40, frame_samples=320)
        Traceback (most recent call last):
        ...
        serkit.errors.ConfigError: model 'lstm' with input_kind='waveform' reads 1 sample per step, not 40-wide frames; use features that give a waveform (features: waveform)
    """
    if n_features != 1:
        raise ConfigError(f"model {model!r} with input_kind='waveform' reads 1 sample per step, not "
                          f"{n_features}-wide frames; use features that give a waveform (features: waveform)")
    for name, value in sizes.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ConfigError(f"model {model!r}: {name} must be a positive number of samples, not {value!r}")


def check_input_shape(model: nn.Module, x: torch.Tensor) -> None:
    """Check that ``x`` has the layout of ``model.input_kind``.

    Raises:
        ValueError: ``x`` is not ``(batch, features)`` for "vector" input,
            ``(batch, frames, features)`` for "frames" input or ``(batch, samples)`` for
            "waveform" input.
    """
    if x.dim() != (3 if model.input_kind == "frames" else 2):
        raise ValueError(f"{type(model).__name__} with input_kind={model.input_kind!r} expects "
                         f"{_LAYOUTS[model.input_kind]}, not shape {tuple(x.shape)}")


class SequenceClassifier(nn.Module):
    """Base of the sequence peers: a vector, padded frames or a waveform read as a sequence of steps.

    A subclass sets :attr:`name` (and :attr:`input_kinds` when it also reads a waveform),
    passes its sizes to ``super().__init__`` (checked by :func:`validate_params`), builds
    its layers on :attr:`step_width` input channels, then calls :meth:`add_head` last; its
    forward starts with :meth:`as_sequence` and ends with :meth:`classify`.

    Args:
        n_features, n_classes: input width and classes.
        input_kind: one of :attr:`input_kinds`.
        dropout: before the classifier.
        n_intervals: with frame input, average the real frames into this many equal time
            intervals first (SpeechNet's 64); None reads every frame.
        frame_samples: with waveform input, samples per step (non-overlapping frames);
            ignored otherwise.
        sizes: the subclass's sizes that must be > 0 (checked, not stored).

    Raises:
        ConfigError: a parameter out of range, or waveform input with ``n_features`` other than 1.
    """

    #: The registry name, for error messages.
    name = "sequence"
    #: The input kinds the model reads.
    input_kinds: tuple[str, ...] = INPUT_KINDS

    def __init__(self, n_features: int, n_classes: int, *, input_kind: str, dropout: float,
                 n_intervals: int | None, frame_samples: int | None = None, **sizes: int):
        super().__init__()
        validate_params(self.name, input_kind=input_kind, allowed_kinds=self.input_kinds, dropout=dropout,
                        n_intervals=n_intervals, n_features=n_features, n_classes=n_classes, **sizes)
        if input_kind == "waveform":
            check_waveform_input(self.name, n_features, frame_samples=frame_samples)
        self.n_features, self.n_classes, self.input_kind = n_features, n_classes, input_kind
        self.n_intervals, self.dropout, self.frame_samples = n_intervals, dropout, frame_samples

    @property
    def step_width(self) -> int:
        """Channels of one step: 1 for a vector read as a sequence, ``n_features`` for frames,
        ``frame_samples`` for a waveform."""
        return {"vector": 1, "waveform": self.frame_samples}.get(self.input_kind, self.n_features)

    def add_head(self, width: int) -> None:
        """Add dropout and the linear classifier on ``width`` pooled features (after the body's layers)."""
        self.drop = nn.Dropout(self.dropout)
        self.head = nn.Linear(width, self.n_classes)

    def classify(self, pooled: torch.Tensor) -> torch.Tensor:
        """Logits ``(batch, classes)`` of pooled features ``(batch, width)``."""
        return self.head(self.drop(pooled))

    def as_sequence(self, x: torch.Tensor, lengths: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        """The steps ``(batch, steps, step_width)`` and their CPU lengths ``(batch,)``, for either input kind.

        Args:
            x: ``(batch, n_features)``, padded ``(batch, frames, n_features)`` or padded
                samples ``(batch, samples)``.
            lengths: real frames (samples) per utterance ``(batch,)``; None when nothing is padded.

        Raises:
            ValueError: ``x`` of the wrong layout, or bad ``lengths``.
        """
        check_input_shape(self, x)
        if self.input_kind == "vector":
            return x.unsqueeze(-1), torch.full((x.shape[0],), x.shape[1], dtype=torch.long)
        if self.input_kind == "waveform":
            return waveform_frames(x, lengths, self.frame_samples)
        lengths = frame_lengths(x, lengths)
        if self.n_intervals is None:
            return x, lengths
        return interval_pool(x, lengths, self.n_intervals), torch.full_like(lengths, self.n_intervals)

    @staticmethod
    def padding_mask(seq: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """``(batch, steps)`` bool mask of ``seq`` ``(batch, steps, C)``: True on real steps."""
        return sequence_mask(lengths, seq.shape[1], device=seq.device)


class RecurrentClassifier(SequenceClassifier):
    """A recurrent layer over the sequence; the last layer's final hidden state feeds a linear layer.

    Subclasses set :attr:`rnn_class` (``nn.LSTM``, ``nn.GRU``) and :attr:`name`.

    Args:
        n_features, n_classes: input width and classes.
        input_kind: "vector", "frames" or "waveform".
        hidden_size, num_layers, bidirectional: of the recurrent layer.
        dropout: before the classifier (and between layers).
        n_intervals: with frame input, average the real frames into this many equal time
            intervals first (SpeechNet's 64); None reads every frame.
        frame_samples: with waveform input, the layer steps through non-overlapping frames
            of this many samples (320 = 20 ms at 16 kHz), not through single samples: an
            LSTM over 96 000 raw steps (6 s) would take minutes a batch on a CPU and forget
            its start long before its end.
    """

    rnn_class: type[nn.RNNBase] = nn.LSTM
    name = "rnn"
    input_kinds = WAVEFORM_KINDS

    def __init__(self, n_features: int, n_classes: int, *, input_kind: str = "vector", hidden_size: int = 128,
                 num_layers: int = 1, bidirectional: bool = False, dropout: float = 0.5,
                 n_intervals: int | None = None, frame_samples: int = 320):
        super().__init__(n_features, n_classes, input_kind=input_kind, dropout=dropout, n_intervals=n_intervals,
                         frame_samples=frame_samples, hidden_size=hidden_size, num_layers=num_layers)
        self.hidden_size, self.num_layers, self.bidirectional = hidden_size, num_layers, bidirectional
        self.rnn = self.rnn_class(self.step_width, hidden_size, num_layers=num_layers, batch_first=True,
                                  bidirectional=bidirectional, dropout=dropout if num_layers > 1 else 0.0)
        self.add_head(hidden_size * (2 if bidirectional else 1))

    def forward(self, x: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        """Logits ``(batch, classes)`` of ``(batch, n_features)``, padded ``(batch, frames, n_features)``
        or padded samples ``(batch, samples)``."""
        seq, lengths = self.as_sequence(x, lengths)
        if _exporting():
            # An exported graph takes unpadded clips (one length per call) and neither ONNX
            # exporter handles packed sequences; on full-length steps the two agree.
            _, h = self.rnn(seq)
        else:
            _, h = self.rnn(pack_padded_sequence(seq, lengths, batch_first=True, enforce_sorted=False))
        h = h[0] if isinstance(h, tuple) else h  # LSTM: (h_n, c_n)
        directions = 2 if self.bidirectional else 1
        last = h.view(self.num_layers, directions, h.shape[1], self.hidden_size)[-1]  # (dirs, B, H)
        return self.classify(last.transpose(0, 1).reshape(h.shape[1], -1))


def _exporting() -> bool:
    """Whether the model is being traced for ONNX (the TorchScript or the dynamo exporter)."""
    return torch.onnx.is_in_onnx_export() or torch.compiler.is_exporting()
