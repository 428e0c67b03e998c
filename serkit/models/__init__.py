"""Models and losses, by name: SpeechNet, its peers, and the losses they train with.

Every entry of :data:`MODELS` is a constructor ``make(n_features, n_classes, **params)``.
Torch models return an ``nn.Module`` whose ``forward(x, lengths=None)`` gives logits
``(batch, classes)``; ``x`` is ``(batch, n_features)`` for ``input_kind="vector"`` and padded
``(batch, frames, n_features)`` with ``lengths`` for ``input_kind="frames"``. scikit-learn
models (:func:`is_sklearn`) return an unfitted estimator with ``fit``/``predict_proba``.

Example:
    >>> import torch
    >>> model = make_model("speechnet", 107, 7, dropout=0.3)
    >>> model(torch.zeros(2, 107)).shape
    torch.Size([2, 7])
    >>> loss = make_loss("balanced_margin", class_weights=None)
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from torch import nn

from serkit.errors import ConfigError
from serkit.registry import Registry


def check_params(kind: str, name: str, params: Mapping[str, Any], valid: Iterable[str]) -> None:
    """Raise ConfigError if ``params`` has a key not in ``valid``, listing the valid ones.

    Example:
        >>> check_params("model", "svm", {"c": 1}, ["C", "kernel"])
        Traceback (most recent call last):
        ...
        serkit.errors.ConfigError: model 'svm' has no parameter 'c'; valid parameters: C, kernel
    """
    valid = sorted(valid)
    unknown = sorted(set(params) - set(valid))
    if unknown:
        plural = "s" if len(unknown) > 1 else ""
        raise ConfigError(f"{kind} {name!r} has no parameter{plural} {', '.join(map(repr, unknown))}; "
                          f"valid parameters: {', '.join(valid) or '(none)'}")


def keyword_params(constructor: Callable) -> dict[str, Any]:
    """The keyword-only parameters of ``constructor`` and their defaults."""
    return {p.name: p.default for p in inspect.signature(constructor).parameters.values()
            if p.kind is inspect.Parameter.KEYWORD_ONLY}


# Below the helpers so the package reads top-down; the submodules do not import this one.
from serkit.models.cnn_transformer import CNNTransformer  # noqa: E402
from serkit.models.losses import LOSSES, class_weights_from_labels  # noqa: E402
from serkit.models.peers import (  # noqa: E402
    AutoencoderClassifier,
    CNNClassifier,
    GRUClassifier,
    LSTMClassifier,
    MLPClassifier,
    TCNClassifier,
    TransformerClassifier,
    make_svm,
)
from serkit.models.speechnet import SpeechNet  # noqa: E402

#: Every model by name (torch and scikit-learn).
MODELS: Registry = Registry("model")
#: The scikit-learn models among :data:`MODELS` (same constructors).
SKLEARN_MODELS: Registry = Registry("model")


def _register(name: str, constructor: Callable, *, sklearn: bool = False) -> None:
    def make(n_features: int, n_classes: int, **params: Any):
        check_params("model", name, params, keyword_params(constructor))
        return constructor(n_features, n_classes, **params)

    make.__name__ = f"make_{name}"
    make.__doc__ = f"Build model {name!r}: see {constructor.__module__}.{constructor.__qualname__}."
    make.constructor = constructor  # the class (torch) or function (scikit-learn) it calls
    MODELS.register(name)(make)
    if sklearn:
        SKLEARN_MODELS.register(name)(make)


_register("speechnet", SpeechNet)
_register("lstm", LSTMClassifier)
_register("gru", GRUClassifier)
_register("cnn", CNNClassifier)
_register("transformer", TransformerClassifier)
_register("autoencoder", AutoencoderClassifier)
_register("tcn", TCNClassifier)
_register("mlp", MLPClassifier)
_register("svm", make_svm, sklearn=True)
_register("cnn_transformer", CNNTransformer)


def is_sklearn(name: str) -> bool:
    """True when model ``name`` is a scikit-learn estimator (fit/predict_proba), not a torch module.

    Raises:
        ConfigError: ``name`` is not a model.
    """
    MODELS.get(name)
    return name in SKLEARN_MODELS


def make_model(name: str, n_features: int, n_classes: int, **params: Any):
    """Build model ``name`` for ``n_features`` inputs and ``n_classes`` classes.

    Raises:
        ConfigError: unknown model, unknown parameter, or a parameter out of range.
    """
    return MODELS.get(name)(n_features, n_classes, **params)


def resolved_params(name: str, extractor: Any, params: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """``params`` plus what model ``name`` takes from its features' shape.

    A model built for fixed-length spectrograms (e.g. ``cnn_transformer``) takes
    ``n_frames``; it comes from the extractor's ``n_frames`` unless given. Bundles store
    the resolved params so that the weights load without the extractor's help.
    """
    params = dict(params or {})
    frames = getattr(extractor, "n_frames", None)
    if "n_frames" in model_params(name) and "n_frames" not in params and frames is not None:
        params["n_frames"] = int(frames)
    return params


def make_model_for(name: str, extractor: Any, n_classes: int, **params: Any):
    """Build model ``name`` for the features of ``extractor`` (its dim and frame count)."""
    return make_model(name, extractor.dim, n_classes, **resolved_params(name, extractor, params))


def model_params(name: str) -> dict[str, Any]:
    """The parameters model ``name`` takes, with their defaults."""
    return keyword_params(MODELS.get(name).constructor)


def model_input_kind(name: str, params: Mapping[str, Any] | None = None) -> str:
    """The input kind ("vector" or "frames") model ``name`` expects with ``params``.

    Lets a config be checked against its feature kind before anything is built.

    Raises:
        ConfigError: unknown model or parameter, or an input kind the model does not take.
    """
    params = dict(params or {})
    defaults = model_params(name)
    check_params("model", name, params, defaults)
    kind = params.get("input_kind", defaults["input_kind"])
    allowed = ("vector",) if is_sklearn(name) else ("vector", "frames")
    if kind not in allowed:
        raise ConfigError(f"model {name!r} takes input_kind {' or '.join(map(repr, allowed))}, not {kind!r}")
    return kind


def n_parameters(model: nn.Module, *, trainable_only: bool = True) -> int:
    """Number of (trainable) parameters of a torch model."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


def make_loss(name: str, *, class_weights=None, **params: Any) -> Callable:
    """Build loss ``name``: a callable ``(logits (N, C), targets (N,)) -> scalar tensor``.

    Args:
        name: "cross_entropy" or "balanced_margin".
        class_weights: ``(C,)`` tensor or None (see :func:`class_weights_from_labels`).
        params: the loss's own parameters.

    Raises:
        ConfigError: unknown loss or parameter.
    """
    cls = LOSSES.get(name)
    valid = keyword_params(cls)
    valid.pop("class_weights", None)
    check_params("loss", name, params, valid)
    return cls(class_weights=class_weights, **params)


__all__ = [
    "LOSSES",
    "MODELS",
    "SKLEARN_MODELS",
    "AutoencoderClassifier",
    "CNNClassifier",
    "CNNTransformer",
    "GRUClassifier",
    "LSTMClassifier",
    "MLPClassifier",
    "SpeechNet",
    "TCNClassifier",
    "TransformerClassifier",
    "check_params",
    "class_weights_from_labels",
    "is_sklearn",
    "keyword_params",
    "make_loss",
    "make_model",
    "make_model_for",
    "make_svm",
    "model_input_kind",
    "model_params",
    "n_parameters",
    "resolved_params",
]
