"""Server settings: defaults, environment variables, and the models to serve.

``serkit serve --workers N`` starts N processes, each of which imports
``serkit.server:app_from_env`` and builds its own app. The settings travel as environment
variables because that is what each uvicorn worker process inherits:

- ``SERKIT_SERVE_MODEL``: model names or bundle folders, several joined by ``os.pathsep``
  (``:``; ``;`` on Windows); default ``default``, the bundled model;
- ``SERKIT_SERVE_MAX_UPLOAD_BYTES``: the request body limit (default 20 MiB), and the
  limit of each clip of a batch;
- ``SERKIT_SERVE_MAX_BATCH_FILES``: clips in one ``POST /v1/predict/batch`` (default 256);
- ``SERKIT_SERVE_MAX_BATCH_BYTES``: the request body limit of a batch (default 100 MiB);
- ``SERKIT_SERVE_MAX_DURATION_S``: the audio duration cap in seconds (default 600;
  ``none`` for no cap);
- ``SERKIT_SERVE_MAX_CONCURRENCY``: predictions run at once per worker process (default
  ``auto``: the cores available to the process);
- ``SERKIT_SERVE_MAX_QUEUE``: requests that may wait for one per worker process, beyond
  which they get 503 (default ``auto``: 4 per concurrent prediction);
- ``SERKIT_SERVE_REQUEST_TIMEOUT_S``: the time limit of a request in seconds (default 60;
  ``none`` for no limit). See :mod:`serkit.server.admission`.

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
#: The time limit of a request (upload, wait and prediction) by default.
DEFAULT_REQUEST_TIMEOUT_S = 60.0
#: Most clips in one batch request by default: several adapt batches' worth (30 or more each).
DEFAULT_MAX_BATCH_FILES = 256
#: Largest body of a batch request by default: 256 five-second 16 kHz 16-bit wavs fit
#: about 2.5 times. A batch holds its clips in memory until it is answered.
DEFAULT_MAX_BATCH_BYTES = 100 * 2**20

MODEL_VAR = "SERKIT_SERVE_MODEL"
MAX_UPLOAD_VAR = "SERKIT_SERVE_MAX_UPLOAD_BYTES"
MAX_DURATION_VAR = "SERKIT_SERVE_MAX_DURATION_S"
MAX_CONCURRENCY_VAR = "SERKIT_SERVE_MAX_CONCURRENCY"
MAX_QUEUE_VAR = "SERKIT_SERVE_MAX_QUEUE"
REQUEST_TIMEOUT_VAR = "SERKIT_SERVE_REQUEST_TIMEOUT_S"
MAX_BATCH_FILES_VAR = "SERKIT_SERVE_MAX_BATCH_FILES"
MAX_BATCH_BYTES_VAR = "SERKIT_SERVE_MAX_BATCH_BYTES"


@dataclass(frozen=True)
class ServerSettings:
    """Which models to serve and the request limits (see :func:`serkit.server.create_app`).

    ``max_concurrency`` and ``max_queue`` None mean the defaults of the process that
    serves (its cores; 4 waiting per concurrent prediction).
    """

    models: tuple[str, ...] = (DEFAULT_MODEL,)
    max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES
    max_duration_s: float | None = DEFAULT_MAX_DURATION_S
    max_concurrency: int | None = None
    max_queue: int | None = None
    request_timeout_s: float | None = DEFAULT_REQUEST_TIMEOUT_S
    max_batch_files: int = DEFAULT_MAX_BATCH_FILES
    max_batch_bytes: int = DEFAULT_MAX_BATCH_BYTES

    def __post_init__(self):
        if not self.models:
            raise ConfigError("the server needs at least one model to serve")
        check_limits(self.max_upload_bytes, self.max_duration_s)
        check_admission(self.max_concurrency, self.max_queue, self.request_timeout_s)
        check_batch_limits(self.max_batch_files, self.max_batch_bytes)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> ServerSettings:
        """The settings the environment variables (module docstring) give."""
        models = tuple(m for m in environ.get(MODEL_VAR, "").split(os.pathsep) if m.strip())
        return cls(
            models=models or (DEFAULT_MODEL,),
            max_upload_bytes=_parse(environ, MAX_UPLOAD_VAR, int, DEFAULT_MAX_UPLOAD_BYTES),
            max_duration_s=_parse(environ, MAX_DURATION_VAR, float, DEFAULT_MAX_DURATION_S,
                                  none_word="none"),
            max_concurrency=_parse(environ, MAX_CONCURRENCY_VAR, int, None, none_word="auto"),
            max_queue=_parse(environ, MAX_QUEUE_VAR, int, None, none_word="auto"),
            request_timeout_s=_parse(environ, REQUEST_TIMEOUT_VAR, float,
                                     DEFAULT_REQUEST_TIMEOUT_S, none_word="none"),
            max_batch_files=_parse(environ, MAX_BATCH_FILES_VAR, int, DEFAULT_MAX_BATCH_FILES),
            max_batch_bytes=_parse(environ, MAX_BATCH_BYTES_VAR, int, DEFAULT_MAX_BATCH_BYTES),
        )

    def to_env(self) -> dict[str, str]:
        """The environment variables that give back these settings in a worker process."""
        return {MODEL_VAR: os.pathsep.join(self.models),
                MAX_UPLOAD_VAR: str(self.max_upload_bytes),
                MAX_DURATION_VAR: "none" if self.max_duration_s is None else repr(self.max_duration_s),
                MAX_CONCURRENCY_VAR: "auto" if self.max_concurrency is None else str(self.max_concurrency),
                MAX_QUEUE_VAR: "auto" if self.max_queue is None else str(self.max_queue),
                REQUEST_TIMEOUT_VAR: ("none" if self.request_timeout_s is None
                                      else repr(self.request_timeout_s)),
                MAX_BATCH_FILES_VAR: str(self.max_batch_files),
                MAX_BATCH_BYTES_VAR: str(self.max_batch_bytes)}


def check_limits(max_upload_bytes: int, max_duration_s: float | None) -> None:
    """Raise ConfigError unless the upload limit and the duration cap (or None) are positive."""
    if isinstance(max_upload_bytes, bool) or not isinstance(max_upload_bytes, int) \
            or max_upload_bytes <= 0:
        raise ConfigError(f"the upload limit must be a positive number of bytes, not {max_upload_bytes!r}")
    if max_duration_s is not None and not max_duration_s > 0:
        raise ConfigError(f"the duration cap must be a positive number of seconds (or None for "
                          f"no cap), not {max_duration_s!r}")


def check_admission(max_concurrency: int | None, max_queue: int | None,
                    request_timeout_s: float | None) -> None:
    """Raise ConfigError unless the concurrency limit is at least 1, the queue limit at
    least 0 and the time limit positive (each may be None: the default, or no time limit)."""
    if max_concurrency is not None and not (_is_int(max_concurrency) and max_concurrency >= 1):
        raise ConfigError(f"the concurrency limit must be a whole number of at least 1, "
                          f"not {max_concurrency!r}")
    if max_queue is not None and not (_is_int(max_queue) and max_queue >= 0):
        raise ConfigError(f"the queue limit must be a whole number of at least 0, not {max_queue!r}")
    if request_timeout_s is not None and not (
            isinstance(request_timeout_s, (int, float)) and not isinstance(request_timeout_s, bool)
            and 0 < request_timeout_s < float("inf")):
        raise ConfigError(f"the request time limit must be a positive number of seconds (or None "
                          f"for no limit), not {request_timeout_s!r}")


def check_batch_limits(max_batch_files: int, max_batch_bytes: int) -> None:
    """Raise ConfigError unless a batch's file count and body limits are positive whole numbers."""
    if not (_is_int(max_batch_files) and max_batch_files >= 1):
        raise ConfigError(f"the batch file limit must be a whole number of at least 1, "
                          f"not {max_batch_files!r}")
    if not (_is_int(max_batch_bytes) and max_batch_bytes >= 1):
        raise ConfigError(f"the batch upload limit must be a positive number of bytes, "
                          f"not {max_batch_bytes!r}")


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _parse(environ: Mapping[str, str], var: str, kind: type, default, *,
           none_word: str | None = None):
    text = environ.get(var, "").strip()
    if not text:
        return default
    if none_word is not None and text.lower() == none_word:
        return None
    try:
        return kind(text)
    except ValueError:
        also = f" (or {none_word!r})" if none_word else ""
        raise ConfigError(f"environment variable {var}={text!r} is not a valid "
                          f"{'whole number' if kind is int else 'number'}{also}") from None


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
