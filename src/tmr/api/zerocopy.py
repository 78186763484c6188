"""Zero-copy file responses (``sendfile``) under uvicorn, through the ASGI path-send extension.

Starlette's ``FileResponse`` sends ``http.response.pathsend`` (the whole file, by path) when the
server lists that extension in the scope; otherwise it reads the file in Python and sends it
chunk by chunk (two copies through user space and an event-loop turn per 64 KiB). Granian
implements path-send in Rust; uvicorn does not implement it at all. This ASGI wrapper, outermost
around the app, adds it for uvicorn's HTTP/1.1 protocols on the standard asyncio loop: it lets
the response's status and headers go out as usual, then hands the file to
``loop.sendfile`` on the connection's transport, which is ``os.sendfile`` (the kernel copies
file pages straight to the socket, as nginx does with ``sendfile on``), and closes the response
with an empty final body. Where that is not possible (TLS, uvloop, another server, HEAD and
``Range`` responses, which ``FileResponse`` streams itself) nothing changes.
"""

from __future__ import annotations

import asyncio
from typing import Any

Scope = dict[str, Any]
Message = dict[str, Any]
PATHSEND = "http.response.pathsend"


class ZeroCopyFiles:
    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or PATHSEND in (scope.get("extensions") or {}):
            await self.app(scope, receive, send)
            return
        cycle = getattr(send, "__self__", None)  # uvicorn's RequestResponseCycle
        transport = getattr(cycle, "transport", None)
        if (
            transport is None
            or not hasattr(cycle, "expected_content_length")
            or transport.get_extra_info("sslcontext") is not None
            or not isinstance(asyncio.get_running_loop(), asyncio.BaseEventLoop)
        ):
            await self.app(scope, receive, send)
            return
        scope = {**scope, "extensions": {**(scope.get("extensions") or {}), PATHSEND: {}}}

        async def sender(message: Message) -> None:
            if message["type"] != PATHSEND:
                await send(message)
                return
            await _sendfile(cycle, transport, message["path"])

        await self.app(scope, receive, sender)


async def _sendfile(cycle: Any, transport: asyncio.Transport, path: str) -> None:
    loop = asyncio.get_running_loop()
    count = int(cycle.expected_content_length)
    with open(path, "rb") as file:  # noqa: ASYNC230 (opening is a metadata lookup)
        if count and not getattr(cycle, "disconnected", False):
            try:
                await loop.sendfile(transport, file, 0, count)
            except OSError:  # the client went away mid-file
                transport.close()
                return
    cycle.expected_content_length = 0
    await cycle.send({"type": "http.response.body", "body": b"", "more_body": False})
