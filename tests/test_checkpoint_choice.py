"""The checkpoint a fit keeps and when it stops early, on scripted validation sequences.

Two levels: the tracker itself (``fit._Selection``: fed history rows by hand, with a model
whose one weight is the epoch number, so the kept weights say which epoch they are), and
the whole ``fit`` loop with ``evaluate`` replaced by a script of (val_loss, val_acc) per
epoch, including an interruption and a resume in the middle.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from serkit.batching import FeatureSet
from serkit.models import make_loss
from serkit.training import fit as fit_module
from serkit.training.config import TrainingConfig
from serkit.training.fit import _Selection, fit

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def stamped(epoch: int) -> nn.Module:
    """A model whose only weight holds ``epoch``: the kept state names its epoch."""
    model = nn.Linear(1, 1, bias=False)
    with torch.no_grad():
        model.weight.fill_(float(epoch))
    return model


def track(select: str, losses, accs=None, *, patience=None, window=1,
          stop_on="val_loss") -> tuple[_Selection, list[bool]]:
    """Feed one row per epoch; returns the tracker and should_stop() after each epoch."""
    accs = accs if accs is not None else [0.5] * len(losses)
    tracker = _Selection(select, patience, window, stop_on)
    stops = []
    for epoch, (loss, acc) in enumerate(zip(losses, accs), start=1):
        tracker.update({"epoch": epoch, "val_loss": loss, "val_acc": acc}, stamped(epoch))
        stops.append(tracker.should_stop())
    return tracker, stops


def kept_epoch(tracker: _Selection) -> int:
    return int(tracker.best_state["weight"].item())


# ---------------------------------------------------------------------------------------
# which checkpoint is kept


def test_val_loss_keeps_the_epoch_of_lowest_loss_not_the_last_or_the_worst():
    tracker, _ = track("val_loss", [1.0, 0.8, 0.9, 0.7, 0.75, 1.2])
    assert tracker.best_epoch == 4 and kept_epoch(tracker) == 4
    assert tracker.best_score == pytest.approx(0.7)


def test_val_loss_tie_keeps_the_earlier_epoch():
    tracker, _ = track("val_loss", [1.0, 0.6, 0.8, 0.6, 0.6])
    assert tracker.best_epoch == 2 and kept_epoch(tracker) == 2


def test_val_loss_improving_every_epoch_keeps_the_last():
    tracker, _ = track("val_loss", [1.0, 0.9, 0.8, 0.7])
    assert tracker.best_epoch == 4 and kept_epoch(tracker) == 4


def test_val_accuracy_keeps_the_epoch_of_highest_accuracy_whatever_the_loss():
    # The loss is lowest at epoch 1 and highest at epoch 3, where the accuracy peaks.
    tracker, _ = track("val_accuracy", [0.1, 0.5, 2.0, 0.6], [0.40, 0.55, 0.80, 0.70])
    assert tracker.best_epoch == 3 and kept_epoch(tracker) == 3
    assert tracker.best_score == pytest.approx(-0.80)


def test_val_accuracy_tie_keeps_the_earlier_epoch():
    tracker, _ = track("val_accuracy", [1.0, 0.9, 0.8, 0.7], [0.5, 0.75, 0.75, 0.6])
    assert tracker.best_epoch == 2 and kept_epoch(tracker) == 2


def test_last_keeps_the_last_epoch_even_when_it_is_the_worst():
    tracker, _ = track("last", [0.2, 0.3, 5.0], [0.9, 0.8, 0.1])
    assert tracker.best_epoch == 3 and kept_epoch(tracker) == 3


def test_the_kept_state_is_a_copy_not_the_live_weights():
    tracker = _Selection("val_loss", None)
    model = stamped(1)
    tracker.update({"epoch": 1, "val_loss": 0.5, "val_acc": 0.5}, model)
    with torch.no_grad():
        model.weight.fill_(99.0)
    assert kept_epoch(tracker) == 1


def test_the_history_holds_every_row_in_order():
    tracker, _ = track("val_loss", [1.0, 0.5, 0.7])
    assert [row["epoch"] for row in tracker.history] == [1, 2, 3]
    assert [row["val_loss"] for row in tracker.history] == [1.0, 0.5, 0.7]


def test_without_validation_scores_nothing_is_chosen_and_patience_still_counts():
    # No validation side: val_loss and val_acc are NaN; no epoch beats "nothing yet", so
    # fit keeps the last weights (best_state None, best_epoch 0), and patience counts
    # every epoch as one without improvement.
    nan = float("nan")
    tracker, stops = track("val_loss", [nan, nan, nan], [nan, nan, nan], patience=2)
    assert tracker.best_epoch == 0 and tracker.best_state is None
    assert stops == [False, True, True]
    fresh = _Selection("val_loss", 2)
    assert (fresh.best_epoch, fresh.since_improved, fresh.best_state) == (0, 0, None)


# ---------------------------------------------------------------------------------------
# early stopping: patience counted exactly


@pytest.mark.parametrize("patience", [1, 2, 3, 5])
def test_stops_after_exactly_patience_epochs_without_improvement(patience):
    # Best at epoch 2, then only worse epochs: the stop comes after epoch 2 + patience.
    losses = [1.0, 0.5] + [0.6 + 0.01 * i for i in range(patience + 3)]
    _, stops = track("val_loss", losses, patience=patience)
    assert stops.index(True) + 1 == 2 + patience
    assert not any(stops[:1 + patience])


def test_an_improvement_resets_the_patience_count():
    # Patience 2: epoch 3 is worse, epoch 4 improves, epochs 5 and 6 are worse -> stop at 6.
    _, stops = track("val_loss", [1.0, 0.9, 0.95, 0.85, 0.9, 0.91, 0.92], patience=2)
    assert stops == [False, False, False, False, False, True, True]


def test_an_equal_loss_is_not_an_improvement_for_early_stopping():
    _, stops = track("val_loss", [1.0, 1.0, 1.0], patience=2)
    assert stops == [False, False, True]


def test_without_patience_it_never_stops():
    _, stops = track("val_loss", [float(i) for i in range(1, 30)], patience=None)
    assert not any(stops)


def test_early_stopping_watches_the_loss_even_when_accuracy_chooses():
    # Accuracy keeps improving but the loss does not: patience 2 stops after epoch 3.
    tracker, stops = track("val_accuracy", [0.5, 0.6, 0.7, 0.8], [0.5, 0.6, 0.7, 0.8], patience=2)
    assert stops == [False, False, True, True]
    assert tracker.best_epoch == 4
    # And the loss improving keeps it going while accuracy stalls.
    _, stops = track("val_accuracy", [0.9, 0.8, 0.7, 0.6], [0.5, 0.5, 0.5, 0.5], patience=2)
    assert not any(stops)


def test_patience_counts_from_the_best_loss_not_from_the_first_epoch():
    tracker, stops = track("last", [3.0, 2.0, 1.0, 1.5, 1.4], patience=2)
    assert tracker.best_loss == 1.0 and tracker.since_improved == 2
    assert stops == [False, False, False, False, True]


# ---------------------------------------------------------------------------------------
# a window of epochs


def test_a_window_of_three_passes_over_a_lucky_epoch_for_a_good_stretch():
    # Epoch 2 alone is best (0.9), between two bad ones; epochs 4-6 are good together.
    accs = [0.3, 0.9, 0.3, 0.6, 0.65, 0.7, 0.6]
    alone, _ = track("val_accuracy", [1.0] * 7, accs)
    assert alone.best_epoch == 2
    windowed, _ = track("val_accuracy", [1.0] * 7, accs, window=3)
    windowed.finish()
    # Means: e1 (.3+.9)/2 = .6, e2 .5, e3 .6, e4 .517, e5 .65, e6 .65, e7 (.7+.6)/2 = .65:
    # the earliest of the best, with its own weights.
    assert windowed.best_epoch == 5 and kept_epoch(windowed) == 5
    assert windowed.best_score == pytest.approx(-0.65)


def test_a_window_of_five_averages_two_epochs_either_side():
    accs = [0.5, 0.5, 0.9, 0.5, 0.5, 0.7, 0.7, 0.7, 0.4, 0.4]
    tracker, _ = track("val_accuracy", [1.0] * 10, accs, window=5)
    tracker.finish()
    assert tracker.best_epoch == 5  # (.9+.5+.5+.7+.7)/5 = .66; epoch 7's five: .6
    assert tracker.best_score == pytest.approx(-0.66)
    three, _ = track("val_accuracy", [1.0] * 10, accs, window=3)
    three.finish()
    assert three.best_epoch == 7  # (.7+.7+.7)/3; epoch 5's three: .567


def test_the_last_epochs_wait_for_finish_and_are_judged_on_a_shorter_window():
    tracker, _ = track("val_accuracy", [1.0] * 5, [0.1, 0.2, 0.3, 0.4, 0.9], window=3)
    assert tracker.best_epoch == 4 and [e for e, _ in tracker.pending] == [5]  # 5's window not complete
    tracker.finish()
    assert tracker.best_epoch == 5 and kept_epoch(tracker) == 5  # (.4 + .9) / 2
    assert tracker.pending == []


def test_a_window_smooths_the_validation_loss_too():
    tracker, _ = track("val_loss", [1.0, 0.2, 1.0, 0.5, 0.45, 0.5, 0.9], window=3)
    tracker.finish()
    assert tracker.best_epoch == 5  # (.5 + .45 + .5) / 3, not epoch 2's lone 0.2


def test_early_stopping_is_not_delayed_by_the_window():
    losses = [1.0, 0.8, 0.9, 0.9, 0.9]
    _, plain = track("val_accuracy", losses, patience=3)
    _, windowed = track("val_accuracy", losses, patience=3, window=5)
    assert windowed == plain == [False, False, False, False, True]


# ---------------------------------------------------------------------------------------
# resume in the middle


@pytest.mark.parametrize("cut", [1, 2, 4, 6])
def test_a_windowed_tracker_saved_and_loaded_in_the_middle_makes_the_same_choice(cut):
    accs = [0.3, 0.9, 0.3, 0.6, 0.65, 0.7, 0.6, 0.62]
    losses = [1.0] * len(accs)
    whole, _ = track("val_accuracy", losses, accs, window=3)
    whole.finish()
    first = _Selection("val_accuracy", None, 3)
    for epoch in range(1, cut + 1):
        first.update({"epoch": epoch, "val_loss": 1.0, "val_acc": accs[epoch - 1]}, stamped(epoch))
    resumed = _Selection("val_accuracy", None, 3)
    resumed.load(first.state())
    for epoch in range(cut + 1, len(accs) + 1):
        resumed.update({"epoch": epoch, "val_loss": 1.0, "val_acc": accs[epoch - 1]}, stamped(epoch))
    resumed.finish()
    assert resumed.best_epoch == whole.best_epoch == 5
    assert kept_epoch(resumed) == 5


@pytest.mark.parametrize("select", ["val_loss", "val_accuracy", "last"])
@pytest.mark.parametrize("cut", [1, 3, 5])
def test_a_tracker_saved_and_loaded_in_the_middle_makes_the_same_choice(select, cut):
    losses = [1.0, 0.7, 0.8, 0.65, 0.9, 0.66, 0.64, 0.7]
    accs = [0.3, 0.6, 0.5, 0.7, 0.4, 0.7, 0.65, 0.8]
    whole, whole_stops = track(select, losses, accs, patience=3)

    first = _Selection(select, 3)
    for epoch in range(1, cut + 1):
        first.update({"epoch": epoch, "val_loss": losses[epoch - 1], "val_acc": accs[epoch - 1]}, stamped(epoch))
    saved = first.state()
    first.update({"epoch": 99, "val_loss": -1.0, "val_acc": 1.0}, stamped(99))  # must not leak into `saved`

    resumed = _Selection(select, 3)
    resumed.load(saved)
    stops = []
    for epoch in range(cut + 1, len(losses) + 1):
        resumed.update({"epoch": epoch, "val_loss": losses[epoch - 1], "val_acc": accs[epoch - 1]}, stamped(epoch))
        stops.append(resumed.should_stop())
    assert resumed.best_epoch == whole.best_epoch
    assert kept_epoch(resumed) == kept_epoch(whole)
    assert resumed.since_improved == whole.since_improved
    assert stops == whole_stops[cut:]
    assert [r["epoch"] for r in resumed.history] == list(range(1, len(losses) + 1))


# ---------------------------------------------------------------------------------------
# the whole fit loop, with validation scripted


def vectors(n: int = 8) -> FeatureSet:
    rng = np.random.default_rng(0)
    return FeatureSet(rng.standard_normal((n, 3)).astype(np.float32), (np.arange(n) % 2).astype(np.int64))


class Script:
    """Stands in for fit.evaluate: returns the next (loss, acc) of the script; can raise
    at one call to interrupt the fit there."""

    def __init__(self, rows, *, interrupt_at: int | None = None):
        self.rows, self.calls, self.interrupt_at = list(rows), 0, interrupt_at

    def __call__(self, *args, **kwargs):
        self.calls += 1
        if self.calls == self.interrupt_at:
            raise KeyboardInterrupt("scripted interruption")
        return self.rows.pop(0)


class Linear(nn.Linear):
    """A linear model with the models' ``forward(x, lengths=None)``."""

    def forward(self, x, lengths=None):
        return super().forward(x)


