"""The fit/predict loop for torch models: checkpoint choice on validation, resumable.

Hooks a config turns on (serkit.training.config.TrainingConfig): a learning-rate
schedule (``scheduler``), a random window of each input drawn anew every epoch
(``random_crop``), mixed precision (``mixed_precision``), a clip of the gradients' norm
(``grad_clip``) and the device (``device``).
Every epoch's wall time is in the history.
"""

from __future__ import annotations

import copy
import io
import logging
import math
import time
from contextlib import nullcontext
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from serkit.evaluation.metrics import classification_metrics
from serkit.fileio import atomic_write_bytes
from serkit.progress import progress_bar
from serkit.rundir import window_mean
from serkit.training import distributed
from serkit.training.config import TrainingConfig
from serkit.training.schedule import make_scheduler
from serkit.batching import FeatureSet

log = logging.getLogger(__name__)

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


@dataclass
class FitResult:
    best_state: dict[str, torch.Tensor]
    best_epoch: int
    history: list[dict[str, float]] = field(default_factory=list)


def make_optimizer(model: nn.Module, settings: TrainingConfig) -> torch.optim.Optimizer:
    params = model.parameters()
    if settings.optimizer == "sgd":
        return torch.optim.SGD(params, lr=settings.learning_rate, momentum=settings.momentum,
                               weight_decay=settings.weight_decay)
    if settings.optimizer == "adamw":
        return torch.optim.AdamW(params, lr=settings.learning_rate, weight_decay=settings.weight_decay)
    return torch.optim.Adam(params, lr=settings.learning_rate, weight_decay=settings.weight_decay)


def fit(
    model: nn.Module,
    train: FeatureSet,
    val: FeatureSet | None,
    *,
    loss_fn: LossFn,
    settings: TrainingConfig,
    seed: int,
    state_path: Path | None = None,
    progress: bool = True,
    monitor: FeatureSet | None = None,
    desc: str = "epochs",
) -> FitResult:
    """Train ``model``; return the checkpoint chosen on validation data (or the last one).

    Every ``settings.checkpoint_every`` epochs the whole training state (weights,
    optimizer, RNGs, history) is written to ``state_path``, so an interrupted fit resumes
    from there and ends with the same weights as an uninterrupted one.

    In a group of processes (``--nproc``, torchrun: :mod:`serkit.training.distributed`)
    rank 0 sends its inputs to the other ranks, which train along on their share of each
    batch; only rank 0 writes ``state_path``.

    ``monitor`` (the test side, with ``training.monitor_test``) is scored after every epoch
    into the history's ``test_acc`` and ``test_uar``, after the checkpoint choice has seen
    the row's validation numbers and without touching any RNG: it changes nothing else.
    ``desc`` names the epochs' progress display.
    """
    shard = distributed.current()
    distributed.announce(shard, fit, model=model, train=train, val=val, loss_fn=loss_fn, settings=settings,
                         seed=seed, state_path=state_path)
    device = torch.device(settings.device)
    model.to(device)
    optimizer = make_optimizer(model, settings)
    scheduler = (make_scheduler(settings.scheduler.name, optimizer, **settings.scheduler.params)
                 if settings.scheduler is not None else None)
    precision = _Precision(settings.mixed_precision, device, settings.grad_clip)
    shuffle = torch.Generator().manual_seed(seed)
    tracker = _Selection(settings.select, settings.early_stopping_patience, settings.select_window,
                         settings.early_stopping_on)
    state = _TrainingState(model, optimizer, scheduler, precision.scaler, shuffle, tracker, shard)
    net = distributed.wrap(shard, model)  # what trains: DDP around the model in a group
    start = state.resume(state_path)
    if settings.group_by_length:  # their scores do not depend on the order: sort once, pad little
        val = val.by_length()[0] if val is not None else None
        monitor = monitor.by_length()[0] if monitor is not None else None
    # Counted by hand, not by iterating the bar: an early stop breaks out of the loop after
    # its last epoch, which the bar's iterator would not have counted yet.
    with progress_bar(total=settings.epochs, desc=desc, leave=False, enabled=progress, initial=start) as bar:
        for epoch in range(start, settings.epochs):
            began = time.perf_counter()
            # The crop windows of an epoch come from the seed and the epoch alone, so a
            # resumed fit draws the same ones.
            crop_rng = np.random.default_rng([seed % 2**32, epoch]) if settings.random_crop else None
            train_loss, train_acc = _train_epoch(net, train, optimizer, loss_fn, settings, shuffle, device,
                                                 precision, crop_rng, shard)
            if scheduler is not None:
                scheduler.step()
            _recalibrate(model, train, settings, seed=seed, epoch=epoch, device=device)
            row = {"epoch": epoch + 1, "train_loss": train_loss, "train_acc": train_acc,
                   "val_loss": math.nan, "val_acc": math.nan}
            if val is not None and len(val):
                row["val_loss"], row["val_acc"] = _validate(model, val, loss_fn, settings.batch_size, device, shard)
            row["wall_s"] = time.perf_counter() - began
            tracker.update(row, model)
            if monitor is not None and len(monitor):
                row["test_acc"], row["test_uar"] = _monitor_scores(model, monitor, settings.batch_size, device)
            bar.set_postfix(loss=f"{train_loss:.3f}", val_acc=f"{row['val_acc']:.3f}")
            bar.update(1)
            done = tracker.should_stop() or epoch + 1 == settings.epochs
            if state_path is not None and ((epoch + 1) % settings.checkpoint_every == 0 or done):
                state.save(state_path, epoch + 1)
            if tracker.should_stop():
                log.info("early stop after epoch %d (best epoch %d)", epoch + 1, tracker.best_epoch)
                break
    tracker.finish()
    return FitResult(tracker.best_state or _copy_state(model), tracker.best_epoch, tracker.history)


