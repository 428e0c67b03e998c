"""Grid search over any config key, chosen on validation data only (``serkit search``).

The grid maps dotted config keys to lists of values; their Cartesian product gives the
trials. Each trial is an ordinary experiment run (``run_experiment``) into
``OUT/trial=<i>/``; its score is the validation loss (or accuracy) at the checkpoint each
fold selected (the ``selected == 1`` row of its history.csv), averaged over seeds and
folds. Test metrics are tabulated for information but never decide, so the test side of
every fold stays unseen by the choice (as in the CNN–Transformer paper's grid search over
learning rate, dropout and batch size, chosen on validation performance).

Layout of a search folder::

    OUT/
      search.yaml          the searched config with its grid (a rerun with another is refused)
      trial=<i>/           a run folder (see serkit.training.runner) + trial.json when finished
      trials.csv, trials.md   one row per finished trial, rewritten after each trial
      best.yaml            the chosen trial's full config, runnable with ``serkit run``

A trial whose trial.json matches its values and seeds is skipped on rerun; an unfinished
one resumes fold by fold, so an interrupted search resumes where it stopped.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from serkit.errors import ConfigError
from serkit.fileio import atomic_write_text
from serkit.rundir import FoldDir, RunDir, window_mean
from serkit.training.config import (
    SEARCH_SELECT_CHOICES,
    ExperimentConfig,
    config_from_dict,
    set_key,
    without_machine_settings,
)

#: Written into a trial folder once its run and report are complete.
TRIAL_MARKER = "trial.json"
#: What the tables say about how the choice is made (the point of the whole command).
CHOICE_NOTE = ("Chosen on validation data only: the mean validation {metric} at each fold's selected "
               "checkpoint, over seeds and folds. Test columns are for information and never used "
               "for the choice.")

# YAML 1.1 reads 1e-3 (no dot) as a string; learning rates are written that way so often
# that a grid value looking like a number in exponent form is taken as the number.
_EXPONENT_NUMBER = re.compile(r"^[-+]?(\d+\.?\d*|\.\d+)[eE][-+]?\d+$")


@dataclass(frozen=True)
class Trial:
    """One point of the grid: its index (folder ``trial=<index>``), values and config."""

    index: int
    values: dict[str, Any]
    config: ExperimentConfig


@dataclass
class TrialResult:
    trial: Trial
    val_loss: float
    val_accuracy: float
    test_accuracy: float | None
    test_ua: float | None
    #: Repeated runs (seeds) and the checkpoints averaged (seeds × folds).
    runs: int
    fits: int
    wall_s: float

    def score(self, select: str) -> float:
        """Higher is better: validation accuracy, or minus validation loss."""
        return self.val_accuracy if select == "val_accuracy" else -self.val_loss


@dataclass
class SearchResult:
    out_dir: Path
    select: str
    keys: list[str]
    results: list[TrialResult]
    best: TrialResult


# --- the grid ---------------------------------------------------------------------------

def parse_grid_option(item: str) -> tuple[str, list[Any]]:
    """``KEY=V1,V2,...`` → ``(KEY, [V1, V2, ...])``, each value parsed as YAML like ``--set``.

    Example:
        >>> parse_grid_option("training.learning_rate=0.01,1e-3")
        ('training.learning_rate', [0.01, 0.001])
        >>> parse_grid_option("model.params.encoder_units=[256,128],[64]")
        ('model.params.encoder_units', [[256, 128], [64]])
    """
    key, sep, text = item.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"--grid expects KEY=V1,V2,..., e.g. training.learning_rate=0.01,0.001, not {item!r}")
    try:
        values = yaml.safe_load(f"[{text}]")
    except yaml.YAMLError:
        raise ConfigError(f"--grid {key}: cannot read the values {text!r}; separate them with commas") from None
    if not values or any(v is None for v in values):
        raise ConfigError(f"--grid {key}: give at least one value and no empty ones, e.g. {key}=0.1,0.2")
    return key.strip(), [_number_if_exponent(v) for v in values]


def _number_if_exponent(value: Any) -> Any:
    return float(value) if isinstance(value, str) and _EXPONENT_NUMBER.match(value) else value


def with_grid(config: ExperimentConfig, grid: dict[str, list] | None = None, *,
              select: str | None = None, source: str = "--grid") -> ExperimentConfig:
    """``config`` with ``grid`` added to its search grid (a key given again replaces its
    values) and ``select`` replacing its choice metric; validated like any config."""
    raw = config.to_dict()
    search = raw.get("search") or {"grid": {}, "select": "val_loss"}
    search["grid"] = {**search["grid"], **(grid or {})}
    if select is not None:
        search["select"] = select
    raw["search"] = search
    return config_from_dict(raw, source=source)


def make_trials(config: ExperimentConfig) -> list[Trial]:
    """The Cartesian product of the config's grid, each as a config without ``search``."""
    if config.search is None or not config.search.grid:
        raise ConfigError(f"{config.experiment}: nothing to search; give the config a search.grid "
                          "or pass --grid KEY=V1,V2,...")
    keys = list(config.search.grid)
    trials = []
    for index, combo in enumerate(itertools.product(*config.search.grid.values())):
        values = dict(zip(keys, combo))
        raw = config.to_dict()
        del raw["search"]
        raw["experiment"] = f"{config.experiment}/trial={index}"
        for key, value in values.items():
            set_key(raw, key, value)
        trials.append(Trial(index, values, config_from_dict(raw, source=f"trial={index}")))
    return trials


