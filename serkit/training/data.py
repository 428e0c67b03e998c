"""Class weights for the loss, from the training side of a fold."""

from __future__ import annotations

import numpy as np


def class_weights(targets: np.ndarray, n_classes: int) -> np.ndarray:
    """Inverse-frequency weights ``n / (C · n_c)`` from training targets (absent class: 0)."""
    counts = np.bincount(targets, minlength=n_classes).astype(np.float64)
    weights = np.zeros(n_classes)
    present = counts > 0
    weights[present] = len(targets) / (present.sum() * counts[present])
    return weights.astype(np.float32)
