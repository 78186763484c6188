"""Shared, keep-alive ``httpx.Client`` objects for the upstream calls made with httpx.

Building an ``httpx.Client`` loads the CA bundle into a fresh SSL context (tens of milliseconds of
CPU) and starts with no open connection, so a client per request made every small download pay a
TLS setup and a TCP (and TLS) handshake. :func:`shared_client` instead keeps one client per
configuration (base URL, headers, timeout) for the life of the process; httpx clients are
thread-safe, so the registration threads share its connection pool. The set of configurations is
small (one per upstream and token); beyond :data:`MAX_CLIENTS` the oldest is forgotten, not closed,
because another thread may still be using it (the garbage collector closes its sockets).
"""

from __future__ import annotations

import atexit
import threading
from collections import OrderedDict
from collections.abc import Mapping

import httpx

MAX_CLIENTS = 16
# Enough idle connections for the concurrent fetches of one registration (pull requests, small
# files, linked repositories) and a few registrations at once.
_LIMITS = httpx.Limits(max_connections=100, max_keepalive_connections=64, keepalive_expiry=30.0)

_clients: OrderedDict[tuple[object, ...], httpx.Client] = OrderedDict()
_lock = threading.Lock()


def shared_client(
    *, timeout: float, base_url: str = "", headers: Mapping[str, str] | None = None
) -> httpx.Client:
    """The process-wide client for this configuration (redirects followed), created on first use."""
    key = (base_url, tuple(sorted((headers or {}).items())), float(timeout))
    with _lock:
        client = _clients.get(key)
        if client is not None and not client.is_closed:
            _clients.move_to_end(key)
            return client
        client = httpx.Client(
            base_url=base_url,
            headers=dict(headers or {}),
            follow_redirects=True,
            timeout=timeout,
            limits=_LIMITS,
        )
        _clients[key] = client
        while len(_clients) > MAX_CLIENTS:
            _clients.popitem(last=False)
        return client


def close_shared_clients() -> None:
    """Close every shared client (at interpreter exit, so no socket is left for the GC)."""
    with _lock:
        clients = list(_clients.values())
        _clients.clear()
    for client in clients:
        client.close()


atexit.register(close_shared_clients)