def scripted_fit(monkeypatch, script, *, state_path=None, **settings):
    monkeypatch.setattr(fit_module, "evaluate", script)
    torch.manual_seed(0)
    model = Linear(3, 2)
    settings = {"epochs": 10, "batch_size": 4, **settings}
    return fit(model, vectors(), vectors(), loss_fn=make_loss("cross_entropy"),
               settings=TrainingConfig(**settings), seed=0, state_path=state_path, progress=False)


LOSSES = [1.0, 0.8, 0.85, 0.7, 0.75, 0.72, 0.9, 0.95, 0.96, 0.97]
ACCS = [0.4, 0.5, 0.6, 0.55, 0.8, 0.7, 0.6, 0.6, 0.6, 0.6]


def test_fit_stops_after_patience_epochs_and_keeps_the_best_loss_epoch(monkeypatch):
    result = scripted_fit(monkeypatch, Script(zip(LOSSES, ACCS)), early_stopping_patience=3)
    assert [int(r["epoch"]) for r in result.history] == [1, 2, 3, 4, 5, 6, 7]
    assert result.best_epoch == 4


def test_fit_stopping_on_the_selection_runs_until_the_kept_epoch_is_patience_old(monkeypatch):
    # On the loss it stops at 7 (lowest at 4); the accuracy's best is epoch 5, so at 8.
    result = scripted_fit(monkeypatch, Script(zip(LOSSES, ACCS)), early_stopping_patience=3,
                          select="val_accuracy", early_stopping_on="selection")
    assert len(result.history) == 8 and result.best_epoch == 5


