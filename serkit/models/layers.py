"""Small building blocks shared by the torch models: masks, pooling, capsule routing.

Shapes use ``B`` for batch, ``T`` for (padded) frames and ``C`` for channels.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from serkit.errors import ConfigError

#: The input kinds most torch models take: one vector per utterance, or padded frames (a
#: few also read a waveform: ``serkit.models.MODELS.info(name)["accepts"]``).
INPUT_KINDS: tuple[str, ...] = ("vector", "frames")


def check_input_kind(input_kind: str, *, model: str, allowed: tuple[str, ...] = INPUT_KINDS) -> str:
    """Return ``input_kind`` or raise ConfigError naming the kinds ``model`` accepts."""
    if input_kind not in allowed:
        raise ConfigError(
            f"model {model!r} takes input_kind {' or '.join(map(repr, allowed))}, not {input_kind!r}"
        )
    return input_kind


def check_positive(model: str, **values: int | float) -> None:
    """Raise ConfigError for the first of ``values`` that is not > 0."""
    for name, value in values.items():
        if not value > 0:
            raise ConfigError(f"model {model!r}: {name} must be > 0, not {value!r}")


def check_dropout(model: str, dropout: float) -> None:
    if not 0.0 <= dropout < 1.0:
        raise ConfigError(f"model {model!r}: dropout must be in [0, 1), not {dropout!r}")


def check_fixed_waveform(model: str, n_features: int, n_samples: int | None) -> int:
    """The input width of a model that reads a whole fixed-length waveform as one vector: ``n_samples``.

    Raises:
        ConfigError: no ``n_samples`` (the features give clips of varying length), one < 1,
            or ``n_features`` other than 1 (not a waveform).

    Example:
        >>> check_fixed_waveform("mlp", 1, None)
        Traceback (most recent call last):
        ...
        serkit.errors.ConfigError: model 'mlp' reads a waveform as one vector: set features.params.fixed_samples (every clip padded or cut to that many samples, e.g. 48000 = 3 s at 16 kHz)
    """
    if n_samples is None:
        raise ConfigError(f"model {model!r} reads a waveform as one vector: set features.params.fixed_samples "
                          "(every clip padded or cut to that many samples, e.g. 48000 = 3 s at 16 kHz)")
    if isinstance(n_samples, bool) or not isinstance(n_samples, int) or n_samples < 1:
        raise ConfigError(f"model {model!r}: n_samples must be a positive number of samples, not {n_samples!r}")
    if n_features != 1:
        raise ConfigError(f"model {model!r} with input_kind='waveform' reads 1 value per sample, not "
                          f"{n_features}-wide frames; use features that give a waveform (features: waveform)")
    return n_samples


def frame_lengths(x: torch.Tensor, lengths: torch.Tensor | None) -> torch.Tensor:
    """Lengths of a padded ``(B, T, C)`` batch as a CPU int64 tensor ``(B,)``; all ``T`` when None.

    Raises:
        ValueError: lengths of the wrong shape, < 1, or longer than ``T``.
    """
    batch, frames = x.shape[0], x.shape[1]
    if lengths is None:
        return torch.full((batch,), frames, dtype=torch.long)
    lengths = torch.as_tensor(lengths).to("cpu", torch.long)
    if lengths.shape != (batch,):
        raise ValueError(f"lengths must have shape ({batch},), not {tuple(lengths.shape)}")
    if batch and (int(lengths.min()) < 1 or int(lengths.max()) > frames):
        raise ValueError(f"lengths must be in [1, {frames}] (the padded frame count), got {lengths.tolist()}")
    return lengths


def sequence_mask(lengths: torch.Tensor, frames: int, *, device: torch.device | None = None) -> torch.Tensor:
    """``(B, frames)`` bool mask, True on real frames and False on padding."""
    steps = torch.arange(frames, device=device)
    return steps.unsqueeze(0) < lengths.to(device).unsqueeze(1)


def masked_mean(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean over dim 1 of ``x`` ``(B, T, C)`` counting only frames where ``mask`` ``(B, T)`` is True."""
    weights = mask.to(x.dtype).unsqueeze(-1)
    # where() rather than multiply: padding may hold inf/nan and must not leak in.
    total = torch.where(mask.unsqueeze(-1), x, torch.zeros((), dtype=x.dtype, device=x.device)).sum(1)
    return total / weights.sum(1).clamp_min(1.0)


