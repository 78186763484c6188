"""The one place where errors become HTTP responses.

Our error tree carries its own status. Malformed requests (FastAPI's validation errors) are the
contract's 400, with every problem listed. Anything else is a bug: logged with its traceback and
answered 500 with the request id, never with internals.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import Scope

from tmr.api.redact import Redactor
from tmr.errors import TmrError

log = logging.getLogger("tmr.api")


def redactor_for(scope: Scope) -> Redactor | None:
    state: Any = getattr(scope.get("app"), "state", None)
    registry = getattr(state, "registry", None)
    if state is None or registry is None:
        return None
    cached = getattr(state, "redactor", None)
    if cached is None:
        cached = Redactor(registry.settings)
        state.redactor = cached
    return cached


def _scoped_body(
    scope: Scope, code: str, message: str, details: dict[str, Any] | None
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "error": code,
        "message": message,
        "details": details or {},
        "request_id": scope.get("state", {}).get("request_id"),
    }
    redactor = redactor_for(scope)
    if redactor is not None:
        body["message"] = redactor.text(message)
        body["details"] = redactor.value(body["details"])
    return body


def _body(
    request: Request, code: str, message: str, details: dict[str, Any] | None = None
) -> dict[str, Any]:
    return _scoped_body(request.scope, code, message, details)


def error_response(scope: Scope, exc: TmrError) -> JSONResponse:
    """The response for one of our errors raised outside the router (the access middleware)."""
    return JSONResponse(
        _scoped_body(scope, exc.code, exc.message, _jsonable(exc.details)),
        exc.status_code,
        headers=getattr(exc, "headers", None),
    )


def _describe(errors: Sequence[Any]) -> str:
    parts = []
    for err in errors[:10]:
        where = ".".join(str(p) for p in err.get("loc", ()) if p != "body") or "request"
        parts.append(f"{where}: {err.get('msg', 'invalid')}")
    return "; ".join(parts)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(TmrError)
    async def tmr_error(request: Request, exc: TmrError) -> JSONResponse:
        if exc.status_code >= 500:
            log.error("%s: %s", exc.code, exc.message)
        return JSONResponse(
            _body(request, exc.code, exc.message, _jsonable(exc.details)),
            exc.status_code,
            headers=exc.headers,
        )

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        message = "malformed request: " + _describe(list(exc.errors()))
        return JSONResponse(_body(request, "bad_request", message), 400)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        codes = {400: "bad_request", 404: "not_found", 405: "method_not_allowed", 413: "too_large"}
        code = codes.get(exc.status_code, "http_error")
        return JSONResponse(
            _body(request, code, str(exc.detail)),
            exc.status_code,
            headers=getattr(exc, "headers", None),
        )

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return JSONResponse(
            _body(request, "internal_error", "internal error; quote the request id when reporting"),
            500,
        )


def _jsonable(details: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for k, v in details.items():
        out[k] = v if isinstance(v, str | int | float | bool | list | dict | type(None)) else str(v)
    return out