def test_an_early_stop_counts_its_last_epoch_in_the_progress_line(monkeypatch, capsys):
    monkeypatch.setattr(fit_module, "evaluate", Script(zip(LOSSES, ACCS)))
    torch.manual_seed(0)
    fit(Linear(3, 2), vectors(), vectors(), loss_fn=make_loss("cross_entropy"),
        settings=TrainingConfig(epochs=10, batch_size=4, early_stopping_patience=3), seed=0, desc="fold epochs")
    assert capsys.readouterr().err.splitlines()[-1].startswith("fold epochs: 7/10 (70%) in ")


def test_fit_under_val_accuracy_keeps_the_most_accurate_epoch(monkeypatch):
    result = scripted_fit(monkeypatch, Script(zip(LOSSES, ACCS)), select="val_accuracy")
    assert len(result.history) == 10 and result.best_epoch == 5


def test_fit_with_a_window_keeps_the_centre_of_the_best_stretch(monkeypatch):
    # ACCS alone peak at epoch 5 (0.8); over 3 epochs epoch 6 (.8 + .7 + .6) / 3 = .7 beats 5 (.683).
    result = scripted_fit(monkeypatch, Script(zip(LOSSES, ACCS)), select="val_accuracy", select_window=3)
    assert len(result.history) == 10 and result.best_epoch == 6


