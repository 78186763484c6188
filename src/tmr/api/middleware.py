"""Per-request bookkeeping: request id, one structured log line, activity for the dashboard.

Pure ASGI (not BaseHTTPMiddleware) so streamed download bodies pass through untouched.
"""

from __future__ import annotations

import json
import logging
import secrets
import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tmr.api.prometheus import HttpMetrics
from tmr.logging_setup import request_id_var
from tmr.services.activity import ActivityLog, RequestRecord

log = logging.getLogger("tmr.http")
_TYPES = ("model", "dataset", "code")
STATIC_PREFIX = "/static/"


class RequestLogMiddleware:
    def __init__(
        self, app: ASGIApp, activity: ActivityLog, metrics: HttpMetrics | None = None
    ) -> None:
        self.app = app
        self.activity = activity
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _incoming_id(scope) or secrets.token_hex(8)
        token = request_id_var.set(request_id)
        scope.setdefault("state", {})["request_id"] = request_id
        started = time.perf_counter()
        status = 500
        responded = False

        async def send_with_id(message: Message) -> None:
            nonlocal status, responded
            if message["type"] == "http.response.start":
                status = message["status"]
                responded = True
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode()))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            # A bug: logged here, while the request id is still set, so the log line and the
            # 500 body name the same request (Starlette's own handler runs after it is reset).
            log.exception("unhandled error on %s %s", scope["method"], scope["path"])
            if responded:
                raise
            for message in _internal_error(request_id):
                await send_with_id(message)
        finally:
            latency_ms = (time.perf_counter() - started) * 1000
            if scope["path"].startswith(STATIC_PREFIX):
                # The web interface's files: not API traffic, kept out of the health figures.
                log.debug("%s %s %s", scope["method"], scope["path"], status)
            else:
                self._account(scope, status, latency_ms)
            request_id_var.reset(token)

    def _account(self, scope: Scope, status: int, latency_ms: float) -> None:
        route = _route_template(scope)
        client = scope.get("client")
        artifact_type = _artifact_type(scope)
        if self.metrics is not None:
            self.metrics.observe(scope["method"], route, status, latency_ms / 1000, artifact_type)
        self.activity.record(
            RequestRecord(
                at=time.time(),
                method=scope["method"],
                route=route,
                status=status,
                latency_ms=latency_ms,
                artifact_type=artifact_type,
                client=client[0] if client else None,
            )
        )
        fields: dict[str, Any] = {
            "method": scope["method"],
            "path": scope["path"],
            "route": route,
            "status": status,
            "latency_ms": round(latency_ms, 2),
            "user": scope.get("state", {}).get("user"),
        }
        log.info("%s %s %s", scope["method"], scope["path"], status, extra={"fields": fields})


def _internal_error(request_id: str) -> tuple[Message, Message]:
    body = json.dumps(
        {
            "error": "internal_error",
            "message": "internal error; quote the request id when reporting",
            "details": {},
            "request_id": request_id,
        }
    ).encode()
    start: Message = {
        "type": "http.response.start",
        "status": 500,
        "headers": [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
        ],
    }
    return start, {"type": "http.response.body", "body": body}


def _incoming_id(scope: Scope) -> str | None:
    for name, value in scope.get("headers", []):
        if name == b"x-request-id":
            text = value.decode("latin-1")
            if 0 < len(text) <= 64 and text.replace("-", "").isalnum():
                return str(text)
    return None


def _route_template(scope: Scope) -> str:
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else "unmatched"


def _artifact_type(scope: Scope) -> str | None:
    params = scope.get("path_params") or {}
    value = params.get("artifact_type")
    if value is not None:
        return str(getattr(value, "value", value))
    for t in _TYPES:
        if f"/{t}/" in scope["path"]:
            return t
    return None