def check_trial(trial: Trial) -> None:
    """Fail before anything trains on a trial that could not be scored (its names, input
    contract and loss were checked when the trial's config was built)."""
    from serkit.models import is_sklearn

    config = trial.config
    if is_sklearn(config.model.name):
        raise ConfigError(
            f"trial={trial.index} ({describe(trial.values)}): scikit-learn model {config.model.name!r} "
            "writes no per-epoch validation history, and the search chooses on validation scores "
            "only; search a torch model")


def describe(values: dict[str, Any]) -> str:
    return ", ".join(f"{k}={_cell(v)}" for k, v in values.items())


# --- running ----------------------------------------------------------------------------

def run_search(
    config: ExperimentConfig,
    *,
    out_dir: str | Path | None = None,
    data_root: str | Path | None = None,
    progress: bool = True,
    echo: Callable[[str], None] = print,
    executor=None,
) -> SearchResult:
    """Run every trial of ``config.search`` (skipping finished ones) and choose the best.

    ``echo`` receives one progress line per trial. Writes trials.csv and trials.md after
    each trial and best.yaml at the end. ``executor`` (:mod:`serkit.training.executors`)
    runs the trials side by side, one task each; ``None`` runs them here in turn.
    """
    out = Path(out_dir) if out_dir is not None else Path("runs") / f"{config.experiment}-search"
    trials = make_trials(config)
    for trial in trials:
        check_trial(trial)
    _claim_search_dir(out, config)
    select, keys = config.search.select, list(config.search.grid)
    results: list[TrialResult] = []
    if executor is not None:
        results = executor.run_trials(
            out, trials, data_root=data_root, echo=echo, progress=progress,
            on_result=lambda done: _write_tables(out, config.experiment, select, keys, done, total=len(trials)))
        trials = []  # all run: the loop below has nothing left to do
    for trial in trials:
        finished = _is_finished(out / f"trial={trial.index}", trial)
        state = "finished, skipped" if finished else "running"
        echo(f"[{trial.index + 1}/{len(trials)}] trial={trial.index}: {describe(trial.values)} ({state})")
        results.append(_run_trial(out, trial, data_root=data_root, progress=progress, finished=finished))
        _write_tables(out, config.experiment, select, keys, results, total=len(trials))
    best = choose(results, select)
    _write_best(out, config, best, select)
    return SearchResult(out, select, keys, results, best)


