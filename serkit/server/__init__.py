"""`serkit serve`: speech emotion recognition over HTTP (FastAPI on uvicorn).

Needs the ``serve`` extra: using :func:`create_app` without FastAPI installed raises
MissingDependencyError naming ``pip install "serkit[serve]"``. Names are imported on first
use, so ``serkit.server.settings`` stays usable (and light) without FastAPI or torch.

Example:
    >>> from serkit.inference import load_model                      # doctest: +SKIP
    >>> from serkit.server import create_app                         # doctest: +SKIP
    >>> app = create_app(load_model("default"), max_duration_s=120)  # doctest: +SKIP

Several worker processes: ``uvicorn --factory serkit.server:app_from_env`` with the
settings in environment variables (:mod:`serkit.server.settings`); `serkit serve
--workers N` does this.
"""

from importlib import import_module

from serkit.server.requirements import check_serve_extra

_API = {
    "create_app": "serkit.server.app",
    "ServerSettings": "serkit.server.settings",
    "app_from_env": "serkit.server.app",
    "app_from_settings": "serkit.server.app",
    "check_models": "serkit.server.settings",
    "load_models": "serkit.server.settings",
    "DEFAULT_MAX_UPLOAD_BYTES": "serkit.server.settings",
    "DEFAULT_MAX_DURATION_S": "serkit.server.settings",
    "DEFAULT_MAX_BATCH_FILES": "serkit.server.settings",
    "DEFAULT_MAX_BATCH_BYTES": "serkit.server.settings",
}

__all__ = ["DEFAULT_MAX_BATCH_BYTES", "DEFAULT_MAX_BATCH_FILES", "DEFAULT_MAX_DURATION_S",
           "DEFAULT_MAX_UPLOAD_BYTES", "ServerSettings", "app_from_env", "app_from_settings",
           "check_models", "check_serve_extra", "create_app", "load_models"]


def __getattr__(name: str):
    if name in _API:
        check_serve_extra()
        return getattr(import_module(_API[name]), name)
    raise AttributeError(f"module 'serkit.server' has no attribute {name!r}")
