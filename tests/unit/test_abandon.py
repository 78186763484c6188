"""tmr.abandon: a change whose client has gone is not committed (the check the services make
just before their commit; tests/integration/test_outages.py drives it over HTTP)."""

from __future__ import annotations

import threading

import pytest

from tmr import abandon


def test_check_passes_outside_a_request_and_while_the_client_waits() -> None:
    abandon.check()  # no request being watched: nothing to refuse
    gone = threading.Event()
    with abandon.watching(gone):
        abandon.check()


def test_check_refuses_once_the_client_has_gone_and_only_within_its_request() -> None:
    gone = threading.Event()
    with abandon.watching(gone):
        gone.set()
        with pytest.raises(abandon.ClientGone) as refused:
            abandon.check()
    assert refused.value.status_code == 499
    assert refused.value.message == (
        "the client disconnected before the change was stored; nothing was kept"
    )
    abandon.check()  # the watch ended with its block
