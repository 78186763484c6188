"""The process-wide upstream HTTP clients: one per configuration, reused, bounded in number, and
all closed at exit (a closed one is replaced on next use)."""

from __future__ import annotations

import pytest

from tmr.sources import clients
from tmr.sources.clients import close_shared_clients, shared_client


def test_one_client_per_configuration_bounded_and_replaced_when_closed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(clients, "MAX_CLIENTS", 2)
    monkeypatch.setattr(clients, "_clients", type(clients._clients)())
    a = shared_client(timeout=1.0, base_url="http://a.test")
    assert shared_client(timeout=1.0, base_url="http://a.test") is a  # reused
    shared_client(timeout=1.0, base_url="http://b.test", headers={"X-Token": "t"})
    c = shared_client(timeout=2.0, base_url="http://c.test")  # a third: the oldest is forgotten
    assert len(clients._clients) == 2
    assert not a.is_closed  # forgotten, not closed: a request in flight on it still finishes
    again = shared_client(timeout=1.0, base_url="http://a.test")
    assert again is not a

    close_shared_clients()

    assert c.is_closed and again.is_closed and len(clients._clients) == 0
    fresh = shared_client(timeout=2.0, base_url="http://c.test")
    assert fresh is not c and not fresh.is_closed
    close_shared_clients()
    a.close()
