"""The web interface: a static page and vanilla JavaScript modules served by the registry itself.

Everything ships inside the package (src/tmr/web/static, vendored libraries under vendor/), so
the interface works offline with no second server and no build step. The browser calls the same
JSON API as every other client, with the token kept in sessionStorage.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.responses import FileResponse
from starlette.middleware.gzip import GZipMiddleware
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

STATIC = Path(__file__).parent / "static"

router = APIRouter(include_in_schema=False)


@router.get("/")
def index() -> FileResponse:
    return FileResponse(STATIC / "index.html", headers={"cache-control": "no-cache"})


class _Revalidate:
    """Browsers keep static files but ask again (ETag) so an upgrade shows at once."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def send_cached(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.append((b"cache-control", b"no-cache"))
                message = {**message, "headers": headers}
            await send(message)

        # Small text files: streamed through the gzip middleware rather than handed to the
        # server's zero-copy path (which would bypass compression).
        extensions = {
            k: v
            for k, v in (scope.get("extensions") or {}).items()
            if k not in ("http.response.pathsend", "http.response.zerocopy")
        }
        await self.app({**scope, "extensions": extensions}, receive, send_cached)


def mount(app: FastAPI) -> None:
    app.include_router(router)
    static = _Revalidate(GZipMiddleware(StaticFiles(directory=STATIC), minimum_size=1024))
    app.mount("/static", static, name="static")
