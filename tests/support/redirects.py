"""FastAPI's TestClient follows redirects, but only into the app: a 302 to a presigned S3 URL
(``http://127.0.0.1:<port>/bucket/key?X-Amz-...``, what bundle and file downloads answer when
the blobs live in S3) would be sent to the app again and come back 404.

``install()`` teaches every TestClient transport that a request for a loopback address with an
explicit port (the SeaweedFS server the tests started) is a real HTTP request, made with httpx's
own transport; requests for the app (``http://testserver``) go to the app as before. Nothing
leaves loopback (the hermetic guard still applies to those sockets).
"""

from __future__ import annotations

from typing import Any

from starlette import testclient
from starlette.testclient import _TestClientTransport

httpx: Any = testclient.httpx  # httpx2 or httpx, whichever Starlette's TestClient uses

_REAL_HOSTS = {"127.0.0.1", "localhost", "::1"}
_installed = False


def _is_real_server(url: Any) -> bool:
    return url.host in _REAL_HOSTS and url.port is not None


def install() -> None:
    global _installed
    if _installed:
        return
    _installed = True
    to_app = _TestClientTransport.handle_request
    network = httpx.HTTPTransport(retries=0)

    def handle_request(self: _TestClientTransport, request: Any) -> Any:
        if not _is_real_server(request.url):
            return to_app(self, request)
        response = network.handle_request(request)
        response.read()  # the TestClient reads bodies eagerly too; frees the connection
        return response

    _TestClientTransport.handle_request = handle_request  # type: ignore[method-assign]
