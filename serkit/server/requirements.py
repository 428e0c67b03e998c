"""The optional packages the server needs (the ``serve`` extra), checked before import.

Checking up front turns a bare ``ModuleNotFoundError`` deep inside an import into one
message that says which command installs what is missing.
"""

from __future__ import annotations

from importlib.util import find_spec

from serkit.errors import MissingDependencyError

#: Import name → distribution name of each package `serkit serve` needs.
SERVE_PACKAGES = {"fastapi": "fastapi", "uvicorn": "uvicorn", "python_multipart": "python-multipart",
                  # /docs and /redoc without a CDN; uvicorn speaks WebSocket (/v1/stream) only
                  # with a websocket library installed.
                  "fastapi_offline": "fastapi-offline", "websockets": "websockets"}


def check_serve_extra() -> None:
    """Raise MissingDependencyError naming the packages of the ``serve`` extra that are missing."""
    missing = [dist for module, dist in SERVE_PACKAGES.items() if not _importable(module)]
    if missing:
        raise MissingDependencyError(
            f"the HTTP server needs {', '.join(missing)}, which is not installed; "
            'run: pip install "serkit[serve]"'
        )


def _importable(module: str) -> bool:
    # python-multipart was importable only as `multipart` before its 0.0.13 release.
    names = (module, "multipart") if module == "python_multipart" else (module,)
    return any(find_spec(name) is not None for name in names)