def _run_trial(out: Path, trial: Trial, *, data_root, progress: bool, finished: bool) -> TrialResult:
    from serkit.training.runner import run_experiment

    trial_dir = out / f"trial={trial.index}"
    if finished:
        marker = json.loads((trial_dir / TRIAL_MARKER).read_text())
        report = json.loads((trial_dir / "report.json").read_text())
        wall_s = float(marker["wall_s"])
    else:
        start = time.monotonic()
        report = run_experiment(trial.config, out_dir=trial_dir, data_root=data_root, progress=progress)
        wall_s = time.monotonic() - start
        marker = {"trial": trial.index, "values": _jsonable(trial.values),
                  "seeds": trial.config.seed_list, "wall_s": wall_s}
        atomic_write_text(trial_dir / TRIAL_MARKER, json.dumps(marker, indent=2))
    val_loss, val_accuracy, fits = validation_scores(trial_dir, trial.config.seed_list,
                                                     window=trial.config.training.select_window)
    metrics = report.get("metrics", {})
    return TrialResult(trial, val_loss, val_accuracy, _mean(metrics, "accuracy"),
                       _mean(metrics, "ua") if "ua" in metrics else _mean(metrics, "uar"),
                       runs=len(trial.config.seed_list), fits=fits, wall_s=wall_s)


def _is_finished(trial_dir: Path, trial: Trial) -> bool:
    marker = trial_dir / TRIAL_MARKER
    if not marker.exists() or not (trial_dir / "report.json").exists():
        return False
    saved = json.loads(marker.read_text())
    # More seeds than last time: the trial is extended, its finished folds still skipped.
    return saved.get("values") == _jsonable(trial.values) and saved.get("seeds") == trial.config.seed_list


def _claim_search_dir(out: Path, config: ExperimentConfig) -> None:
    """Record the searched config, or refuse a folder that holds a search of another one."""
    path = out / "search.yaml"
    current = _comparable(config.to_dict())
    if path.exists():
        previous = yaml.safe_load(path.read_text()) or {}
        if _comparable(previous) != current:
            raise ConfigError(f"{out} holds a search of a different config or grid; pass --out to "
                              "start a new search folder, or delete the old one")
    atomic_write_text(path, yaml.safe_dump(config.to_dict(), sort_keys=False))


def _comparable(raw: dict) -> str:
    # More seeds extend every trial, another select only changes the choice, and the thread
    # count is the machine's; anything else (the grid's keys, their order or values) changes
    # what trial=<i> means.
    grid = [[str(k), v] for k, v in ((raw.get("search") or {}).get("grid") or {}).items()]
    raw = without_machine_settings({k: v for k, v in raw.items() if k not in ("seeds", "search")})
    return yaml.safe_dump({"config": raw, "grid": grid}, sort_keys=True)


# --- scoring ----------------------------------------------------------------------------

def validation_scores(run_dir: Path, seeds: list[int], *, window: int = 1) -> tuple[float, float, int]:
    """Mean validation loss and accuracy at each fold's selected checkpoint, and how many
    checkpoints were averaged (seeds × folds). With a ``window`` (``training.select_window``)
    each checkpoint scores what chose it: the mean over the epochs around it."""
    run = RunDir(run_dir)
    losses, accuracies = [], []
    for seed in seeds:
        folds = run.folds(seed)
        if not folds:
            raise ConfigError(f"{run.seed_dir(seed)} has no fold folders; rerun the search to finish it")
        for fold in folds:
            loss, accuracy = _selected_scores(fold, window)
            losses.append(loss)
            accuracies.append(accuracy)
    return math.fsum(losses) / len(losses), math.fsum(accuracies) / len(accuracies), len(losses)


def _selected_scores(fold: FoldDir, window: int = 1) -> tuple[float, float]:
    history = fold.read_history()
    row = fold.selected_row(history)
    if row is None:
        raise ConfigError(f"{fold.history} not found; the search needs each fold's validation history")
    loss, accuracy = (window_mean(history, int(row["epoch"]), window, key) for key in ("val_loss", "val_acc"))
    if math.isnan(loss) or math.isnan(accuracy):
        raise ConfigError(f"{fold.history}: no validation scores, so the search cannot choose on them; "
                          "set protocol.params.val_fraction > 0")
    return loss, accuracy


def choose(results: list[TrialResult], select: str) -> TrialResult:
    """The trial with the best validation score; the first in grid order on a tie."""
    if select not in SEARCH_SELECT_CHOICES:
        raise ConfigError(f"select must be one of {SEARCH_SELECT_CHOICES}, not {select!r}")
    return max(results, key=lambda r: (r.score(select), -r.trial.index))


# --- writing ----------------------------------------------------------------------------

