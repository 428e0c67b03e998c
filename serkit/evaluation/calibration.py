"""Probability calibration: temperature scaling fitted on validation data, and its error.

A classifier's softmax is often over- or under-confident. Temperature scaling (Guo et al.,
"On Calibration of Modern Neural Networks", ICML 2017) divides the logits by one number
``T`` chosen to minimise the negative log-likelihood on *validation* data; the predicted
class never changes (argmax is invariant to ``T``), only how sure the model says it is.
Log-probabilities stand in for logits: ``softmax(log p / T) == softmax(z / T)`` because the
two differ by a constant per row.

The expected calibration error (ECE) is the usual top-label one: the confidences are put
in ``bins`` equal-width bins and the gaps |accuracy − mean confidence| are averaged,
weighted by the share of samples in each bin.

Example:
    >>> import numpy as np
    >>> p = np.array([[0.9, 0.1], [0.8, 0.2], [0.3, 0.7]])
    >>> t = fit_temperature(p, np.array([0, 1, 1]))
    >>> bool(t > 1)          # one confident mistake: the fitted temperature softens
    True
    >>> round(expected_calibration_error(p, np.array([0, 0, 1])), 3)
    0.2
"""

from __future__ import annotations

import numpy as np

#: The range searched for T; outside it a model is either constant or one-hot.
TEMPERATURE_BOUNDS = (0.05, 20.0)


def apply_temperature(probabilities: np.ndarray, temperature: float) -> np.ndarray:
    """``softmax(log p / T)`` row by row (float64); ``T = 1`` returns the input unchanged."""
    p = np.asarray(probabilities, dtype=np.float64)
    if temperature == 1.0 or p.size == 0:
        return p
    logits = np.log(np.clip(p, 1e-300, None)) / float(temperature)
    logits -= logits.max(axis=1, keepdims=True)
    e = np.exp(logits)
    return e / e.sum(axis=1, keepdims=True)


def negative_log_likelihood(probabilities: np.ndarray, targets: np.ndarray) -> float:
    """Mean ``-log p[target]`` (probabilities floored at 1e-12)."""
    p = np.asarray(probabilities, dtype=np.float64)
    targets = np.asarray(targets, dtype=np.int64)
    return float(-np.mean(np.log(np.clip(p[np.arange(len(targets)), targets], 1e-12, None))))


def fit_temperature(probabilities: np.ndarray, targets: np.ndarray) -> float:
    """The temperature minimising the NLL of ``targets`` (class indices), searched in
    :data:`TEMPERATURE_BOUNDS` on a log scale; 1.0 when there is nothing to fit on."""
    from scipy.optimize import minimize_scalar

    p = np.asarray(probabilities, dtype=np.float64)
    targets = np.asarray(targets, dtype=np.int64)
    if len(targets) == 0:
        return 1.0
    low, high = np.log(TEMPERATURE_BOUNDS)
    result = minimize_scalar(lambda log_t: negative_log_likelihood(apply_temperature(p, np.exp(log_t)), targets),
                             bounds=(low, high), method="bounded", options={"xatol": 1e-4})
    best = float(np.exp(result.x))
    # The bounded search can stop next to a flat optimum; never return a worse T than 1.
    if negative_log_likelihood(apply_temperature(p, best), targets) > negative_log_likelihood(p, targets):
        return 1.0
    return best


def expected_calibration_error(probabilities: np.ndarray, targets: np.ndarray, *, bins: int = 15) -> float:
    """Top-label ECE in [0, 1] over ``bins`` equal-width confidence bins (module docstring)."""
    p = np.asarray(probabilities, dtype=np.float64)
    targets = np.asarray(targets, dtype=np.int64)
    if len(targets) == 0:
        return 0.0
    confidence = p.max(axis=1)
    correct = (p.argmax(axis=1) == targets).astype(np.float64)
    # Bin b holds confidences in (b/bins, (b+1)/bins]; a confidence of exactly 0 joins bin 0.
    index = np.clip(np.ceil(confidence * bins).astype(int) - 1, 0, bins - 1)
    error = 0.0
    for b in range(bins):
        members = index == b
        if members.any():
            error += members.mean() * abs(correct[members].mean() - confidence[members].mean())
    return float(error)