def test_fit_judges_its_last_epochs_when_training_ends(monkeypatch):
    rows = zip([1.0] * 6, [0.1, 0.2, 0.3, 0.4, 0.5, 0.9])
    result = scripted_fit(monkeypatch, Script(rows), select="val_accuracy", select_window=3, epochs=6)
    assert result.best_epoch == 6  # (.5 + .9) / 2 = .7 beats epoch 5's (.4 + .5 + .9) / 3 = .6


def test_fit_under_last_keeps_the_final_weights(monkeypatch):
    result = scripted_fit(monkeypatch, Script(zip(LOSSES, ACCS)), select="last", epochs=6)
    assert result.best_epoch == 6


def test_fit_without_patience_runs_every_epoch(monkeypatch):
    result = scripted_fit(monkeypatch, Script(zip(LOSSES, ACCS)))
    assert len(result.history) == 10 and result.best_epoch == 4


@pytest.mark.parametrize("select,window", [("val_loss", 1), ("val_accuracy", 1), ("val_accuracy", 3)])
def test_fit_interrupted_in_the_middle_resumes_to_the_same_choice(monkeypatch, tmp_path, select, window):
    rows = list(zip(LOSSES, ACCS))
    whole = scripted_fit(monkeypatch, Script(rows), select=select, early_stopping_patience=3,
                         select_window=window)

    state = tmp_path / "training_state.pt"
    with pytest.raises(KeyboardInterrupt):
        scripted_fit(monkeypatch, Script(rows, interrupt_at=5), state_path=state, select=select,
                     early_stopping_patience=3, checkpoint_every=1, select_window=window)
    assert state.exists()
    # The state holds epochs 1-4; the resumed fit is asked about epochs 5 onwards only.
    resumed = scripted_fit(monkeypatch, Script(rows[4:]), state_path=state, select=select,
                           early_stopping_patience=3, checkpoint_every=1, select_window=window)
    assert resumed.best_epoch == whole.best_epoch
    assert [r["epoch"] for r in resumed.history] == [r["epoch"] for r in whole.history]
    assert [r["val_loss"] for r in resumed.history] == [r["val_loss"] for r in whole.history]
    for name, value in whole.best_state.items():
        assert torch.equal(resumed.best_state[name], value)


