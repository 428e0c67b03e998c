"""Bounds on what a config or a bundle may ask to build, checked before anything is built.

Configs and bundle.json files are input: a typo or a damaged file must give one clear
:class:`~serkit.errors.ConfigError`, not a ``ValueError`` from deep inside a constructor,
nor a model that takes the machine's memory (``hidden_units: [200000, 200000]`` asks
for 40 billion weights, 160 GB). So before a model is built:

* each parameter is checked against the type its constructor declares (an ``int``, a
  list of ``int``, a ``float``, ...), so ``hidden_units: "lots"`` is refused by name;
* every size (an ``int`` parameter or an entry of a list of them, and the input and output
  widths) is at most :data:`MAX_WIDTH`, and every depth (a count of layers, the length of
  a list of layer sizes) at most :data:`MAX_DEPTH`;
* the model is built on PyTorch's ``meta`` device, which records shapes and allocates
  nothing, and its parameters and buffers are counted: at most :data:`MAX_PARAMETERS`.

The limits are far above any model serkit ships or the papers describe (the largest,
the CNN–Transformer, has under a million parameters), so they only stop mistakes.

Example (:func:`serkit.models.check_model` runs every check for a registered model):
    >>> from serkit.models import check_model
    >>> check_model("mlp", 107, 5, {"hidden_units": [200000, 200000]})
    Traceback (most recent call last):
    ...
    serkit.errors.ConfigError: model 'mlp': hidden_units[0] is 200000, over the limit of 65536 (MAX_WIDTH, the widest layer serkit builds); use a smaller value
"""

from __future__ import annotations

import inspect
import math
import numbers
import reprlib
import types
import typing
from collections.abc import Callable, Mapping
from typing import Any

from serkit.errors import ConfigError, first_line

#: The widest layer, and the largest size of any kind, a model may be built with: 65536
#: units, channels, heads or frames. Real SER models use a few hundred; a width over this
#: is a typo, and one layer of 65536 × 65536 weights is already 16 GiB.
MAX_WIDTH = 65_536
#: The most layers a model may stack (``n_layers``, ``num_layers``, ``levels``, the
#: length of ``hidden_units`` or ``channels``): building is a Python loop per layer.
MAX_DEPTH = 64
#: The most parameters (and buffers) a model may hold: 100 million, 400 MB of float32
#: weights, over a hundred times the largest model serkit ships. Checked without
#: allocating them (the model is built on the ``meta`` device first).
MAX_PARAMETERS = 100_000_000
#: Integer parameters that count layers rather than size them.
DEPTH_PARAMS = frozenset({"n_layers", "num_layers", "levels", "routing_iterations"})
#: The largest integer a feature extractor's parameter may have (sample rates, FFT sizes).
MAX_FEATURE_INT = 1_000_000
#: Model parameters that count the samples of a fixed-length waveform (``mlp`` and ``svm``
#: read it as one vector): bounded by :data:`MAX_FEATURE_INT`, like the features'
#: ``fixed_samples`` they come from (the SERCT thesis's clip is 144 000 samples, over
#: :data:`MAX_WIDTH`); the parameter count still bounds the model.
SAMPLE_PARAMS = frozenset({"n_samples"})


def check_params_types(kind: str, name: str, constructor: Callable, params: Mapping[str, Any], *,
                       max_int: int = MAX_WIDTH) -> None:
    """ConfigError unless each of ``params`` has the type ``constructor`` declares for it.

    Integers (alone or in lists) must lie in ``[-max_int, max_int]``, lists be at most
    :data:`MAX_DEPTH` long and floats be finite. Parameters without a declared type are
    not checked; values (ranges, choices) are left to the constructor.

    Args:
        kind: what is built, for messages ("model", "feature").
        name: its registry name.
        constructor: the class or function, whose annotations give the types.
        params: the keyword parameters it is about to be called with.
    """
    hints = _hints(constructor)
    for key, value in params.items():
        if not isinstance(key, str):
            raise ConfigError(f"{kind} {name!r}: parameter names must be strings, not {key!r}")
        hint = hints.get(key)
        if hint is not None:
            limit = max(max_int, MAX_FEATURE_INT) if key in SAMPLE_PARAMS else max_int
            _check_value(hint, value, f"{kind} {name!r}: {key}", key, limit)


def check_model_size(kind: str, name: str, build: Callable[[], Any], params: Mapping[str, Any],
                     n_features: int, n_classes: int) -> None:
    """ConfigError unless ``build()`` makes a torch model of at most :data:`MAX_PARAMETERS`.

    ``build`` runs on the ``meta`` device, which records shapes and allocates nothing; a
    ``ValueError`` or ``TypeError`` it raises becomes a ConfigError. Call
    :func:`check_params_types` first: the meta build still loops over layers.
    """
    import torch

    where = f"{kind} {name!r}"
    try:
        with torch.device("meta"):
            model = build()
    except ConfigError:
        raise
    except (TypeError, ValueError, RuntimeError, OverflowError, ZeroDivisionError, IndexError) as exc:
        raise ConfigError(f"{where} cannot be built with {dict(params)}: {first_line(exc)}") from None
    size = sum(t.numel() for t in model.parameters()) + sum(t.numel() for t in model.buffers())
    if size > MAX_PARAMETERS:
        given = ", ".join(f"{k}={v!r}" for k, v in params.items()) or "its defaults"
        raise ConfigError(
            f"{where} with {given} for {n_features} features and {n_classes} classes would hold "
            f"{size:,} parameters, over the limit of {MAX_PARAMETERS:,} (MAX_PARAMETERS); use "
            "smaller layers"
        )


