"""The failed-login guard on both databases: free failures, then a doubling block of the account
and of the address (429 with the wait), a success that clears the account's count, and the audit
key file's refusals."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tmr.errors import RateLimited
from tmr.services.login_guard import LoginGuard
from tmr.storage.db.engine import Database
from tmr.storage.db.migrate import upgrade
from tmr.storage.secrets import load_or_create_key, read_key


@pytest.fixture
def guard(backend, make_settings) -> Iterator[LoginGuard]:  # type: ignore[no-untyped-def]
    settings = make_settings(**backend, login_free_failures=2, login_backoff_max_seconds=4)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    db = Database(settings.resolved_database_url)
    upgrade(db.engine)
    yield LoginGuard(db, settings)
    db.dispose()


def test_failures_past_the_free_ones_block_the_account_and_the_address(guard: LoginGuard) -> None:
    assert [guard.backoff(n) for n in range(1, 7)] == [0.0, 0.0, 1.0, 2.0, 4.0, 4.0]
    for _ in range(2):
        guard.failed("alice", "10.0.0.1")
    guard.check("alice", "10.0.0.1")  # two free failures: not blocked yet
    guard.failed("alice", "10.0.0.1")
    with pytest.raises(RateLimited) as caught:
        guard.check("alice", None)
    assert caught.value.message == (
        "too many failed logins for this account or address: retry in 1 s"
    )
    assert caught.value.details == {"retry_after_seconds": 1}
    with pytest.raises(RateLimited):
        guard.check("bob", "10.0.0.1")  # the address is blocked for every account
    guard.check("bob", "10.0.0.2")


def test_a_successful_login_clears_the_accounts_count(guard: LoginGuard) -> None:
    for _ in range(2):
        guard.failed("carol", None)
    guard.succeeded("carol")
    guard.failed("carol", None)  # counted from zero again: still free
    guard.check("carol", None)
    guard.succeeded("dave")  # no record: nothing to forget
    guard.sweep()
    guard.check("carol", None)


def test_the_audit_key_file_is_created_once_and_checked(tmp_path: Path) -> None:
    path = tmp_path / "audit.key"
    key = load_or_create_key(path)
    assert len(key) >= 16 and load_or_create_key(path) == key
    path.write_text("not hex at all")
    with pytest.raises(ValueError, match=f"^the audit key file {path} does not hold a hex key$"):
        read_key(path)
    path.write_text("abcd")
    with pytest.raises(ValueError, match=f"^the audit key in {path} is shorter than 16 bytes$"):
        read_key(path)