def test_fit_saves_the_state_when_it_stops_early(monkeypatch, tmp_path):
    state = tmp_path / "training_state.pt"
    scripted_fit(monkeypatch, Script(zip(LOSSES, ACCS)), state_path=state, early_stopping_patience=3,
                 checkpoint_every=100)
    saved = torch.load(state, weights_only=True)
    assert saved["epoch"] == 7 and saved["tracker"]["best_epoch"] == 4
    assert not math.isinf(saved["tracker"]["best_loss"])


def test_early_stopping_on_the_selection_waits_for_the_accuracy_not_the_loss():
    # Validation loss is lowest at epoch 2 and rises after; accuracy climbs until epoch 6.
    losses = [1.0, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.1, 1.2, 1.3]
    accs = [0.40, 0.50, 0.55, 0.60, 0.65, 0.70, 0.68, 0.60, 0.60, 0.60]
    _, on_loss = track("val_accuracy", losses, accs, patience=3)
    assert on_loss.index(True) + 1 == 5  # three epochs after the lowest loss, at epoch 5
    tracker, on_choice = track("val_accuracy", losses, accs, patience=3, stop_on="selection")
    assert on_choice.index(True) + 1 == 9 and tracker.best_epoch == 6  # three epochs after the kept one
    # With a window of 3, an epoch is judged one epoch late: stopping waits for it.
    windowed, stops = track("val_accuracy", losses, accs, patience=3, window=3, stop_on="selection")
    assert stops.index(True) + 1 == 10 and windowed.best_epoch == 6
    # On the validation loss as the choice, it is Keras's rule.
    _, both = track("val_loss", losses, accs, patience=3, stop_on="selection")
    assert both == on_loss


