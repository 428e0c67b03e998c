"""predictions.csv: the only contract between training and evaluation.

Training (paper models, baselines, or predictions made anywhere else) writes one
``predictions.csv`` per run and fold; evaluation reads nothing else.

Layout of a run folder::

    RUN_DIR/
      protocol.json                    optional: {"name", "split", "folds", "seeds", "corpora", "label_scheme"}
      seed=<s>/fold=<k>/predictions.csv
      seed=<s>/fold=<k>/history.csv    optional: epoch,train_loss,train_acc,val_loss,val_acc

Columns of ``predictions.csv``, in this order (a header row names them):

==============  =====================================================================
``utt_id``      utterance id (unique within its corpus); required
``corpus``      corpus name, e.g. ``ravdess``
``seed``        integer seed of the run; a run is one seed
``fold``        integer test fold of that run (0 for a single hold-out split)
``truth``       true class label; required
``prediction``  predicted class label; required
``speaker``     speaker id, prefixed with the corpus (``ravdess-12``)
``gender``      ``female`` | ``male``
``intensity``   e.g. ``normal`` | ``strong``
``language``    ISO 639-1 code, e.g. ``de``
``p_<label>``   one probability column per class, labels in sorted order
==============  =====================================================================

There is one row per utterance and run (seed, fold). An empty cell means unknown; an empty
``seed`` or ``fold`` reads as 0, and columns other than ``utt_id``, ``truth`` and
``prediction`` may be left out altogether (they read as unknown). Unknown extra columns
are ignored, so a file made elsewhere only needs the three required columns. The class
set is the ``p_<label>`` columns when present, otherwise the labels seen in ``truth`` and
``prediction``.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, fields, replace
from pathlib import Path

import numpy as np

from serkit.fileio import atomic_open
from serkit.errors import SerkitError

#: The fixed columns of predictions.csv, in order; ``p_<label>`` columns follow.
PREDICTION_COLUMNS: tuple[str, ...] = (
    "utt_id", "corpus", "seed", "fold", "truth", "prediction",
    "speaker", "gender", "intensity", "language",
)
#: Columns a predictions.csv must have.
REQUIRED_COLUMNS: tuple[str, ...] = ("utt_id", "truth", "prediction")
#: Metadata columns that may be empty (= unknown).
METADATA_COLUMNS: tuple[str, ...] = ("corpus", "speaker", "gender", "intensity", "language")
PROBABILITY_PREFIX = "p_"
FILE_NAME = "predictions.csv"


@dataclass(frozen=True)
class Predictions:
    """The rows of one or more predictions.csv files, column by column.

    String columns are ``(n,)`` object arrays with ``""`` for unknown; ``seed`` and ``fold``
    are ``(n,)`` int arrays; ``probabilities`` is ``(n, len(labels))`` float with NaN for
    empty cells, or None when the files have no ``p_<label>`` columns.
    """

    utt_id: np.ndarray
    corpus: np.ndarray
    seed: np.ndarray
    fold: np.ndarray
    truth: np.ndarray
    prediction: np.ndarray
    speaker: np.ndarray
    gender: np.ndarray
    intensity: np.ndarray
    language: np.ndarray
    probabilities: np.ndarray | None
    labels: tuple[str, ...]
    sources: tuple[Path, ...] = ()

    def __len__(self) -> int:
        return int(self.utt_id.shape[0])

    @property
    def seeds(self) -> list[int]:
        """The distinct seeds (runs), sorted."""
        return sorted({int(s) for s in self.seed})

    def column(self, name: str) -> np.ndarray:
        """One column by name, e.g. ``"gender"``."""
        if name not in PREDICTION_COLUMNS:
            raise SerkitError(f"predictions have columns {', '.join(PREDICTION_COLUMNS)}, not {name!r}")
        return getattr(self, name)

    def select(self, mask: np.ndarray) -> Predictions:
        """The rows where the boolean ``mask`` of shape ``(n,)`` is true."""
        mask = np.asarray(mask, dtype=bool)
        changes = {f.name: getattr(self, f.name)[mask] for f in fields(self)
                   if isinstance(getattr(self, f.name), np.ndarray)}
        return replace(self, **changes)


def atomic_write(path: str | Path, write: Callable[[io.TextIOBase], None]) -> Path:
    """Write a text file via a temporary file in the same folder and ``os.replace``.

    A reader never sees a half-written file, and a failed write leaves no temporary file.
    """
    path = Path(path)
    with atomic_open(path, "w", encoding="utf-8", newline="") as handle:
        write(handle)
    return path


def write_predictions(path: str | Path, rows: Iterable[Mapping], labels: Sequence[str]) -> Path:
    """Write rows of predictions to ``path`` atomically, in the column order of the contract.

    Args:
        path: the ``predictions.csv`` to write (folders are created).
        rows: mappings with keys from :data:`PREDICTION_COLUMNS` (missing or None = unknown)
            and optionally ``probabilities``: either a mapping label → probability or a
            sequence aligned with ``labels`` as given; ``p_<label>`` keys work too.
        labels: the class labels; the ``p_<label>`` columns are written in sorted order.

    Returns:
        The path written.

    Raises:
        SerkitError: a row without utt_id/truth/prediction, or a label not in ``labels``.

    Example:
        >>> write_predictions(tmp / "predictions.csv",
        ...     [{"utt_id": "a", "seed": 0, "fold": 0, "truth": "anger", "prediction": "anger",
        ...       "probabilities": [0.9, 0.1]}], labels=["anger", "sadness"])  # doctest: +SKIP
    """
    given = [str(label) for label in labels]
    if len(set(given)) != len(given) or not given:
        raise SerkitError(f"labels must be a non-empty list of distinct class names, not {given!r}")
    ordered = sorted(given)
    header = list(PREDICTION_COLUMNS) + [PROBABILITY_PREFIX + label for label in ordered]
    lines = [_row_cells(row, given, ordered, n) for n, row in enumerate(rows)]

    def write(handle):
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(lines)

    return atomic_write(path, write)


def _row_cells(row: Mapping, given: list[str], ordered: list[str], n: int) -> list[str]:
    for key in REQUIRED_COLUMNS:
        if row.get(key) in (None, ""):
            raise SerkitError(f"prediction row {n} needs a value for {key!r}, got {row.get(key)!r}")
    for key in ("truth", "prediction"):
        if str(row[key]) not in given:
            raise SerkitError(f"prediction row {n}: {key} {row[key]!r} is not one of the labels {given}")
    cells = ["" if row.get(key) is None else str(row[key]) for key in PREDICTION_COLUMNS]
    probs = _row_probabilities(row, given, n)
    return cells + ["" if probs.get(label) is None else repr(float(probs[label])) for label in ordered]


def _row_probabilities(row: Mapping, given: list[str], n: int) -> dict:
    probs = row.get("probabilities")
    if probs is None:
        return {label: row.get(PROBABILITY_PREFIX + label) for label in given}
    if isinstance(probs, Mapping):
        unknown = set(map(str, probs)) - set(given)
        if unknown:
            raise SerkitError(f"prediction row {n}: probabilities for unknown labels {sorted(unknown)}")
        return {str(k): v for k, v in probs.items()}
    probs = list(np.asarray(probs, dtype=float).reshape(-1))
    if len(probs) != len(given):
        raise SerkitError(f"prediction row {n} has {len(probs)} probabilities for {len(given)} labels")
    return dict(zip(given, probs))


def read_predictions(path_or_run_dir: str | Path) -> Predictions:
    """Read one predictions.csv, or every predictions.csv under a run folder, concatenated.

    Args:
        path_or_run_dir: a ``predictions.csv`` file, or a folder searched recursively
            (runs are laid out as ``RUN_DIR/seed=<s>/fold=<k>/predictions.csv``).

    Returns:
        The rows of all files, in file (sorted path) then row order.

    Raises:
        SerkitError: the path does not exist, holds no predictions.csv, or a file breaks
            the contract (missing required column, bad seed/fold, label sets that differ).
    """
    files = find_prediction_files(path_or_run_dir)
    parts = [_read_file(f) for f in files]
    label_sets = {p.labels for p in parts if p.probabilities is not None}
    if len(label_sets) > 1:
        raise SerkitError(f"predictions.csv files under {path_or_run_dir} have different p_<label> columns: "
                          f"{sorted(label_sets)}; write every run with the same labels")
    return _concatenate(parts, files)


def find_prediction_files(path_or_run_dir: str | Path) -> list[Path]:
    """The predictions.csv file itself, or every one under a folder (sorted)."""
    path = Path(path_or_run_dir)
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise SerkitError(f"run folder or predictions file not found: {path}; "
                          f"pass a folder holding seed=<s>/fold=<k>/{FILE_NAME}")
    files = sorted(path.rglob(FILE_NAME))
    if not files:
        raise SerkitError(f"no {FILE_NAME} under {path}; training writes them as "
                          f"seed=<s>/fold=<k>/{FILE_NAME} (has the run finished?)")
    return files


def _read_file(path: Path) -> Predictions:
    with open(path, encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        header = reader.fieldnames or []
        rows = list(reader)
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        raise SerkitError(f"{path} lacks the column(s) {missing}; predictions.csv needs "
                          f"{', '.join(REQUIRED_COLUMNS)} (header found: {header})")
    prob_labels = tuple(sorted(c[len(PROBABILITY_PREFIX):] for c in header if c.startswith(PROBABILITY_PREFIX)))
    cols = {name: np.array([(r.get(name) or "").strip() for r in rows], dtype=object)
            for name in PREDICTION_COLUMNS}
    for key in REQUIRED_COLUMNS:
        empty = np.flatnonzero(cols[key] == "")
        if empty.size:
            raise SerkitError(f"{path}: row {empty[0] + 2} has an empty {key!r}; it is required")
    ints = {key: _int_column(cols[key], key, path) for key in ("seed", "fold")}
    labels = prob_labels or tuple(sorted(set(cols["truth"]) | set(cols["prediction"])))
    _check_labels(cols, labels, path)
    probs = (np.array([[_float(r.get(PROBABILITY_PREFIX + lab), path) for lab in labels] for r in rows],
                      dtype=float).reshape(len(rows), len(labels)) if prob_labels else None)
    cols.update(ints)
    return Predictions(**cols, probabilities=probs, labels=labels, sources=(path,))


def _int_column(values: np.ndarray, key: str, path: Path) -> np.ndarray:
    try:
        return np.array([int(v) if v != "" else 0 for v in values], dtype=np.int64)
    except ValueError:
        bad = next(v for v in values if v != "" and not v.lstrip("-").isdigit())
        raise SerkitError(f"{path}: {key} must be an integer, not {bad!r}") from None


def _float(cell: str | None, path: Path) -> float:
    if cell is None or cell.strip() == "":
        return float("nan")
    try:
        return float(cell)
    except ValueError:
        raise SerkitError(f"{path}: probabilities must be numbers, not {cell!r}") from None


def _check_labels(cols: dict, labels: tuple[str, ...], path: Path) -> None:
    for key in ("truth", "prediction"):
        unknown = sorted(set(cols[key]) - set(labels))
        if unknown:
            raise SerkitError(f"{path}: {key} label(s) {unknown} have no p_<label> column; "
                              f"the file's classes are {list(labels)}")


def _concatenate(parts: list[Predictions], files: list[Path]) -> Predictions:
    labels = next((p.labels for p in parts if p.probabilities is not None), None)
    if labels is None:
        labels = tuple(sorted(set().union(*(p.labels for p in parts))))
    stray = sorted(set().union(*(p.labels for p in parts)) - set(labels))
    if stray:
        raise SerkitError(f"labels {stray} appear in predictions without p_<label> columns while other "
                          f"files have the classes {list(labels)}; write every run with the same labels")
    arrays = {name: np.concatenate([getattr(p, name) for p in parts]) for name in PREDICTION_COLUMNS}
    probs = None
    if all(p.probabilities is not None for p in parts):
        probs = np.concatenate([p.probabilities for p in parts], axis=0)
    return Predictions(**arrays, probabilities=probs, labels=labels, sources=tuple(files))
