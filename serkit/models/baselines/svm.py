"""The SVM peer: a calibrated scikit-learn support vector machine on one vector per utterance."""

from __future__ import annotations

from serkit.errors import ConfigError
from serkit.models.baselines.base import validate_params
from serkit.models.layers import check_fixed_waveform


def make_svm(n_features: int, n_classes: int, *, input_kind: str = "vector", C: float = 1.0, kernel: str = "rbf",
             gamma: str | float = "scale", class_weight: str | None = "balanced", scale: bool = True,
             calibration_folds: int = 5, n_samples: int | None = None):
    """A support vector machine as a scikit-learn Pipeline with ``predict_proba``.

    ``n_features`` and ``n_classes`` are taken for a uniform signature; scikit-learn reads
    both from the data. Probabilities are Platt-scaled decision values: an SVC's one-vs-rest
    scores are calibrated with sigmoids fitted on ``calibration_folds`` stratified,
    unshuffled folds, then the SVC is refitted on all the data
    (``CalibratedClassifierCV(ensemble=False)``, what ``SVC(probability=True)`` did before its
    deprecation, but without its random state). Deterministic.

    With ``input_kind="waveform"`` the whole padded clip is one vector of ``n_samples``
    samples (the SERCT thesis's SVM on its "Padded Time Series"): the features must give
    every clip the same length (``waveform`` with ``fixed_samples``), which the registry
    passes as ``n_samples``; training stacks the clips into an ``(n, n_samples)`` array.

    Args:
        input_kind: "vector" or "waveform".
        C, kernel, gamma, class_weight: of :class:`sklearn.svm.SVC`.
        scale: standardise features first (fit on the training data only).
        calibration_folds: folds for the probability calibration; each class needs at least
            this many training samples.
        n_samples: with waveform input, the fixed clip length (filled from the features'
            ``fixed_samples``); ignored otherwise.

    Returns:
        an unfitted :class:`sklearn.pipeline.Pipeline` (``fit``, ``predict_proba``, ``classes_``).

    Raises:
        ConfigError: frame input, a waveform without ``n_samples``, ``C`` <= 0 or fewer
            than 2 calibration folds.
    """
    validate_params("svm", input_kind=input_kind, allowed_kinds=("vector", "waveform"), C=C)
    if input_kind == "waveform":
        check_fixed_waveform("svm", n_features, n_samples)
    if calibration_folds < 2:
        raise ConfigError(f"model 'svm': calibration_folds must be >= 2, not {calibration_folds}")
    # Imported here, after the checks: scikit-learn takes about a second to import and only
    # the SVM needs it.
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC

    svc = SVC(C=C, kernel=kernel, gamma=gamma, class_weight=class_weight)
    steps = [("scale", StandardScaler())] if scale else []
    steps.append(("svm", CalibratedClassifierCV(svc, method="sigmoid", cv=calibration_folds, ensemble=False)))
    return Pipeline(steps)
