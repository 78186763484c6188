"""A token serves exactly its budget of calls, from 1 or 100 concurrent clients, and never more
than that across two server processes sharing one PostgreSQL database (issue 7)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.served_process import ServedRegistry

BUDGET = 1000


async def _drain(bases: list[str], token: str, clients: int) -> tuple[int, int, int]:
    """Every client calls (round-robin over the servers) until the token has been refused 3
    times in a row per server; (calls served, calls refused, answers lost).

    A call whose answer is lost in transport (on a loaded machine a keep-alive connection the
    server has just closed is sometimes reused: httpx.ReadError) may or may not have spent a
    call: it is counted apart (``lost``, at most 5) and the next call goes on, so the budget
    is checked as ``served <= budget <= served + lost``."""
    served = refused = lost = 0
    # keep-alive shorter than the server's (5 s): never reuse a connection it closed
    limits = httpx.Limits(
        max_connections=clients, max_keepalive_connections=clients, keepalive_expiry=1.0
    )
    async with httpx.AsyncClient(
        headers={"X-Authorization": token}, limits=limits, timeout=60
    ) as client:

        async def worker(i: int) -> None:
            nonlocal served, refused, lost
            streak = 0
            n = i
            while streak < 3 * len(bases):
                base = bases[n % len(bases)]
                n += 1
                try:
                    r = await client.post(f"{base}/artifacts", json=[{"name": "*"}])
                except httpx.TransportError:
                    lost += 1
                    assert lost <= 5, "too many answers lost in transport"
                    continue
                if r.status_code == 200:
                    served += 1
                    streak = 0
                else:
                    assert r.status_code == 403, r.text
                    refused += 1
                    streak += 1

        await asyncio.gather(*(worker(i) for i in range(clients)))
    return served, refused, lost


@pytest.fixture
def one_server(tmp_path: Path) -> Iterator[ServedRegistry]:
    server = ServedRegistry(tmp_path / "served").start()
    yield server
    server.stop()


@pytest.mark.parametrize("clients", [1, 100])
def test_one_token_serves_exactly_its_budget(one_server: ServedRegistry, clients: int) -> None:
    token = one_server.token()
    served, refused, lost = asyncio.run(_drain([one_server.base], token, clients))
    assert served <= BUDGET <= served + lost
    assert refused >= 3


def test_two_processes_on_postgresql_never_exceed_the_budget(
    tmp_path: Path, pg_database: str
) -> None:
    servers = [
        ServedRegistry(tmp_path / f"replica{i}", TMR_DATABASE_URL=pg_database).start()
        for i in range(2)
    ]
    try:
        token = servers[0].token()
        served, _, lost = asyncio.run(_drain([s.base for s in servers], token, 100))
        # Never more; and what one replica leased but did not serve is at most a few calls
        # (leases shrink to a quarter of what is left), which the round-robin clients drain.
        assert served + lost >= BUDGET - 5 and served <= BUDGET
    finally:
        for server in servers:
            server.stop()
