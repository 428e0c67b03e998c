"""Name → constructor registries, with "did you mean" on a miss.

Corpora, features, models, losses, splits, label schemes and augmentations are all
registries, built and checked the same way: :meth:`Registry.create` looks the name up and
checks the parameters against those the constructor takes, so a misspelt name or
parameter fails with one message naming the closest valid one.
"""

from __future__ import annotations

import difflib
import inspect
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, Generic, TypeVar

from serkit.errors import ConfigError

T = TypeVar("T")


def keyword_params(constructor: Callable) -> dict[str, Any]:
    """The keyword-only parameters of ``constructor`` and their defaults.

    Example:
        >>> def make(dim, *, width=8, depth=2): ...
        >>> keyword_params(make)
        {'width': 8, 'depth': 2}
    """
    return {p.name: p.default for p in inspect.signature(constructor).parameters.values()
            if p.kind is inspect.Parameter.KEYWORD_ONLY}


def check_params(kind: str, name: str, params: Mapping[str, Any], valid: Iterable[str]) -> None:
    """Raise ConfigError if ``params`` has a key not in ``valid``, naming the closest valid one.

    Example:
        >>> check_params("model", "svm", {"c": 1}, ["C", "kernel"])
        Traceback (most recent call last):
        ...
        serkit.errors.ConfigError: model 'svm' has no parameter 'c' (did you mean 'C'?); valid parameters: C, kernel
    """
    valid = sorted(valid)
    unknown = sorted(set(params) - set(valid))
    if not unknown:
        return
    close = difflib.get_close_matches(unknown[0], valid, n=1, cutoff=0.5) or [
        v for v in valid if v.lower() == unknown[0].lower()]
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    plural = "s" if len(unknown) > 1 else ""
    raise ConfigError(f"{kind} {name!r} has no parameter{plural} {', '.join(map(repr, unknown))}{hint}; "
                      f"valid parameters: {', '.join(valid) or '(none)'}")


class Registry(Generic[T]):
    """A named collection of constructors (corpora, features, models, splits, ...).

    Args:
        kind: what the entries are, for messages ("model", "split kind").
        plural: ``kind`` in the plural, where adding "s" is wrong ("corpora").
        params_of: the parameters (name → default) an entry takes; default: the
            keyword-only parameters of the constructor.

    Example:
        >>> models = Registry("model")
        >>> @models.register("svm", accepts=("vector",))
        ... def make_svm(*, C=1.0): return ("svm", C)
        >>> models.create("svm", C=2.0), models.info("svm")["accepts"]
        (('svm', 2.0), ('vector',))
    """

    def __init__(self, kind: str, *, plural: str | None = None,
                 params_of: Callable[[T], Mapping[str, Any]] = keyword_params):
        self.kind, self.plural = kind, plural or f"{kind}s"
        self._params_of = params_of
        self._items: dict[str, T] = {}
        self._info: dict[str, dict[str, Any]] = {}

    def register(self, name: str, item: T | None = None, **info: Any):
        """Add ``item`` as ``name`` (or decorate it), with any facts about it in ``info``."""
        def add(item: T) -> T:
            if name in self._items:
                raise ValueError(f"{self.kind} {name!r} is registered twice")
            self._items[name] = item
            self._info[name] = dict(info)
            return item

        return add if item is None else add(item)

    def unregister(self, name: str) -> None:
        """Remove ``name`` (tests that register a toy entry clean up with this)."""
        self.get(name)
        del self._items[name], self._info[name]

    def get(self, name: str) -> T:
        try:
            return self._items[name]
        except (KeyError, TypeError):
            raise ConfigError(self.unknown_message(name)) from None

    def info(self, name: str) -> dict[str, Any]:
        """What was registered with ``name`` besides the constructor (a copy)."""
        self.get(name)
        return dict(self._info[name])

    def params(self, name: str) -> dict[str, Any]:
        """The parameters entry ``name`` takes, with their defaults."""
        return dict(self._params_of(self.get(name)))

    def check_params(self, name: str, params: Mapping[str, Any]) -> None:
        """ConfigError unless every key of ``params`` is a parameter of ``name``."""
        check_params(self.kind, name, params, self.params(name))

    def create(self, name: str, *args: Any, **params: Any):
        """Build entry ``name``: ``constructor(*args, **params)`` after checking the params.

        ``args`` are the data the constructor works on (a corpus folder, a model's input
        size); ``params`` are its configuration, the part a config file holds.

        Raises:
            ConfigError: unknown name or parameter (with the closest known one).
        """
        self.check_params(name, params)
        return self.get(name)(*args, **params)

    def unknown_message(self, name: str) -> str:
        known = sorted(self._items)
        close = difflib.get_close_matches(str(name), known, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        return f"unknown {self.kind} {name!r}.{hint} Known {self.plural}: {', '.join(known)}"

    def names(self) -> list[str]:
        return sorted(self._items)

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())
