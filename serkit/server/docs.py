"""``GET /docs`` (Swagger UI) and ``GET /redoc`` (ReDoc) from files served by the app itself.

FastAPI's own pages load their scripts and styles from a CDN, so on a machine without
internet they are blank. The same pages here point at the copies that the
``fastapi-offline`` package ships (Swagger UI and ReDoc bundles, a favicon; MIT and
Apache-2.0, see NOTICE), mounted under :data:`STATIC_URL`. The app must be created with
``docs_url=None, redoc_url=None`` so that FastAPI does not add its CDN versions.
"""

from __future__ import annotations

from importlib.util import find_spec
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from serkit.errors import MissingDependencyError

#: Where the bundled scripts are served; outside /v1 so that it is not part of the API.
STATIC_URL = "/docs-static"
DOCS_URL = "/docs"
REDOC_URL = "/redoc"


def static_dir() -> Path:
    """The folder of Swagger UI and ReDoc files in the installed ``fastapi-offline``."""
    # find_spec instead of importing: the package's __init__ builds nothing we use.
    spec = find_spec("fastapi_offline")
    if spec is None or not spec.submodule_search_locations:
        raise MissingDependencyError(
            "the server's /docs pages need fastapi-offline (their scripts, served locally), "
            'which is not installed; run: pip install "serkit[serve]"')
    return Path(next(iter(spec.submodule_search_locations))) / "static"


def install_docs(app: FastAPI) -> None:
    """Add ``/docs``, its OAuth2 redirect, ``/redoc`` and the static files they load."""
    app.mount(STATIC_URL, StaticFiles(directory=static_dir()), name="docs-static")
    redirect_url = app.swagger_ui_oauth2_redirect_url

    @app.get(DOCS_URL, include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_swagger_ui_html(
            openapi_url=f"{root}{app.openapi_url}", title=f"{app.title} - Swagger UI",
            oauth2_redirect_url=f"{root}{redirect_url}" if redirect_url else None,
            swagger_js_url=f"{root}{STATIC_URL}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{STATIC_URL}/swagger-ui.css",
            swagger_favicon_url=f"{root}{STATIC_URL}/favicon.png",
            swagger_ui_parameters=app.swagger_ui_parameters)

    if redirect_url:
        @app.get(redirect_url, include_in_schema=False)
        async def swagger_ui_redirect() -> HTMLResponse:
            return get_swagger_ui_oauth2_redirect_html()

    @app.get(REDOC_URL, include_in_schema=False)
    async def redoc(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        # with_google_fonts=False: the fonts would be the one remaining CDN request.
        return get_redoc_html(
            openapi_url=f"{root}{app.openapi_url}", title=f"{app.title} - ReDoc",
            redoc_js_url=f"{root}{STATIC_URL}/redoc.standalone.js",
            redoc_favicon_url=f"{root}{STATIC_URL}/favicon.png", with_google_fonts=False)