def _train_epoch(model, data, optimizer, loss_fn, settings, generator, device, precision,
                 crop_rng, shard=None) -> tuple[float, float]:
    model.train()
    inner = getattr(model, "module", model)  # the model itself under DDP
    total_loss, correct = 0.0, 0
    batches = distributed.batches(shard, data, settings.batch_size, generator=generator,
                                  crop=settings.random_crop, crop_rng=crop_rng,
                                  group_by_length=settings.group_by_length)
    for x, lengths, y, weight in batches:
        x, y = x.to(device), y.to(device)
        optimizer.zero_grad(set_to_none=True)
        with precision.autocast():
            logits = model(x, _to(lengths, device))
            loss = loss_fn(logits, y)
            # Models with an extra training objective (the autoencoder's reconstruction) expose it.
            auxiliary = getattr(inner, "auxiliary_loss", None)
            if auxiliary is not None:
                loss = loss + auxiliary
        # A rank's share of the batch's mean gradient (DDP averages over ranks); 1 alone.
        precision.step(loss if weight == 1.0 else loss * weight, optimizer)
        if weight:  # a borrowed row (a batch smaller than the group) is not counted
            total_loss += loss.item() * len(y)
            correct += (logits.argmax(1) == y).sum().item()
    total_loss, correct = distributed.summed(shard, total_loss, correct)
    return total_loss / len(data), correct / len(data)


def _recalibrate(model, data: FeatureSet, settings, *, seed: int, epoch: int, device) -> None:
    """Let a model re-estimate statistics on training batches after an epoch, where it can
    (the CNN–Transformer's BatchNorm, see its ``recalibrate``). The batches are drawn from a
    generator of their own, seeded by the seed and the epoch, so resuming changes nothing."""
    recalibrate = getattr(model, "recalibrate", None)
    if recalibrate is None:
        return
    generator = torch.Generator().manual_seed(seed * 100_003 + epoch)
    recalibrate((x.to(device), _to(lengths, device))
                for x, lengths, _ in data.batches(settings.batch_size, generator=generator))


def _validate(model, val: FeatureSet, loss_fn: LossFn, batch_size: int, device, shard) -> tuple[float, float]:
    """evaluate() on the whole validation side: in a group, each rank scores its share and
    the sums are added, so every rank sees the same numbers."""
    if shard is None:
        return evaluate(model, val, loss_fn, batch_size, device)
    part = distributed.validation_part(shard, val)
    loss, accuracy = evaluate(model, part, loss_fn, batch_size, device) if len(part) else (0.0, 0.0)
    total_loss, correct = distributed.summed(shard, loss * len(part), accuracy * len(part))
    return total_loss / len(val), correct / len(val)


@torch.no_grad()
def evaluate(model, data: FeatureSet, loss_fn: LossFn, batch_size: int, device) -> tuple[float, float]:
    """Mean loss and accuracy of ``model`` on ``data``."""
    model.eval()
    total_loss, correct = 0.0, 0
    for x, lengths, y in data.batches(batch_size):
        logits = model(x.to(device), _to(lengths, device))
        total_loss += loss_fn(logits, y.to(device)).item() * len(y)
        correct += (logits.argmax(1).cpu() == y).sum().item()
    return total_loss / len(data), correct / len(data)


@torch.no_grad()
def _monitor_scores(model, data: FeatureSet, batch_size: int, device) -> tuple[float, float]:
    """Accuracy and unweighted average recall (over the classes present) on ``data``."""
    predicted = predict_proba(model, data, batch_size=batch_size, device=str(device)).argmax(1)
    scores = classification_metrics(data.targets, predicted)
    return scores["accuracy"], scores["uar"]