def masked_max(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Max over dim 1 of ``x`` ``(B, T, C)`` over real frames only."""
    fill = torch.finfo(x.dtype).min
    return x.masked_fill(~mask.unsqueeze(-1), fill).amax(1)


class MaskedBatchNorm2d(nn.BatchNorm2d):
    """BatchNorm2d whose training statistics come from each image's real columns only.

    ``forward(x, lengths)``: ``x`` ``(B, C, H, W)`` with ``lengths[b]`` real columns, the rest
    batch padding. A plain BatchNorm2d averages the padding into its batch statistics (and so
    into the running ones), so how much padding a batch holds changes every clip's output in
    training. In evaluation, or for a batch without padding, it is exactly nn.BatchNorm2d;
    its state_dict has the same keys. Padding columns are normalised with the real columns'
    statistics, which they do not enter (so no gradient reaches them through the mean and
    variance, only through their own output).

    Under bfloat16 autocast (``training.mixed_precision``) ``x`` arrives in bfloat16 and,
    as with nn.BatchNorm2d, the statistics and running statistics are float32 and the output
    is bfloat16.
    """

    def forward(self, x: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        if not self.training or lengths is None or bool((lengths >= x.shape[-1]).all()):
            return super().forward(x)
        keep = sequence_mask(lengths.clamp_min(1), x.shape[-1], device=x.device).to(x.dtype)
        exact = torch.promote_types(x.dtype, torch.float32)  # the statistics' precision
        weight = self.weight if self.affine else torch.ones(x.shape[1], dtype=exact, device=x.device)
        bias = self.bias if self.affine else torch.zeros(x.shape[1], dtype=exact, device=x.device)
        y, mean, var, count = _MaskedBatchNorm.apply(x, weight, bias, keep, self.eps)
        if self.track_running_stats:
            with torch.no_grad():
                self.num_batches_tracked += 1
                # nn.BatchNorm2d's update: momentum, or a cumulative average without one, and
                # the unbiased variance.
                factor = self.momentum if self.momentum is not None else 1.0 / float(self.num_batches_tracked)
                self.running_mean.lerp_(mean.to(self.running_mean.dtype), factor)
                self.running_var.lerp_((var * count / max(count - 1, 1)).to(self.running_var.dtype), factor)
        return y


class _MaskedBatchNorm(torch.autograd.Function):
    """Batch normalisation over the real columns, forward and backward by hand.

    Autograd through the textbook form (multiply by the mask, centre, square, multiply
    again) made eight full-size operations on x forward and more backward, and reductions
    over the rows of a channels_last tensor in its logical order are ~20 times slower
    than in its memory order: a training step of wavelet_cnn_lstm took 1.9-2.0 times as long
    with masked_batchnorm as without (benchmarks/bench_masked_batchnorm.py prints all three).
    Here the statistics are two row sums of x; normalising is PyTorch's own batch_norm
    kernel given those statistics (as in evaluation), and the backward is that kernel's
    backward (the gradient with the statistics held fixed, and the parameters' gradients)
    plus the statistics' own term on the real columns, itself one batch_norm pass. The
    kernels take a bfloat16 x (autocast) with float32 statistics, as nn.BatchNorm2d does,
    where elementwise bfloat16 arithmetic with broadcasts was slower than float32 on CPU.
    """

    @staticmethod
    def forward(ctx, x, weight, bias, keep, eps):
        count = float(keep.sum()) * x.shape[2]
        real = keep[:, None, :].double()
        wide = x.to(weight.dtype)  # a bfloat16 x's row sums rounded to bfloat16 would shift the mean
        # Per column first (sums over H, in x's memory order), then over the real columns
        # in float64, so E[x²] - E[x]² loses no precision in the cancellation.
        mean = (_row_sums(wide).double() * real).sum((0, 2)) / count
        var = ((_row_sums(wide.square()).double() * real).sum((0, 2)) / count - mean.square()).clamp_min(0)
        mean, var = mean.to(weight.dtype), var.to(weight.dtype)  # float32 even for a bfloat16 x
        y = torch.batch_norm(x, weight, bias, mean, var, False, 0.0, eps, False)
        ctx.save_for_backward(x, weight, keep, mean, var)
        ctx.count, ctx.eps = count, eps
        ctx.mark_non_differentiable(mean, var)
        return y, mean, var, count

    @staticmethod
    def backward(ctx, grad, _mean, _var, _count):
        x, weight, keep, mean, var = ctx.saved_tensors
        # With mean and var held fixed: g·w·invstd, and the parameters' gradients
        # Σ g·(x - mean)·invstd and Σ g.
        grad_x, grad_weight, grad_bias = torch.ops.aten.native_batch_norm_backward(
            grad.contiguous(memory_format=_layout(x)), x, weight, mean, var, None, None, False, ctx.eps,
            [True, True, True])
        # mean and var see real columns only: their term is [real]·(d_mean + d_var·2(x - mean)) / count,
        # i.e. slope·x + offset per channel, zero on the padding.
        invstd = torch.rsqrt(var + ctx.eps)
        d_mean = -weight * invstd * grad_bias
        d_var = -0.5 * weight * invstd.square() * grad_weight
        slope = 2 * d_var / ctx.count
        offset = d_mean / ctx.count - slope * mean
        ones = torch.ones_like(var)
        through_stats = torch.batch_norm(x, slope, offset, torch.zeros_like(mean), ones, False, 0.0, 0.0, False)
        for row, n in enumerate(keep.sum(1).long().tolist()):
            through_stats[row, ..., n:] = 0
        return grad_x + through_stats, grad_weight, grad_bias, None, None


def _layout(x: torch.Tensor) -> torch.memory_format:
    channels_last = x.is_contiguous(memory_format=torch.channels_last) and not x.is_contiguous()
    return torch.channels_last if channels_last else torch.contiguous_format


def _row_sums(x: torch.Tensor) -> torch.Tensor:
    """``(B, C, H, W)`` summed over H to ``(B, C, W)``, reduced in x's memory order."""
    if _layout(x) == torch.channels_last:
        return x.permute(0, 2, 3, 1).sum(1).permute(0, 2, 1)
    return x.sum(2)


def last_valid(x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """``x[b, lengths[b] - 1]`` for each b: the last real frame of ``(B, T, C)``."""
    index = (lengths.to(x.device) - 1).view(-1, 1, 1).expand(-1, 1, x.shape[-1])
    return x.gather(1, index).squeeze(1)


def interval_pool(x: torch.Tensor, lengths: torch.Tensor, n_intervals: int) -> torch.Tensor:
    """Average the real frames of each padded utterance into ``n_intervals`` equal time intervals.

    ``x`` is ``(B, T, C)`` padded frames with ``(B,)`` real ``lengths``; returns ``(B, S, C)``.
    See :func:`packed_interval_pool`, which this calls on the real frames.
    """
    mask = sequence_mask(lengths, x.shape[1], device=x.device)
    return packed_interval_pool(x[mask], lengths, n_intervals)


def packed_interval_pool(frames: torch.Tensor, lengths: torch.Tensor, n_intervals: int) -> torch.Tensor:
    """Average each utterance's frames into ``n_intervals`` equal time intervals.

    Interval ``s`` of an utterance with ``L`` real frames covers frames
    ``[floor(s*L/S), ceil((s+1)*L/S))`` (``adaptive_avg_pool1d``'s rule), so it is never
    empty and intervals repeat frames when ``L < S``.

    The intervals are bags of frame indices averaged by ``embedding_bag``, which costs
    about one pass over the frames, forward and backward (a ``(S, T)`` pooling matrix per
    utterance cost 64 passes and was a quarter of SpeechNet's training time).

    Args:
        frames: ``(N, C)``, the real frames of all utterances, one after another
            (``x[sequence_mask(lengths, T)]`` of a padded batch).
        lengths: ``(B,)`` frames per utterance, each >= 1, summing to ``N``.
        n_intervals: ``S``.

    Returns:
        ``(B, S, C)``.
    """
    lengths = lengths.to(frames.device).view(-1, 1)
    s = torch.arange(n_intervals, device=frames.device).view(1, -1)
    first = (lengths.cumsum(0) - lengths) + (s * lengths) // n_intervals  # (B, S) first frame in `frames`
    counts = (((s + 1) * lengths + n_intervals - 1) // n_intervals - (s * lengths) // n_intervals).flatten()
    bag_starts = counts.cumsum(0) - counts
    within = torch.arange(int(counts.sum()), device=frames.device) - bag_starts.repeat_interleave(counts)
    index = first.flatten().repeat_interleave(counts) + within
    pooled = F.embedding_bag(index, frames, bag_starts, mode="mean")  # (B * S, C)
    return pooled.view(lengths.shape[0], n_intervals, frames.shape[-1])


def waveform_frames(x: torch.Tensor, lengths: torch.Tensor | None,
                    frame_samples: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Padded samples ``(B, S)`` as non-overlapping frames ``(B, ceil(S/n), n)`` and their CPU lengths.

    Samples past each clip's length are zeroed first (whatever the batch padded it with),
    so the last, partial frame of a clip holds the same values alone or batched with a
    longer clip; a clip of ``L`` samples has ``ceil(L / n)`` frames.

    Args:
        x: ``(B, S)`` samples, zero-padded at the end.
        lengths: real samples per clip ``(B,)``; None when nothing is padded.
        frame_samples: ``n``, samples per frame (320 = 20 ms at 16 kHz).

    Raises:
        ValueError: ``x`` is not ``(B, S)``, or bad ``lengths``.

    Example:
        >>> frames, n = waveform_frames(torch.ones(2, 7), torch.tensor([7, 4]), 3)
        >>> tuple(frames.shape), n.tolist(), frames[1].flatten().tolist()
        ((2, 3, 3), [3, 2], [1.0, 1.0, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0])
    """
    if x.dim() != 2:
        raise ValueError(f"a waveform batch is (batch, samples), not shape {tuple(x.shape)}")
    lengths = frame_lengths(x, lengths)
    keep = sequence_mask(lengths, x.shape[1], device=x.device)
    x = torch.where(keep, x, torch.zeros((), dtype=x.dtype, device=x.device))  # where: padding may be nan
    # Always the same padding, then a cut at a length derived from the input's: the frame
    # count stays a function of the length in an exported (ONNX) graph, not a constant.
    frames = (x.shape[1] + frame_samples - 1) // frame_samples
    x = F.pad(x, (0, frame_samples - 1))[:, : frames * frame_samples]
    return x.reshape(x.shape[0], -1, frame_samples), (lengths + frame_samples - 1) // frame_samples


def vector_as_steps(x: torch.Tensor, n_steps: int) -> torch.Tensor:
    """Cut each vector of ``(B, D)`` into ``n_steps`` consecutive chunks: ``(B, n_steps, ceil(D/n_steps))``.

    The vector is zero-padded at the end when ``D`` is not a multiple of ``n_steps``.
    """
    width = steps_width(x.shape[1], n_steps)
    pad = n_steps * width - x.shape[1]
    if pad:
        x = F.pad(x, (0, pad))
    return x.reshape(x.shape[0], n_steps, width)


def steps_width(dim: int, n_steps: int) -> int:
    """Channels per step when a ``dim``-vector is cut into ``n_steps`` steps."""
    return math.ceil(dim / n_steps)


def squash(s: torch.Tensor, *, dim: int = -1, eps: float = 1e-12) -> torch.Tensor:
    """CapsNet's squash: keeps the direction, maps the length ``|s|`` to ``|s|^2 / (1 + |s|^2)``."""
    sq = (s * s).sum(dim, keepdim=True)
    return s * (sq / (1.0 + sq) / torch.sqrt(sq + eps))


def sinusoidal_positions(n: int, dim: int, *, device: torch.device | None = None) -> torch.Tensor:
    """The transformer's fixed sinusoidal position table ``(n, dim)``."""
    position = torch.arange(n, device=device, dtype=torch.float32).unsqueeze(1)
    freq = torch.exp(torch.arange(0, dim, 2, device=device, dtype=torch.float32) * (-math.log(10000.0) / dim))
    table = torch.zeros(n, dim, device=device)
    table[:, 0::2] = torch.sin(position * freq)
    table[:, 1::2] = torch.cos(position * freq)[:, : dim // 2]
    return table


class CapsuleRouting(nn.Module):
    """Dynamic routing from ``n_in`` input capsules to one output capsule per class.

    Each input capsule ``u_i`` (``in_dim``) predicts every class capsule through its own
    matrix, ``a_ij = W_ij u_i`` (``out_dim``). Two routing rules:

    * ``modified=False``: Sabour et al. (2017). Scalar logits ``b_ij`` start at 0 and are
      accumulated, ``b_ij += <a_ij, v_j>``; ``c_ij = softmax_j(b_ij)``;
      ``v_j = squash(sum_i c_ij a_ij)``.
    * ``modified=True``: our reading of SpeechNet's eqs. 12-14. The similarity is taken per
      dimension, ``u_ij = a_ij * v_j`` (elementwise, eq. 12), and it *replaces* the
      coefficients each iteration, ``c_ij = softmax_j(u_ij)`` per dimension (eq. 13), so each
      of the ``out_dim`` dimensions of an input capsule is routed on its own ("dynamic
      weighting"); ``v_j = squash(sum_i c_ij * a_ij)`` (eq. 14).

    Both start from uniform coefficients ``1/n_classes``.

    The weights are normal with std ``n_classes / sqrt(in_dim · n_in)``: the first class
    capsule ``s_j = Σ_i a_ij / C`` then has about the length of an input capsule (for
    ``in_dim = out_dim``), whatever the numbers of capsules and classes. SpeechNet's unsquashed
    input capsules are ~0.6 long at initialisation, so its class capsules start at ~0.3,
    below the margin loss's 0.5 (docs/models.md, "SpeechNet: what changed and why").

    Args:
        n_in: input capsules.
        in_dim: their size ``d``.
        n_classes: output capsules.
        out_dim: output capsule size.
        iterations: routing iterations (>= 1).
        modified: which rule, above.

    Shapes:
        forward: ``(B, n_in, in_dim)`` input capsules (SpeechNet's are the raw blocks of its
        refined map, not squashed: eqs. 12-14 have no squash) → ``(B, n_classes, out_dim)``
        squashed class capsules; the length of each is the class's score in [0, 1).
    """

    def __init__(self, n_in: int, in_dim: int, n_classes: int, out_dim: int, *, iterations: int = 2,
                 modified: bool = True):
        super().__init__()
        self.n_in, self.in_dim, self.n_classes, self.out_dim = n_in, in_dim, n_classes, out_dim
        self.iterations, self.modified = iterations, modified
        # (n_in, in_dim, n_classes * out_dim): one bmm over input capsules makes every prediction.
        scale = n_classes / math.sqrt(in_dim * n_in)
        self.weight = nn.Parameter(torch.randn(n_in, in_dim, n_classes * out_dim) * scale)

    def forward(self, u: torch.Tensor) -> torch.Tensor:
        return self._route(u)[0]

    def route(self, u: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The class capsules ``(B, n_classes, out_dim)`` and the coupling coefficients the last
        capsules were made with, ``(B, n_in, n_classes, out_dim)`` for the modified rule,
        ``(B, n_in, n_classes, 1)`` for the standard one (uniform ``1/n_classes`` when
        ``iterations`` is 1)."""
        v, c = self._route(u)
        if c is None:  # built only here: forward never reads the coefficients
            c = v.new_full((self.n_in, u.shape[0], self.n_classes, self.out_dim if self.modified else 1),
                           1.0 / self.n_classes)
        return v, c.transpose(0, 1)

    def _route(self, u: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Class capsules and the last coefficients ``(n_in, B, classes, ·)`` (None: uniform)."""
        batch = u.shape[0]
        # Layout (n_in, B, classes, out_dim), contiguous: every routing op is a plain
        # elementwise pass or a reduction over dim 0, which keeps training fast on a CPU.
        a = torch.bmm(u.transpose(0, 1), self.weight).view(self.n_in, batch, self.n_classes, self.out_dim)
        v = squash(a.sum(0) / self.n_classes)  # uniform first coefficients: (B, classes, out)
        c = b = None
        for _ in range(self.iterations - 1):
            if self.modified:
                c = torch.softmax(a * v, dim=2)  # per dimension
            else:
                agreement = (a * v).sum(-1, keepdim=True)
                b = agreement if b is None else b + agreement
                c = torch.softmax(b, dim=2)  # (n_in, B, classes, 1)
            v = squash((c * a).sum(0))
        return v, c

    def extra_repr(self) -> str:
        return (f"n_in={self.n_in}, in_dim={self.in_dim}, n_classes={self.n_classes}, out_dim={self.out_dim}, "
                f"iterations={self.iterations}, modified={self.modified}")


def capsule_logits(v: torch.Tensor, *, eps: float = 1e-20) -> torch.Tensor:
    """Logits from class capsules ``(B, classes, dim)``: the log of each capsule's length.

    softmax of these logits is the capsule lengths normalised to sum 1, so the predicted class
    (argmax) is the longest capsule, as in CapsNet.
    """
    return 0.5 * torch.log((v * v).sum(-1) + eps)
