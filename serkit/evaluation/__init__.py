"""Evaluation: score predictions.csv files; no torch here.

``predictions.csv`` (see :mod:`serkit.evaluation.predictions`) is the only input, so paper
models, baselines and predictions made elsewhere are all scored by the same code.

Modules: ``predictions`` (the CSV contract, read/write), ``metrics`` (accuracy, WA/UA/WF1,
macro/weighted P/R/F1, confusion matrices), ``groups`` (metrics per gender, speaker, ...),
``reproducibility`` (SpeechNet GLR…PCLR), ``report`` (report.json/.md), ``figures`` (PNGs).
"""

from serkit.evaluation.groups import GROUP_COLUMNS, metrics_by_group
from serkit.evaluation.metrics import (
    METRIC_NAMES,
    classification_metrics,
    confusion_matrix,
    majority_baseline,
    normalize_rows,
    per_class_metrics,
)
from serkit.evaluation.predictions import (
    PREDICTION_COLUMNS,
    Predictions,
    read_predictions,
    write_predictions,
)
from serkit.evaluation.report import build_report, compute_report
from serkit.evaluation.reproducibility import REPRODUCIBILITY_KEYS, consistency_counts, reproducibility_metrics

__all__ = [
    "GROUP_COLUMNS",
    "METRIC_NAMES",
    "PREDICTION_COLUMNS",
    "REPRODUCIBILITY_KEYS",
    "Predictions",
    "build_report",
    "classification_metrics",
    "compute_report",
    "confusion_matrix",
    "consistency_counts",
    "majority_baseline",
    "metrics_by_group",
    "normalize_rows",
    "per_class_metrics",
    "read_predictions",
    "reproducibility_metrics",
    "write_predictions",
]
