"""The run folder: the one module that knows its layout.

Every producer and reader of runs (runner, search, release, bundling, reports, the CLI,
benchmarks) goes through :class:`RunDir` and :class:`FoldDir`; no other module spells
``seed=<s>`` or parses history.csv. It sits below training, evaluation and inference
(it imports neither torch nor numpy), so all three can use it. Layout::

    <run>/
      config.yaml            the resolved config (a rerun with another config is refused)
      protocol.json          what the report states about the protocol
      seed=<s>/folds.json    the split plan of that seed
      seed=<s>/fold=<k>/     config.yaml, model.pt (state_dict) or model.joblib,
                             scaler.json, calibration.json (with training.calibrate),
                             history.csv, training_state.pt (while it
                             trains), predictions.csv (written last: the fold is finished)
      report.json, report.md, figures/

A run of variants holds one such folder per variant (``<run>/<variant>/``).

Example:
    >>> import tempfile
    >>> run = RunDir(tempfile.mkdtemp())
    >>> run.fold(0, 1).path.relative_to(run.path).as_posix()
    'seed=0/fold=1'
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from serkit.errors import ConfigError
from serkit.fileio import atomic_write_text

CONFIG_FILE = "config.yaml"
PROTOCOL_FILE = "protocol.json"
REPORT_FILE = "report.json"
PREDICTIONS_FILE = "predictions.csv"
HISTORY_FILE = "history.csv"
#: history.csv columns in order; ``selected`` is 1 on the row of the kept checkpoint.
HISTORY_COLUMNS = ("epoch", "train_loss", "train_acc", "val_loss", "val_acc", "wall_s", "selected")
#: Appended when the fit scored the test side every epoch (training.monitor_test), for the
#: report's oracle only; never read by any choice.
MONITOR_COLUMNS = ("test_acc", "test_uar")

_SEED = re.compile(r"^seed=(-?\d+)$")
_FOLD = re.compile(r"^fold=(\d+)$")


def _file(name: str, doc: str) -> property:
    """A property giving the path of file ``name`` in the folder (``self.path``)."""
    return property(lambda self: self.path / name, doc=f"{name}: {doc}")


@dataclass(frozen=True)
class FoldDir:
    """One (seed, fold) folder of a run and the files in it."""

    path: Path
    seed: int
    fold: int

    config = _file(CONFIG_FILE, "the fold's resolved config")
    model_pt = _file("model.pt", "the chosen checkpoint's state_dict (torch models)")
    model_joblib = _file("model.joblib", "the fitted estimator (scikit-learn models)")
    scaler = _file("scaler.json", "the standardizer fitted on the training side")
    calibration = _file("calibration.json", "the softmax temperature fitted on the validation side")
    history = _file(HISTORY_FILE, "one row per epoch (HISTORY_COLUMNS)")
    predictions = _file(PREDICTIONS_FILE, "the test side's predictions, written last")
    training_state = _file("training_state.pt", "the resumable state while the fold trains")

    @property
    def name(self) -> str:
        """``<run folder>/seed=S/fold=F``: the fold named for a log line among other runs'."""
        return f"{self.path.parent.parent.name}/seed={self.seed}/fold={self.fold}"

    @property
    def finished(self) -> bool:
        """predictions.csv is written last, so its presence means the fold is done."""
        return self.predictions.is_file()

    def write_history(self, rows: Sequence[dict], selected_epoch: int) -> None:
        """history.csv: one row per epoch, ``selected`` = 1 on ``selected_epoch``'s row."""
        out = io.StringIO()
        monitored = any(key in row for row in rows for key in MONITOR_COLUMNS)
        columns = list(HISTORY_COLUMNS) + (list(MONITOR_COLUMNS) if monitored else [])
        writer = csv.DictWriter(out, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            writer.writerow({**row, "selected": int(row["epoch"] == selected_epoch)})
        atomic_write_text(self.history, out.getvalue())

    def read_history(self) -> list[dict[str, float]]:
        """The rows of history.csv as floats (missing cells are NaN); [] without a file."""
        return read_history(self.history)

    def selected_row(self, rows: list[dict[str, float]] | None = None) -> dict[str, float] | None:
        """The history row of the kept checkpoint (among ``rows``, history.csv read already);
        None without history.

        Raises:
            ConfigError: history.csv marks no row, or more than one, as selected.
        """
        rows = self.read_history() if rows is None else rows
        if not rows:
            return None
        chosen = [row for row in rows if row.get("selected") == 1]
        if len(chosen) != 1:
            raise ConfigError(f"{self.history}: expected one row with selected = 1, found {len(chosen)}")
        return chosen[0]

    def selected_epoch(self) -> int | None:
        row = self.selected_row()
        return None if row is None else int(row["epoch"])


class RunDir:
    """A run folder (see the module docstring): paths, seeds, folds, histories."""

    def __init__(self, path: str | Path):
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"RunDir({str(self.path)!r})"

    config = _file(CONFIG_FILE, "the resolved config of the run")
    protocol = _file(PROTOCOL_FILE, "what the report states about the protocol")
    report = _file(REPORT_FILE, "the report's numbers")

    def seed_dir(self, seed: int) -> Path:
        return self.path / f"seed={seed}"

    def folds_plan(self, seed: int) -> Path:
        return self.seed_dir(seed) / "folds.json"

    def fold(self, seed: int, fold: int) -> FoldDir:
        return FoldDir(self.seed_dir(seed) / f"fold={fold}", int(seed), int(fold))

    def seeds(self) -> list[int]:
        """The seeds that have a folder, in numeric order."""
        return sorted(int(m.group(1)) for m in _matches(self.path, _SEED))

    def folds(self, seed: int) -> list[FoldDir]:
        """The fold folders of ``seed``, in numeric order."""
        return [self.fold(seed, k) for k in sorted(int(m.group(1)) for m in _matches(self.seed_dir(seed), _FOLD))]

    def all_folds(self) -> Iterator[FoldDir]:
        for seed in self.seeds():
            yield from self.folds(seed)

    def has_folds(self) -> bool:
        return bool(self.seeds())

    def read_protocol(self) -> dict:
        """protocol.json as a dict.

        Raises:
            ConfigError: no such folder, or no protocol.json (a run of variants is named).
        """
        if not self.path.is_dir():
            raise ConfigError(f"run folder {str(self.path)!r} not found; pass a folder `serkit run` wrote")
        if not self.protocol.is_file():
            variants = [v.path.name for v in self.variants()]
            if variants:
                raise ConfigError(f"{self.path} holds a run of variants ({', '.join(variants)}); pass one "
                                  f"of them, e.g. {self.path / variants[0]}")
            raise ConfigError(f"{self.path} is not a run folder (no {PROTOCOL_FILE}); pass a folder "
                              "`serkit run` wrote")
        return json.loads(self.protocol.read_text(encoding="utf-8"))

    def variants(self) -> list[RunDir]:
        """The variant run folders inside a run of variants ([] for a plain run)."""
        if not self.path.is_dir() or self.has_folds():
            return []
        return [RunDir(d) for d in sorted(self.path.iterdir()) if d.is_dir() and (d / PROTOCOL_FILE).is_file()]


def read_history(path: str | Path) -> list[dict[str, float]]:
    """Rows of a history.csv as floats (missing or empty cells NaN); [] if there is none."""
    path = Path(path)
    if not path.is_file():
        return []
    with open(path, newline="", encoding="utf-8") as f:
        return [{key: _float(value) for key, value in row.items()} for row in csv.DictReader(f)]


def _float(cell) -> float:
    try:
        return float(cell)
    except (TypeError, ValueError):
        return math.nan


def _matches(folder: Path, pattern: re.Pattern) -> Iterator[re.Match]:
    if not folder.is_dir():
        return
    for child in folder.iterdir():
        match = pattern.match(child.name)
        if match and child.is_dir():
            yield match


def window_mean(history: list[dict[str, float]], epoch: int, window: int, key: str) -> float:
    """The mean of ``key`` over the history rows within ``window // 2`` epochs of ``epoch``:
    the score ``training.select_window`` judges an epoch by (fewer rows at the ends).

    Example:
        >>> window_mean([{"epoch": e, "val_acc": a} for e, a in [(1, .2), (2, .5), (3, .8)]], 3, 3, "val_acc")
        0.65
    """
    near = [row[key] for row in history if abs(int(row["epoch"]) - epoch) <= window // 2]
    return sum(near) / len(near)