TABLE_COLUMNS = ("val_loss", "val_accuracy", "test_accuracy", "test_ua", "runs", "fits", "wall_s", "chosen")


def trial_rows(keys: list[str], results: list[TrialResult], select: str) -> list[dict[str, Any]]:
    best = choose(results, select)
    rows = []
    for r in results:
        rows.append({"trial": r.trial.index, **{k: _cell(r.trial.values[k]) for k in keys},
                     "val_loss": r.val_loss, "val_accuracy": r.val_accuracy,
                     "test_accuracy": r.test_accuracy, "test_ua": r.test_ua,
                     "runs": r.runs, "fits": r.fits, "wall_s": round(r.wall_s, 1),
                     "chosen": int(r is best)})
    return rows


def trials_markdown(experiment: str, keys: list[str], results: list[TrialResult], select: str,
                    *, total: int | None = None) -> str:
    """The trials table; the chosen row is marked, and the choice rule stated above it."""
    metric = "accuracy" if select == "val_accuracy" else "loss"
    header = ["trial", *keys, "val loss", "val acc %", "test acc % (info)", "test UA % (info)",
              "runs", "fits", "wall s", "chosen"]
    lines = [f"# Grid search: {experiment}", "", CHOICE_NOTE.format(metric=metric), "",
             "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in trial_rows(keys, results, select):
        cells = [str(row["trial"]), *(row[k] for k in keys), f"{row['val_loss']:.4f}",
                 _percent(row["val_accuracy"]), _percent(row["test_accuracy"]), _percent(row["test_ua"]),
                 str(row["runs"]), str(row["fits"]), f"{row['wall_s']:.1f}", "**✓**" if row["chosen"] else ""]
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", _choice_line(results, select, total=len(results) if total is None else total)]
    return "\n".join(lines) + "\n"


def _choice_line(results: list[TrialResult], select: str, *, total: int) -> str:
    best = choose(results, select)
    metric = "accuracy" if select == "val_accuracy" else "loss"
    chosen = "Chosen" if len(results) == total else "Best so far"
    return (f"{len(results)} of {total} trials finished. {chosen}: trial={best.trial.index} "
            f"({describe(best.trial.values)}), mean validation {metric} {_score_text(best, select)}.")


def _write_tables(out: Path, experiment: str, select: str, keys: list[str],
                  results: list[TrialResult], *, total: int) -> None:
    rows = trial_rows(keys, results, select)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=["trial", *keys, *TABLE_COLUMNS])
    writer.writeheader()
    writer.writerows(rows)
    atomic_write_text(out / "trials.csv", buffer.getvalue())
    atomic_write_text(out / "trials.md", trials_markdown(experiment, keys, results, select, total=total))


def best_config(config: ExperimentConfig, best: TrialResult) -> ExperimentConfig:
    """The chosen trial's config, named ``<experiment>-best`` so that running it makes a
    fresh run folder beside the search rather than inside it."""
    raw = best.trial.config.to_dict()
    raw["experiment"] = f"{config.experiment}-best"
    return config_from_dict(raw, source=f"trial={best.trial.index}")


def _write_best(out: Path, config: ExperimentConfig, best: TrialResult, select: str) -> None:
    metric = "accuracy" if select == "val_accuracy" else "loss"
    header = (f"# Chosen by `serkit search` on validation data only: trial={best.trial.index} of {out}\n"
              f"# {describe(best.trial.values)}; mean validation {metric} {_score_text(best, select)}\n"
              f"# Run it with: serkit run {out / 'best.yaml'}\n")
    body = yaml.safe_dump(best_config(config, best).to_dict(), sort_keys=False)
    atomic_write_text(out / "best.yaml", header + body)


# --- small helpers ----------------------------------------------------------------------

def _mean(metrics: dict, name: str) -> float | None:
    value = metrics.get(name)
    return None if value is None else float(value["mean"])


def _score_text(result: TrialResult, select: str) -> str:
    return _percent(result.val_accuracy) + " %" if select == "val_accuracy" else f"{result.val_loss:.4f}"


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.2f}"


def _cell(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _jsonable(values: dict[str, Any]) -> dict[str, Any]:
    return json.loads(json.dumps(values, default=str))
