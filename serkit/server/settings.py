"""Server settings: defaults, environment variables, and the models to serve.

``serkit serve --workers N`` starts N processes, each of which imports
``serkit.server:app_from_env`` and builds its own app. The settings travel as environment
variables because that is what each uvicorn worker process inherits:

- ``SERKIT_SERVE_MODEL``: model names or bundle folders, several joined by ``os.pathsep``
  (``:``; ``;`` on Windows); default ``default``, the bundled model;
- ``SERKIT_SERVE_MAX_UPLOAD_BYTES``: the request body limit (default 20 MiB);
- ``SERKIT_SERVE_MAX_DURATION_S``: the audio duration cap in seconds (default 600;
  ``none`` for no cap).

This module imports neither torch nor FastAPI at the top, so that `serkit serve` can check
its arguments (and a supervisor of several workers can stay small) without them.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from serkit.errors import ConfigError

DEFAULT_MODEL = "default"
#: Largest request body accepted by default: a 10-minute 16 kHz 16-bit wav fits twice.
DEFAULT_MAX_UPLOAD_BYTES = 20 * 2**20
#: Longest audio accepted by default: a 10-minute call fits. Decoding is bounded by it
#: (it is checked from the file header first), whatever the upload's compression.
DEFAULT_MAX_DURATION_S = 600.0

MODEL_VAR = "SERKIT_SERVE_MODEL"
MAX_UPLOAD_VAR = "SERKIT_SERVE_MAX_UPLOAD_BYTES"
MAX_DURATION_VAR = "SERKIT_SERVE_MAX_DURATION_S"


@dataclass(frozen=True)
class ServerSettings:
    """Which models to serve and the request limits (see :func:`serkit.server.create_app`)."""

    models: tuple[str, ...] = (DEFAULT_MODEL,)
    max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES
    max_duration_s: float | None = DEFAULT_MAX_DURATION_S

    def __post_init__(self):
        if not self.models:
            raise ConfigError("the server needs at least one model to serve")
        check_limits(self.max_upload_bytes, self.max_duration_s)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> ServerSettings:
        """The settings the environment variables (module docstring) give."""
        models = tuple(m for m in environ.get(MODEL_VAR, "").split(os.pathsep) if m.strip())
        return cls(
            models=models or (DEFAULT_MODEL,),
            max_upload_bytes=_parse(environ, MAX_UPLOAD_VAR, int, DEFAULT_MAX_UPLOAD_BYTES),
            max_duration_s=_parse(environ, MAX_DURATION_VAR, float, DEFAULT_MAX_DURATION_S),
        )

    def to_env(self) -> dict[str, str]:
        """The environment variables that give back these settings in a worker process."""
        return {MODEL_VAR: os.pathsep.join(self.models),
                MAX_UPLOAD_VAR: str(self.max_upload_bytes),
                MAX_DURATION_VAR: "none" if self.max_duration_s is None else repr(self.max_duration_s)}


def check_limits(max_upload_bytes: int, max_duration_s: float | None) -> None:
    """Raise ConfigError unless the upload limit and the duration cap (or None) are positive."""
    if isinstance(max_upload_bytes, bool) or not isinstance(max_upload_bytes, int) \
            or max_upload_bytes <= 0:
        raise ConfigError(f"the upload limit must be a positive number of bytes, not {max_upload_bytes!r}")
    if max_duration_s is not None and not max_duration_s > 0:
        raise ConfigError(f"the duration cap must be a positive number of seconds (or None for "
                          f"no cap), not {max_duration_s!r}")


def _parse(environ: Mapping[str, str], var: str, kind: type, default):
    text = environ.get(var, "").strip()
    if not text:
        return default
    if kind is float and text.lower() == "none":
        return None
    try:
        return kind(text)
    except ValueError:
        raise ConfigError(f"environment variable {var}={text!r} is not a valid "
                          f"{'whole number' if kind is int else 'number'}") from None


def check_models(specs: Sequence[str]) -> list[str]:
    """The served names of model names or bundle folders, from their bundle.json only.

    Cheap (no torch): lets a supervisor of several worker processes refuse a bad ``--model``
    before starting workers that would each fail on it.

    Raises:
        ConfigError: an unknown model, a folder that is not a bundle, or two models with
            one name.
    """
    from serkit.inference import read_bundle
    from serkit.inference.recognizer import resolve_model

    names: list[str] = []
    for spec in specs:
        names.append(_unique(read_bundle(resolve_model(spec))["name"], names))
    return names


def _unique(name: str, taken: list[str]) -> str:
    if name in taken:
        raise ConfigError(f"two served models are both named {name!r}; serve each name once")
    return name


def load_models(specs: Sequence[str]) -> dict:
    """``{name: Recognizer}`` for model names or bundle folders; the names must differ."""
    from serkit.inference import load_model

    models: dict = {}
    for spec in specs:
        recognizer = load_model(spec)
        models[_unique(recognizer.name, list(models))] = recognizer
    return models