@torch.no_grad()
def predict_proba(model: nn.Module, data: FeatureSet, *, batch_size: int = 256, device: str = "cpu",
                  by_length: bool = False) -> np.ndarray:
    """Class probabilities ``(n, classes)`` in the order of ``data``; ``by_length`` batches
    the items in order of length (less padding), then puts the rows back in place."""
    model.eval()
    model.to(device)
    data, order = data.by_length() if by_length else (data, None)
    parts = [torch.softmax(model(x.to(device), _to(lengths, device)), dim=1).cpu()
             for x, lengths, _ in data.batches(batch_size)]
    sorted_rows = torch.cat(parts).numpy().astype(np.float64)
    if order is None:
        return sorted_rows
    rows = np.empty_like(sorted_rows)
    rows[order] = sorted_rows
    return rows


def _to(tensor, device):
    return None if tensor is None else tensor.to(device)


def _copy_state(model: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}


class _Selection:
    """Tracks the history and the checkpoint to keep: best on validation, or the last.

    With a ``window`` of w epochs (odd), an epoch's validation score is the mean over the
    epochs within w // 2 of it (fewer at the ends of training), so that one lucky epoch
    of a noisy validation side does not decide. An epoch is judged once the epochs after
    it in its window are known; until then its weights wait in ``pending``.

    Early stopping (``patience``) watches the validation loss, or with ``stop_on=
    "selection"`` the choice: it stops once ``patience`` epochs have been judged since the
    kept one.
    """

    def __init__(self, select: str, patience: int | None, window: int = 1, stop_on: str = "val_loss"):
        self.select, self.patience, self.window, self.stop_on = select, patience, window, stop_on
        self.history: list[dict[str, float]] = []
        self.pending: list[tuple[int, dict[str, torch.Tensor]]] = []
        self.best_state: dict[str, torch.Tensor] | None = None
        self.best_epoch = 0
        self.best_score = math.inf
        self.best_loss = math.inf
        self.since_improved = 0

    def update(self, row: dict[str, float], model: nn.Module) -> None:
        self.history.append(row)
        epoch = int(row["epoch"])
        if self.select == "last":
            self.best_epoch, self.best_state = epoch, _copy_state(model)
        elif self.window == 1:  # judged at once: the weights are copied only if they are kept
            self._judge(epoch, lambda: _copy_state(model))
        else:
            self.pending.append((epoch, _copy_state(model)))
            if len(self.pending) > self.window // 2:  # the oldest one's window is complete
                self._judge_pending()
        # Early stopping on the validation loss (as Keras and the papers do), unless it
        # watches the choice (should_stop).
        if row["val_loss"] < self.best_loss:
            self.best_loss, self.since_improved = row["val_loss"], 0
        else:
            self.since_improved += 1

    def finish(self) -> None:
        """Judge the epochs still waiting (the last ones: their windows end with training)."""
        while self.pending:
            self._judge_pending()

    def _judge_pending(self) -> None:
        epoch, state = self.pending.pop(0)
        self._judge(epoch, lambda: state)

    def _judge(self, epoch: int, state: Callable[[], dict[str, torch.Tensor]]) -> None:
        """Keep ``epoch`` (its weights from ``state()``) if its score beats the best so far."""
        score = self._score(epoch)
        if score < self.best_score:
            self.best_score, self.best_epoch, self.best_state = score, epoch, state()

    def _score(self, epoch: int) -> float:
        """Lower is better: the validation loss, or minus the accuracy, averaged over the window."""
        if self.select == "val_loss":
            return window_mean(self.history, epoch, self.window, "val_loss")
        return -window_mean(self.history, epoch, self.window, "val_acc")

    def should_stop(self) -> bool:
        if self.patience is None:
            return False
        if self.stop_on == "selection":
            judged = len(self.history) - len(self.pending)  # the epochs whose windows are complete
            return judged - self.best_epoch >= self.patience
        return self.since_improved >= self.patience

    def state(self) -> dict:
        return {k: copy.deepcopy(v) for k, v in vars(self).items()}

    def load(self, state: dict) -> None:
        vars(self).update(state)


def replay_choice(history: list[dict[str, float]], *, select: str, patience: int | None, window: int = 1,
                  stop_on: str = "val_loss", epochs: int | None = None) -> tuple[int, int] | None:
    """The epoch a fit would have stopped after and the epoch it would have kept, had it
    chosen by these rules, from a finished fit's history rows.

    A fit is deterministic given its seed and code, and no rule of the choice feeds back
    into training, so a history holds every shorter fit of the same run: replaying it with
    another stopping rule tells exactly what that rule would have done (`benchmarks/
    stop_rule_replay.py`). None when the rule would have trained past the history's last
    epoch (and it ended before ``epochs``): that fit is not in it.
    """
    if not history:  # nothing trained (a scikit-learn fold has no epochs)
        return None
    tracker = _Selection(select, patience, window, stop_on)
    weightless = nn.Module()  # the tracker copies weights; a replay has none
    for row in history:
        tracker.update(row, weightless)
        if tracker.should_stop():
            break
    else:
        if epochs is None or int(history[-1]["epoch"]) < epochs:
            return None
    tracker.finish()
    return int(tracker.history[-1]["epoch"]), tracker.best_epoch


