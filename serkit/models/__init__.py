"""Models and losses, by name: SpeechNet, its baselines, the CNN–Transformer, the losses.

Every entry of :data:`MODELS` is a constructor ``make(n_features, n_classes, **params)``,
registered with the input kinds it accepts (``accepts``, see :mod:`serkit.inputs`) and
the parameters it takes from its input's :class:`~serkit.inputs.InputSpec`
(``spec_params``, e.g. a fixed-length spectrogram's frame count). Torch models return an
``nn.Module`` whose ``forward(x, lengths=None)`` gives logits ``(batch, classes)`` for a
batch made by :func:`serkit.batching.collate`. scikit-learn models (:func:`is_sklearn`)
return an unfitted estimator with ``fit``/``predict_proba``.

Example:
    >>> import torch
    >>> model = make_model("speechnet", 107, 7, dropout=0.3)
    >>> model(torch.zeros(2, 107)).shape
    torch.Size([2, 7])
    >>> loss = make_loss("balanced_margin", class_weights=None)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from torch import nn

from serkit.errors import ConfigError, first_line
from serkit.inputs import InputSpec, check_compatible
from serkit.registry import Registry

from serkit.models.cnn_transformer import CNNTransformer
from serkit.models.wavelet_cnn_lstm import WaveletCNNLSTM
from serkit.models.serct import DST, SERCT
from serkit.models.losses import LOSSES
from serkit.models.baselines import (
    AutoencoderClassifier,
    CNNBiLSTM,
    CNNClassifier,
    GRUClassifier,
    LSTMClassifier,
    TCNClassifier,
    TransformerClassifier,
    make_svm,
)
from serkit.models.bounds import (
    MAX_DEPTH,
    MAX_PARAMETERS,
    MAX_WIDTH,
    check_depths,
    check_io_sizes,
    check_model_size,
    check_params_types,
)
from serkit.models.heads import LinearHead, PrototypeHead
from serkit.models.mlp import MLPClassifier
from serkit.models.speechnet import SpeechNet


#: Every model by name (torch and scikit-learn), with what it accepts.
MODELS: Registry[Callable] = Registry("model")


def register_model(name: str, constructor: Callable, *, accepts: tuple[str, ...],
                   spec_params: Mapping[str, str] | None = None, sklearn: bool = False) -> None:
    """Add a model to :data:`MODELS`.

    Args:
        name: its registry name (configs and bundles use it).
        constructor: ``constructor(n_features, n_classes, **params)``.
        accepts: the input kinds it reads; a model that takes several chooses one with its
            ``input_kind`` parameter.
        spec_params: constructor parameters filled from the input spec when a config
            leaves them out: parameter name → InputSpec attribute (``{"n_frames": "length"}``),
            or → ``(kind, attribute)`` to take it from a spec of that kind only
            (``{"n_samples": ("waveform", "length")}``: a fixed-length waveform's samples,
            not a fixed-length spectrogram's frames).
        sklearn: a scikit-learn estimator (fit/predict_proba), not a torch module.
    """
    MODELS.register(name, constructor, accepts=tuple(accepts), spec_params=dict(spec_params or {}),
                    sklearn=sklearn)


#: A fixed-length waveform's sample count, for the models that read the whole clip as one
#: vector (the SERCT thesis's MLP and SVM on its "Padded Time Series").
_FIXED_WAVEFORM = {"n_samples": ("waveform", "length")}

register_model("speechnet", SpeechNet, accepts=("vector", "frames"))
# With input_kind: waveform, frames of frame_samples samples (the SERCT thesis's baselines).
register_model("lstm", LSTMClassifier, accepts=("vector", "frames", "waveform"))
register_model("gru", GRUClassifier, accepts=("vector", "frames", "waveform"))
register_model("cnn", CNNClassifier, accepts=("vector", "frames", "waveform"))
register_model("transformer", TransformerClassifier, accepts=("vector", "frames"))
register_model("autoencoder", AutoencoderClassifier, accepts=("vector", "frames"))
register_model("tcn", TCNClassifier, accepts=("vector", "frames"))
register_model("mlp", MLPClassifier, accepts=("vector", "frames", "waveform"), spec_params=_FIXED_WAVEFORM)
register_model("svm", make_svm, accepts=("vector", "waveform"), spec_params=_FIXED_WAVEFORM, sklearn=True)
register_model("cnn_bilstm", CNNBiLSTM, accepts=("waveform", "frames"))
register_model("cnn_transformer", CNNTransformer, accepts=("frames",), spec_params={"n_frames": "length"})
register_model("wavelet_cnn_lstm", WaveletCNNLSTM, accepts=("image", "frames"),
               spec_params={"channels": "channels", "height": "height"})
register_model("serct", SERCT, accepts=("waveform",))
register_model("dst", DST, accepts=("waveform",))
# Heads fitted in closed form on embeddings (few-shot adaptation, serkit.training.fewshot).
register_model("linear_head", LinearHead, accepts=("vector",))
register_model("prototype_head", PrototypeHead, accepts=("vector",))


def is_sklearn(name: str) -> bool:
    """True when model ``name`` is a scikit-learn estimator (fit/predict_proba), not a torch module.

    Raises:
        ConfigError: ``name`` is not a model.
    """
    return MODELS.info(name)["sklearn"]


def make_model(name: str, n_features: int, n_classes: int, **params: Any):
    """Build model ``name`` for ``n_features`` inputs and ``n_classes`` classes.

    Raises:
        ConfigError: unknown model, unknown parameter, a parameter of the wrong type or out
            of range, or a model over the size bounds of :mod:`serkit.models.bounds` (checked
            before anything is allocated).
    """
    check_model(name, n_features, n_classes, params)
    return MODELS.create(name, n_features, n_classes, **params)


def check_model(name: str, n_features: int, n_classes: int, params: Mapping[str, Any]) -> None:
    """ConfigError unless model ``name`` can be built with ``params`` within the size bounds.

    Checks, before anything is allocated: the parameter names, their types against the
    constructor's annotations, every size and depth (:mod:`serkit.models.bounds`), then for
    a torch model its parameter count, by building it on the ``meta`` device; a
    scikit-learn model is built unfitted (its constructor checks its values).

    Example:
        >>> check_model("mlp", 107, 5, {"hidden_units": "lots"})
        Traceback (most recent call last):
        ...
        serkit.errors.ConfigError: model 'mlp': hidden_units must be a list of integers, not 'lots'
    """
    constructor = MODELS.get(name)
    MODELS.check_params(name, params)
    check_io_sizes("model", name, n_features, n_classes)
    check_params_types("model", name, constructor, params)
    check_depths("model", name, params)
    if is_sklearn(name):
        try:
            constructor(n_features, n_classes, **params)
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"model {name!r} cannot be built with {dict(params)}: {first_line(exc)}") from None
    else:
        check_model_size("model", name, lambda: constructor(n_features, n_classes, **params), params,
                         n_features, n_classes)


def resolved_params(name: str, spec: InputSpec, params: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """``params`` plus what model ``name`` takes from its input's ``spec``.

    A model built for fixed-length spectrograms (``cnn_transformer``) takes ``n_frames``
    from ``spec.length`` unless given; ``mlp`` and ``svm`` take ``n_samples`` from a
    fixed-length waveform's. Bundles store the resolved params so that the weights load
    without the extractor's help.
    """
    params = dict(params or {})
    for param, source in MODELS.info(name)["spec_params"].items():
        kind, attribute = source if isinstance(source, tuple) else (spec.kind, source)
        if kind != spec.kind:
            continue
        value = getattr(spec, attribute)
        if param not in params and value is not None:
            params[param] = value
    return params


def make_model_for(name: str, spec: InputSpec, n_classes: int, **params: Any):
    """Build model ``name`` for inputs described by ``spec`` (an extractor's ``spec``)."""
    return make_model(name, spec.dim, n_classes, **resolved_params(name, spec, params))


def model_params(name: str) -> dict[str, Any]:
    """The parameters model ``name`` takes, with their defaults."""
    return MODELS.params(name)


def model_input_kind(name: str, params: Mapping[str, Any] | None = None) -> str:
    """The input kind model ``name`` reads with ``params``.

    Raises:
        ConfigError: unknown model or parameter, or an ``input_kind`` it does not accept.
    """
    params = dict(params or {})
    MODELS.check_params(name, params)
    accepts = MODELS.info(name)["accepts"]
    defaults = model_params(name)
    if "input_kind" not in defaults:
        return accepts[0]
    kind = params.get("input_kind", defaults["input_kind"])
    if kind not in accepts:
        raise ConfigError(f"model {name!r} takes input_kind {' or '.join(map(repr, accepts))}, not {kind!r}")
    return kind


def check_input(model: str, params: Mapping[str, Any] | None, features: str, spec: InputSpec) -> None:
    """ConfigError unless model ``model`` with ``params`` reads what features ``features`` give.

    Example:
        >>> check_input("cnn_transformer", {}, "fusion107", InputSpec("vector", (107,)))
        Traceback (most recent call last):
        ...
        serkit.errors.ConfigError: model 'cnn_transformer' expects 'frames' input, not the 'vector' that features 'fusion107' produce; choose features that give frames, or another model
    """
    kind = model_input_kind(model, params)
    if kind != spec.kind and spec.kind in MODELS.info(model)["accepts"]:
        given = "" if "input_kind" in (params or {}) else " (its default)"
        raise ConfigError(f"model {model!r} reads {kind!r} input with input_kind {kind!r}{given}, not the "
                          f"{spec.kind!r} that features {features!r} produce; set model.params.input_kind: "
                          f"{spec.kind}")
    check_compatible(model, kind, features, spec)


def n_parameters(model: nn.Module, *, trainable_only: bool = True) -> int:
    """Number of (trainable) parameters of a torch model."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


def make_loss(name: str, *, class_weights=None, **params: Any) -> Callable:
    """Build loss ``name``: a callable ``(logits (N, C), targets (N,)) -> scalar tensor``.

    Args:
        name: "cross_entropy" or "balanced_margin".
        class_weights: ``(C,)`` tensor or None.
        params: the loss's own parameters.

    Raises:
        ConfigError: unknown loss or parameter.
    """
    return LOSSES.create(name, class_weights=class_weights, **params)


__all__ = [
    "LOSSES",
    "MAX_DEPTH",
    "MAX_PARAMETERS",
    "MAX_WIDTH",
    "MODELS",
    "AutoencoderClassifier",
    "CNNBiLSTM",
    "CNNClassifier",
    "CNNTransformer",
    "GRUClassifier",
    "LSTMClassifier",
    "LinearHead",
    "MLPClassifier",
    "PrototypeHead",
    "SpeechNet",
    "TCNClassifier",
    "TransformerClassifier",
    "check_input",
    "check_model",
    "is_sklearn",
    "make_loss",
    "make_model",
    "make_model_for",
    "make_svm",
    "model_input_kind",
    "model_params",
    "n_parameters",
    "register_model",
    "resolved_params",
]