def check_depths(kind: str, name: str, params: Mapping[str, Any]) -> None:
    """ConfigError for a layer count (:data:`DEPTH_PARAMS`) over :data:`MAX_DEPTH`."""
    for key in sorted(DEPTH_PARAMS & set(params)):
        value = params[key]
        if isinstance(value, numbers.Integral) and value > MAX_DEPTH:
            raise ConfigError(f"{kind} {name!r}: {key} is {value}, over the limit of {MAX_DEPTH} "
                              "(MAX_DEPTH, the deepest model serkit builds); use a smaller value")


def check_io_sizes(kind: str, name: str, n_features: Any, n_classes: Any) -> None:
    """ConfigError unless the input and output widths are integers in [1, MAX_WIDTH]."""
    for label, value in (("n_features", n_features), ("n_classes", n_classes)):
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or not 0 < value <= MAX_WIDTH:
            raise ConfigError(f"{kind} {name!r}: {label} must be an integer in [1, {MAX_WIDTH}] "
                              f"(MAX_WIDTH), not {_short(value)}")


# --- types -------------------------------------------------------------------------------

def _hints(constructor: Callable) -> dict[str, Any]:
    target = constructor.__init__ if inspect.isclass(constructor) else constructor
    try:
        return typing.get_type_hints(target)
    except Exception:  # noqa: BLE001 - unresolvable annotations: nothing to check against
        return {}


def _check_value(hint, value, where: str, key: str, max_int: int) -> None:
    if not _matches(hint, value, max_int):
        raise ConfigError(f"{where} must be {_describe(hint)}, not {_short(value)}")
    _check_sizes(value, where, key, max_int)


def _matches(hint, value, max_int: int) -> bool:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is Any:
        return True
    if origin in (typing.Union, types.UnionType):
        return any(_matches(a, value, max_int) for a in args)
    if origin is typing.Literal:  # the type of its values; the constructor checks the value
        return any(type(value) is type(a) for a in args)
    if hint is type(None):
        return value is None
    if origin in (tuple, list) or hint in (tuple, list):
        if not isinstance(value, (list, tuple)):
            return False
        if not args:
            return True
        if origin is tuple and not (len(args) == 2 and args[1] is Ellipsis):
            return len(value) == len(args) and all(_matches(a, v, max_int) for a, v in zip(args, value))
        return all(_matches(args[0], v, max_int) for v in value)
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, numbers.Integral) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, numbers.Real) and not isinstance(value, bool) and _finite(value)
    if hint is str:
        return isinstance(value, str)
    return True  # another declared type (a class, a callable): left to the constructor


def _finite(value: numbers.Real) -> bool:
    try:
        return math.isfinite(value)
    except OverflowError:  # an int beyond float's range
        return False


def _check_sizes(value, where: str, key: str, max_int: int) -> None:
    if isinstance(value, (list, tuple)):
        if len(value) > MAX_DEPTH:
            raise ConfigError(f"{where} has {len(value)} entries, over the limit of {MAX_DEPTH} "
                              "(MAX_DEPTH, the deepest model serkit builds)")
        for i, item in enumerate(value):
            _check_sizes(item, f"{where}[{i}]", key, max_int)
    elif isinstance(value, numbers.Integral) and not isinstance(value, bool) and abs(value) > max_int:
        limit = "MAX_WIDTH, the widest layer serkit builds" if max_int == MAX_WIDTH else "the largest allowed"
        shown = str(value) if abs(value) < 10**30 else f"an integer of {len(str(abs(value)))} digits"
        raise ConfigError(f"{where} is {shown}, over the limit of {max_int} ({limit}); use a smaller value")


def _describe(hint) -> str:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_describe(a) for a in args)
    if origin is typing.Literal:
        return " or ".join(sorted({_describe(type(a)) for a in args}))
    if hint is type(None):
        return "null"
    if origin in (tuple, list):
        if origin is tuple and args and not (len(args) == 2 and args[1] is Ellipsis):
            return f"a list of {len(args)} ({', '.join(_describe(a) for a in args)})"
        return f"a list of {_plural(args[0])}" if args else "a list"
    return {bool: "true or false", int: "an integer", float: "a finite number",
            str: "a string"}.get(hint, getattr(hint, "__name__", str(hint)))


def _plural(hint) -> str:
    return {int: "integers", float: "numbers", str: "strings"}.get(hint, _describe(hint))


def _short(value) -> str:
    return reprlib.repr(value)  # bounded in depth and length, whatever the value
