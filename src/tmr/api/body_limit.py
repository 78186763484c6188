"""Request-body limits, enforced before the body is read and before authentication (issue 7).

Pure ASGI, outermost but for the request log: a declared ``Content-Length`` above the route's
limit is answered 413 without reading a byte; a body without one (chunked) is counted as it
streams and cut off at the limit. JSON routes get ``TMR_MAX_BODY_BYTES`` (1 MiB); the upload
routes (also a group's upload command) get ``TMR_MAX_UPLOAD_BYTES`` plus room for the multipart
envelope. Access control (tmr.api.permissions) runs inside this, before the router: a body is
read only after its token is accepted, so an unauthenticated upload is refused before anything
is read or written. (A refused request's unread body is drained by the server, not buffered:
memory stays flat; closing instead would reset the connection before many clients read the
answer.)
"""

from __future__ import annotations

import json
import re

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

UPLOAD_PATH = re.compile(r"^(/artifact/[^/]+/upload|/groups/[^/]+/commands/upload)/?$")
MULTIPART_SLACK = 1024 * 1024  # boundaries, part headers and the optional name field


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, json_limit: int, upload_limit: int) -> None:
        self.app = app
        self.json_limit = json_limit
        self.upload_limit = upload_limit + MULTIPART_SLACK

    def limit_for(self, path: str) -> int:
        return self.upload_limit if UPLOAD_PATH.match(path) else self.json_limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope["path"])
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            await _refuse(scope, send, declared, limit)
            return
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    # An HTTPException passes FastAPI's body parsing untouched (anything else
                    # would become its generic 400) and is rendered by tmr.api.errors.
                    raise HTTPException(413, _message(None, limit), {"Connection": "close"})
            return message

        await self.app(scope, counted, send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            text = value.decode("latin-1").strip()
            return int(text) if text.isdigit() else None
    return None


def _message(declared: int | None, limit: int) -> str:
    size = f"of {declared} bytes " if declared is not None else ""
    return f"the request body {size}exceeds this route's limit of {limit} bytes"


async def _refuse(scope: Scope, send: Send, declared: int, limit: int) -> None:
    body = json.dumps(
        {
            "error": "too_large",
            "message": _message(declared, limit),
            "details": {"limit_bytes": limit},
            "request_id": scope.get("state", {}).get("request_id"),
        }
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
