"""What runs when a server process starts and stops.

Start: the crash-leftover sweep (tmr.services.sweeper), then again every
``TMR_SWEEP_INTERVAL_SECONDS`` (0 turns the periodic sweep off), and the search index is built
in the background (tmr.services.search; a query arriving first waits for it). Stop: unused
leased token calls go back to the database (tmr.services.token_budget) and this replica's last
request records are written (tmr.services.activity).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from fastapi import FastAPI
from fastapi.concurrency import run_in_threadpool

from tmr.api.heap import freeze_settled
from tmr.errors import TmrError
from tmr.services.activity import ActivityLog
from tmr.services.auth import AuthService
from tmr.services.search import SearchIndex
from tmr.services.sweeper import Sweeper

log = logging.getLogger("tmr.lifecycle")


async def _sweep_forever(sweeper: Sweeper, interval: float) -> None:
    while True:
        try:
            await run_in_threadpool(sweeper.sweep)
        except Exception:  # noqa: BLE001 - a failed sweep must not stop the server
            log.exception("crash-leftover sweep failed; retrying at the next interval")
        if interval <= 0:
            return
        await asyncio.sleep(interval)


def _build_search_index(search: SearchIndex) -> None:
    try:
        search.warm()
    except Exception:  # noqa: BLE001 - the first query builds it instead
        log.exception("building the search index at start-up failed")
        return
    freeze_settled()  # api/heap.py: the index lives as long as the process


def lifespan_for(
    sweeper: Sweeper,
    sweep_interval: float,
    auth: AuthService,
    activity: ActivityLog,
    search: SearchIndex,
) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        sweeping = asyncio.create_task(_sweep_forever(sweeper, sweep_interval))
        # a daemon thread: shutting down never waits for a build still running
        threading.Thread(
            target=_build_search_index, args=(search,), name="search-index", daemon=True
        ).start()
        try:
            yield
        finally:
            sweeping.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await sweeping
            try:  # a database outage at shutdown loses these figures, never the shutdown
                await run_in_threadpool(auth.budget.release_all)
            except TmrError as exc:
                log.warning("token calls not returned at shutdown: %s", exc.message)
            activity.close()  # write this replica's last request records

    return lifespan