def test_early_stopping_on_must_name_a_watch_that_exists():
    from serkit.errors import ConfigError
    from serkit.training.config import config_from_dict

    base = {"experiment": "x", "data": {"corpora": ["emodb"]}, "features": {"name": "fusion107"},
            "model": {"name": "mlp"}}
    config = config_from_dict({**base, "training": {"select": "val_accuracy", "early_stopping_on": "selection"}})
    assert config.training.early_stopping_on == "selection"
    assert config.to_dict()["training"]["early_stopping_on"] == "selection"
    assert "early_stopping_on" not in config_from_dict(base).to_dict()["training"]  # old runs resume
    with pytest.raises(ConfigError, match="early_stopping_on must be 'val_loss' or 'selection', not 'val_acc'"):
        config_from_dict({**base, "training": {"early_stopping_on": "val_acc"}})
    with pytest.raises(ConfigError, match="early_stopping_on: selection needs select: val_loss or val_accuracy"):
        config_from_dict({**base, "training": {"select": "last", "early_stopping_on": "selection"}})


@pytest.mark.parametrize("select, stop_on", [("val_loss", "val_loss"), ("val_accuracy", "val_loss"),
                                             ("val_accuracy", "selection")])
@pytest.mark.parametrize("window", [1, 3])
def test_replaying_a_history_gives_what_the_fit_did(monkeypatch, select, stop_on, window):
    # benchmarks/stop_rule_replay.py compares the stopping rules by replaying one run's
    # history: the replay must stop and keep exactly where fit does.
    settings = dict(early_stopping_patience=3, select=select, early_stopping_on=stop_on, select_window=window)
    result = scripted_fit(monkeypatch, Script(zip(LOSSES, ACCS)), **settings)
    rows = [{"epoch": e, "val_loss": loss, "val_acc": acc} for e, (loss, acc) in enumerate(zip(LOSSES, ACCS), 1)]
    replayed = fit_module.replay_choice(rows, select=select, patience=3, window=window, stop_on=stop_on, epochs=10)
    assert replayed == (len(result.history), result.best_epoch)


def test_a_replay_that_would_train_past_the_history_has_no_answer():
    rows = [{"epoch": e, "val_loss": loss, "val_acc": acc} for e, (loss, acc) in enumerate(zip(LOSSES, ACCS), 1)]
    # The loss rule stops at 7 on these rows; the selection rule needs an 8th epoch.
    assert fit_module.replay_choice(rows[:7], select="val_accuracy", patience=3, stop_on="val_loss") == (7, 5)
    assert fit_module.replay_choice(rows[:7], select="val_accuracy", patience=3, stop_on="selection") is None
    # A history that trained every epoch the config allows ends the replay there.
    assert fit_module.replay_choice(rows, select="val_accuracy", patience=None, epochs=10) == (10, 5)
    assert fit_module.replay_choice(rows, select="val_accuracy", patience=None, epochs=11) is None
    assert fit_module.replay_choice([], select="val_accuracy", patience=3, epochs=10) is None
