"""The SpeechNet paper's reproducibility metrics GLR, FLR, PLR, CLR, FCLR and PCLR.

Zhang et al. 2025 (SpeechNet), section 3.1, equations 1-6 (speechnet_zhang2025.txt lines
95-123), over N test samples each predicted in R repeated runs:

    GLR  = 1/N sum_i I(C_i >= R/2)                              (1)
    FLR  = 1/N sum_i I(R/2 <= C_i <= R)                         (2)
    PLR  = 1/N sum_i I(C_i = R)                                 (3)
    CLR  = 1/N sum_i I(C_i >= R/2)       * I(L^_{i,r} = L_i)    (4)
    FCLR = 1/N sum_i I(R/2 <= C_i <= R)  * I(L^_{i,r} = L_i)    (5)
    PCLR = 1/N sum_i I(C_i = R)          * I(L^_{i,r} = L_i)    (6)

The paper never defines C_i, and the r in I(L^_{i,r} = L_i) is free. Our reading, the one
that makes every equation match its prose ("what percentage of samples receive consistent
predictions in at least half of the test rounds"):

* M_i, the *modal prediction* of sample i, is its most frequent predicted label across the
  R runs; **C_i is the number of runs whose prediction equals M_i** (the size of the
  largest group of agreeing runs, so 1 <= C_i <= R).
* The correctness indicator is applied to that consistent prediction: I(M_i = L_i).
  When several labels tie for the mode and the true label is one of them, M_i = L_i
  (otherwise the tie goes to the first label in sorted order, which does not change C_i
  or any metric). With this tie rule, I(C_i >= R/2) * I(M_i = L_i) is exactly "the true
  label was predicted in at least half of the runs", independent of label order.

Observations on the equations as written, which we implement as written:

* C_i <= R always holds, so the FLR condition R/2 <= C_i <= R equals GLR's C_i >= R/2:
  **FLR == GLR and FCLR == CLR** for every input.
* With R = 2, C_i >= 1 = R/2 always holds, so GLR = FLR = 1 for any model; GLR only
  separates models from R = 3 on (the paper averages over ten runs, line 313).
* The prose for FLR/FCLR says "more than half but not all the test runs". That reading,
  R/2 < C_i < R, is returned as the extra keys ``flr_prose`` and ``fclr_prose``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from serkit.errors import SerkitError

#: Keys of :func:`reproducibility_metrics` that the paper defines (equations 1-6).
REPRODUCIBILITY_KEYS: tuple[str, ...] = ("glr", "flr", "plr", "clr", "fclr", "pclr")

DEFINITION = (
    "C_i = number of the R runs whose prediction for sample i equals its modal prediction M_i "
    "(most frequent label across runs; a tie containing the true label resolves to it); "
    "correctness is I(M_i = truth_i). Equations 1-6 implemented as written, so FLR == GLR and "
    "FCLR == CLR; flr_prose/fclr_prose use the prose reading R/2 < C_i < R."
)


def consistency_counts(predictions: Sequence[Sequence], truth: Sequence) -> tuple[np.ndarray, np.ndarray]:
    """C_i and I(M_i = L_i) for each sample.

    Args:
        predictions: predicted labels, ``(R, N)``: one row per run, one column per sample,
            the same samples in the same order in every run.
        truth: true labels, ``(N,)``.

    Returns:
        ``(counts, correct)``: ``(N,)`` int array of C_i and ``(N,)`` bool array of
        I(M_i = L_i).
    """
    runs = _check(predictions, truth)
    n_samples = runs.shape[1]
    counts = np.zeros(n_samples, dtype=np.int64)
    correct = np.zeros(n_samples, dtype=bool)
    for i in range(n_samples):
        labels, votes = np.unique(runs[:, i], return_counts=True)
        counts[i] = votes.max()
        modes = set(labels[votes == votes.max()].tolist())
        correct[i] = str(truth[i]) in modes
    return counts, correct


def reproducibility_metrics(predictions: Sequence[Sequence], truth: Sequence) -> dict:
    """GLR, FLR, PLR, CLR, FCLR and PCLR (SpeechNet eqs. 1-6; C_i as in the module docstring).

    Args:
        predictions: predicted labels, ``(R, N)``, one row per run, R >= 1.
        truth: true labels, ``(N,)``, N >= 1.

    Returns:
        ``{"glr", "flr", "plr", "clr", "fclr", "pclr", "flr_prose", "fclr_prose",
        "runs": R, "samples": N}``, rates in [0, 1].

    Raises:
        SerkitError: empty input or shapes that do not match.

    Example:
        >>> reproducibility_metrics([["a", "b"], ["a", "c"]], ["a", "b"])["pclr"]
        0.5
    """
    counts, correct = consistency_counts(predictions, truth)
    n_runs = len(predictions)
    half = counts >= n_runs / 2          # equations 1, 2, 4, 5 (R/2 <= C_i <= R, C_i <= R always)
    perfect = counts == n_runs           # equations 3, 6
    prose = (counts > n_runs / 2) & (counts < n_runs)
    out = {
        "glr": half.mean(), "flr": half.mean(), "plr": perfect.mean(),
        "clr": (half & correct).mean(), "fclr": (half & correct).mean(), "pclr": (perfect & correct).mean(),
        "flr_prose": prose.mean(), "fclr_prose": (prose & correct).mean(),
    }
    return {**{k: float(v) for k, v in out.items()}, "runs": n_runs, "samples": int(counts.size)}


def _check(predictions: Sequence[Sequence], truth: Sequence) -> np.ndarray:
    rows = [[str(p) for p in run] for run in predictions]
    if not rows or not rows[0]:
        raise SerkitError("reproducibility needs at least one run with at least one prediction")
    lengths = {len(r) for r in rows}
    if len(lengths) != 1 or lengths.pop() != len(truth):
        raise SerkitError(f"every run must predict the same {len(truth)} samples as truth has, "
                          f"got runs of lengths {[len(r) for r in rows]}")
    return np.array(rows, dtype=object)
