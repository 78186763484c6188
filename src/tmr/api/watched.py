"""Run a registration in the thread pool while watching whether its client still waits.

A client that disconnects (gave up, timed out) before the change commits gets nothing stored:
``tmr.abandon.check()``, called by the services just before they commit, sees the flag set here
and rolls the change back. See tmr/abandon.py.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import TypeVar

from fastapi import Request
from fastapi.concurrency import run_in_threadpool

from tmr import abandon

T = TypeVar("T")
POLL_SECONDS = 0.2


async def while_client_waits(request: Request, work: Callable[[], T]) -> T:
    gone = threading.Event()

    def watched() -> T:
        with abandon.watching(gone):
            return work()

    async def watch() -> None:
        while not await request.is_disconnected():
            await asyncio.sleep(POLL_SECONDS)
        gone.set()

    watcher = asyncio.create_task(watch())
    try:
        return await run_in_threadpool(watched)
    finally:
        watcher.cancel()
