"""Every error the API returns is JSON ``{"error": {"code", "message"}}``.

Handlers here turn serkit's own errors, FastAPI's validation errors, Starlette's HTTP
errors (404 path, 405 method) and anything unexpected into that one shape, so a client
needs a single error path. An unexpected error is answered with a generic message (its
traceback could name server paths); Starlette re-raises it after answering, so the ASGI
server logs it in full.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from serkit.errors import AudioError, ConfigError, SerkitError

#: Status → code for Starlette's own HTTP errors (unknown path, wrong method, ...).
HTTP_CODES = {400: "bad_request", 404: "not_found", 405: "method_not_allowed",
              413: "upload_too_large", 415: "unsupported_media_type"}


class ApiError(Exception):
    """A request the API refuses, with the HTTP status, a short code, a message and any
    headers to send with it (``Retry-After`` on a 503)."""

    def __init__(self, status: int, code: str, message: str, *,
                 headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers


def error_response(status: int, code: str, message: str,
                   headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status,
                        headers=headers)


def install_error_handlers(app: FastAPI) -> None:
    """Answer every error of ``app`` as ``{"error": {"code", "message"}}``."""
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(AudioError, _audio_error)
    app.add_exception_handler(ConfigError, _config_error)
    app.add_exception_handler(SerkitError, _serkit_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected_error)


async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
    return error_response(exc.status, exc.code, exc.message, exc.headers)


async def _audio_error(request: Request, exc: AudioError) -> JSONResponse:
    # 400, not 422: the request is well-formed, the audio in it is what cannot be used.
    return error_response(400, "invalid_audio", str(exc))


async def _config_error(request: Request, exc: ConfigError) -> JSONResponse:
    return error_response(422, "invalid_parameter", str(exc))


async def _serkit_error(request: Request, exc: SerkitError) -> JSONResponse:
    return error_response(400, "bad_request", str(exc))


async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    problems = "; ".join(_describe_problem(error) for error in exc.errors())
    return error_response(422, "invalid_request", f"{problems}; see /docs for the parameters")


def _describe_problem(error: dict) -> str:
    # loc is e.g. ("query", "window"): name the parameter the way the client sent it.
    where = [str(part) for part in error.get("loc", ())]
    place = f"{where[0]} parameter {'.'.join(where[1:])!r}" if len(where) > 1 else "request"
    return f"{place}: {error.get('msg', 'invalid value')}"


async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    code = HTTP_CODES.get(exc.status_code, f"http_{exc.status_code}")
    message = str(exc.detail)
    if exc.status_code == 404:
        message = f"no endpoint at {request.url.path}; see /docs for the API"
    elif exc.status_code == 405:
        message = f"{request.method} is not allowed on {request.url.path}; see /docs for the API"
    return JSONResponse({"error": {"code": code, "message": message}},
                        status_code=exc.status_code, headers=getattr(exc, "headers", None))


async def _unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    return error_response(500, "internal_error",
                          "the server failed on this request; the server log has the details")
