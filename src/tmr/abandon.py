"""Whether the client that asked for a change still waits for the answer.

A registration can outlive its client: the client times out while the object store is
partitioned, the store comes back, and the change would be committed for nobody. The API layer
watches the connection (``watching``) and the services call ``check()`` last thing before their
transaction commits; a client that has gone makes the change roll back (blobs deleted with it),
so an upload answered with an error or not at all never appears later.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from tmr.errors import TmrError

_gone: ContextVar[threading.Event | None] = ContextVar("tmr_client_gone", default=None)


class ClientGone(TmrError):
    """The client disconnected before the change was committed (nginx's 499 convention)."""

    status_code = 499


@contextmanager
def watching(gone: threading.Event) -> Iterator[None]:
    """Within this block (in the thread doing the work), ``check()`` consults ``gone``."""
    token = _gone.set(gone)
    try:
        yield
    finally:
        _gone.reset(token)


def check() -> None:
    """Raise ``ClientGone`` if the client of the current request has disconnected."""
    gone = _gone.get()
    if gone is not None and gone.is_set():
        raise ClientGone("the client disconnected before the change was stored; nothing was kept")