class _Precision:
    """Mixed precision, or nothing: bfloat16 autocast on CPU (no loss scaling needed),
    float16 autocast with a gradient scaler on CUDA; and the optional clip of the gradients'
    global norm (``training.grad_clip``), taken on the unscaled gradients."""

    def __init__(self, enabled: bool, device: torch.device, grad_clip: float | None = None):
        self.enabled, self.device_type, self.grad_clip = enabled, device.type, grad_clip
        self.dtype = torch.float16 if device.type == "cuda" else torch.bfloat16
        self.scaler = torch.amp.GradScaler("cuda") if enabled and device.type == "cuda" else None

    def autocast(self):
        if not self.enabled:
            return nullcontext()
        return torch.autocast(device_type=self.device_type, dtype=self.dtype)

    def step(self, loss: torch.Tensor, optimizer: torch.optim.Optimizer) -> None:
        if self.scaler is None:
            loss.backward()
            self._clip(optimizer)
            optimizer.step()
            return
        self.scaler.scale(loss).backward()
        if self.grad_clip is not None:
            self.scaler.unscale_(optimizer)  # clip the true gradients, not the scaled ones
        self._clip(optimizer)
        self.scaler.step(optimizer)
        self.scaler.update()

    def _clip(self, optimizer: torch.optim.Optimizer) -> None:
        if self.grad_clip is not None:
            # clip_grad_norm_ itself skips parameters without a gradient.
            params = [p for group in optimizer.param_groups for p in group["params"]]
            torch.nn.utils.clip_grad_norm_(params, self.grad_clip)


class _TrainingState:
    """Everything a fit needs to resume bit for bit: weights, optimizer, schedule, loss
    scaler, RNGs and the checkpoint tracker. Saved as tensors and plain values only and
    loaded with ``weights_only=True``, so a run folder cannot carry code."""

    def __init__(self, model, optimizer, scheduler, scaler, shuffle, tracker, shard=None):
        self.model, self.optimizer, self.scheduler = model, optimizer, scheduler
        self.scaler, self.shuffle, self.tracker = scaler, shuffle, tracker
        self.shard = shard

    def save(self, path: Path, epoch: int) -> None:
        # In a group every rank takes part (its RNG state is gathered), rank 0 writes.
        rank_rngs = distributed.gathered_rng(self.shard)
        if self.shard is not None and not self.shard.writer:
            return
        state = {"epoch": epoch, "model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(),
                 "shuffle_rng": self.shuffle.get_state(), "torch_rng": torch.get_rng_state(),
                 "tracker": self.tracker.state()}
        if torch.cuda.is_available() and any(p.is_cuda for p in self.model.parameters()):
            state["cuda_rng"] = torch.cuda.get_rng_state()  # dropout on the GPU draws from it
        if self.scheduler is not None:
            state["scheduler"] = self.scheduler.state_dict()
        if self.scaler is not None:
            state["scaler"] = self.scaler.state_dict()
        if rank_rngs is not None:
            state["rank_torch_rng"] = rank_rngs
        buffer = io.BytesIO()
        torch.save(state, buffer)
        atomic_write_bytes(path, buffer.getvalue())

    def resume(self, path: Path | None) -> int:
        """Load the state at ``path`` if there is one; returns the epoch to start from."""
        if path is None or not path.exists():
            return 0
        state = torch.load(path, weights_only=True)
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        if self.scheduler is not None and "scheduler" in state:
            self.scheduler.load_state_dict(state["scheduler"])
        if self.scaler is not None and "scaler" in state:
            self.scaler.load_state_dict(state["scaler"])
        self.shuffle.set_state(state["shuffle_rng"])
        torch.set_rng_state(state["torch_rng"])
        rank_rngs = state.get("rank_torch_rng")
        if self.shard is not None and rank_rngs is not None and len(rank_rngs) == self.shard.world:
            torch.set_rng_state(rank_rngs[self.shard.rank])  # this rank's dropout stream
        if "cuda_rng" in state and torch.cuda.is_available():
            torch.cuda.set_rng_state(state["cuda_rng"])
        self.tracker.load(state["tracker"])
        log.info("resuming %s at epoch %d", path, state["epoch"])
        return int(state["epoch"])
