"""The token budget's leases, decided one step at a time on a real SQLite database.

Each test drives ``TokenBudget`` directly with a clock of its own (the module's ``time``
replaced), so the sizes of grants and top-ups, when a lease is usable, what is given back and
when a top-up is asked for are checked exactly, not only "the budget is served in the end"
(tests/unit/test_auth_service.py does that).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import pytest

from tmr.config import load_settings
from tmr.domain.artifact import User
from tmr.errors import Forbidden
from tmr.services import token_budget
from tmr.services.auth import (
    ALL_PERMISSIONS,
    DEFAULT_ADMIN,
    AuthService,
    strip_bearer,
    token_digest,
)
from tmr.services.token_budget import (
    FAST_LEASE_SECONDS,
    LEASE_CALLS,
    LEASE_SECONDS,
    MAX_LEASE_CALLS,
    TokenBudget,
    _Lease,
    _next_size,
    _top_up_size,
)
from tmr.storage.db.engine import Database
from tmr.storage.db.migrate import upgrade
from tmr.storage.db.users import UserRepository

ADMIN = User(DEFAULT_ADMIN, True, ALL_PERMISSIONS)
WALL = 1_000_000.0  # the wall clock the tests start at (epoch seconds)


class Clock:
    """Stands in for the ``time`` module inside token_budget: both clocks move together."""

    def __init__(self) -> None:
        self.now = 100.0

    def monotonic(self) -> float:
        return self.now

    def time(self) -> float:
        return WALL + self.now


class Submissions:
    """Stands in for the top-up worker: records what is submitted, runs it only when asked."""

    def __init__(self, refuse: bool = False) -> None:
        self.calls: list[tuple[Any, ...]] = []
        self.refuse = refuse
        self.shut = False

    def submit(self, fn: Any, *args: Any) -> Future[None]:
        if self.refuse:
            raise RuntimeError("cannot schedule new futures after shutdown")
        self.calls.append((fn, *args))
        return Future()

    def run_all(self) -> None:
        calls, self.calls = self.calls, []
        for fn, *args in calls:
            fn(*args)

    def shutdown(self, wait: bool = True) -> None:
        self.shut = wait


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr(token_budget, "time", fake)
    return fake


@pytest.fixture
def auth(tmp_path: Path) -> Iterator[AuthService]:
    db = Database(f"sqlite:///{tmp_path / 'budget.db'}")
    upgrade(db.engine)
    service = AuthService(db, load_settings(data_dir=tmp_path, TMR_TOKEN_MAX_CALLS=10_000))
    service.ensure_default_admin()
    yield service
    db.engine.dispose()


def _digest(token: str) -> str:
    raw = strip_bearer(token)
    assert raw is not None
    return token_digest(raw)


def _token(auth: AuthService, calls: int) -> tuple[str, TokenBudget, str]:
    """A fresh token of ``calls`` calls, the budget that spends it, and its digest."""
    token = auth.issue_token(DEFAULT_ADMIN, calls)
    return token, auth.budget, _digest(token)


def _left(auth: AuthService, token: str) -> int:
    """The calls the database still holds for ``token`` (leased calls are not among them)."""
    digest = _digest(token)
    with auth.db.read() as s:
        tokens = UserRepository(s).tokens_of(DEFAULT_ADMIN)
    return next(t.calls_left for t in tokens if t.token_hash == digest)


def _lease(calls: int = 10, granted: int = 10, taken_at: float = 100.0, **kw: Any) -> _Lease:
    values: dict[str, Any] = {
        "user": ADMIN,
        "expires_at": WALL + 10_000,
        "lapses_at": 100.0 + LEASE_SECONDS,
        **kw,
    }
    return _Lease(calls=calls, granted=granted, taken_at=taken_at, **values)


# --- sizes ---------------------------------------------------------------------------------------
def test_the_next_lease_doubles_only_after_one_used_up_fast(clock: Clock) -> None:
    assert _next_size(None) == LEASE_CALLS  # the first
    assert _next_size(_lease(calls=3, granted=40)) == LEASE_CALLS  # lapsed with calls left
    clock.now = 100.0 + FAST_LEASE_SECONDS
    assert _next_size(_lease(calls=0, granted=40)) == LEASE_CALLS  # used up at a slow pace
    clock.now = 100.0 + FAST_LEASE_SECONDS - 0.01
    assert _next_size(_lease(calls=0, granted=40)) == 80
    assert _next_size(_lease(calls=0, granted=5)) == LEASE_CALLS  # never below the base
    assert _next_size(_lease(calls=0, granted=700)) == MAX_LEASE_CALLS  # nor above the cap


def test_a_top_up_follows_the_pace_of_the_half_just_spent(clock: Clock) -> None:
    half = FAST_LEASE_SECONDS / 2
    clock.now = 100.0 + half - 0.01  # spent in under half the fast pace: twice the grant
    assert _top_up_size(_lease(granted=40)) == 80
    assert _top_up_size(_lease(granted=5)) == LEASE_CALLS
    assert _top_up_size(_lease(granted=600)) == MAX_LEASE_CALLS
    clock.now = 100.0 + half  # a steady stream: the same grant (at least the base)
    assert _top_up_size(_lease(granted=40)) == 40
    assert _top_up_size(_lease(granted=5)) == LEASE_CALLS
    clock.now = 100.0 + 2 * FAST_LEASE_SECONDS - 0.01
    assert _top_up_size(_lease(granted=40)) == 40
    clock.now = 100.0 + 2 * FAST_LEASE_SECONDS  # slow: the base size
    assert _top_up_size(_lease(granted=40)) == LEASE_CALLS


def test_a_lease_is_usable_only_with_calls_before_it_lapses_and_the_token_expires(
    clock: Clock,
) -> None:
    assert _lease(calls=1).usable()
    assert not _lease(calls=0).usable()
    clock.now = 100.0 + LEASE_SECONDS  # the lease lapses at exactly that instant
    assert not _lease(calls=5).usable()
    clock.now = 100.0
    assert not _lease(calls=5, expires_at=WALL + 100.0).usable()  # the token expired now
    assert _lease(calls=5, expires_at=WALL + 100.01).usable()


# --- spending ------------------------------------------------------------------------------------
def test_the_first_call_takes_a_lease_and_the_rest_spend_it_from_memory(
    auth: AuthService, clock: Clock
) -> None:
    token, budget, digest = _token(auth, 10_000)
    assert budget.spend_cached(digest) is None  # no lease yet
    assert budget.spend(digest).name == DEFAULT_ADMIN
    lease = budget._leases[digest]
    assert (lease.calls, lease.granted, lease.taken_at) == (LEASE_CALLS - 1, LEASE_CALLS, 100.0)
    assert lease.lapses_at == 100.0 + LEASE_SECONDS
    assert lease.expires_at > WALL + 100.0  # the token's own expiry, from the database
    assert _left(auth, token) == 10_000 - LEASE_CALLS
    budget._top_ups = Submissions()  # type: ignore[assignment]
    assert budget.spend(digest).name == DEFAULT_ADMIN  # served by the lease another renewed
    assert lease.calls == LEASE_CALLS - 2
    assert _left(auth, token) == 10_000 - LEASE_CALLS


def test_a_lapsed_lease_gives_its_calls_back_when_renewed(auth: AuthService, clock: Clock) -> None:
    token, budget, digest = _token(auth, 10_000)
    budget.spend(digest)  # a lease of 25, one spent
    clock.now += LEASE_SECONDS  # it lapses with 24 calls in memory
    assert budget.spend_cached(digest) is None
    budget.spend(digest)
    lease = budget._leases[digest]
    assert (lease.calls, lease.granted) == (LEASE_CALLS - 1, LEASE_CALLS)  # 24 left: base size
    # 25 taken, 24 returned, 25 taken again
    assert _left(auth, token) == 10_000 - LEASE_CALLS - 1


def test_a_lease_used_up_fast_is_followed_by_a_larger_one(auth: AuthService, clock: Clock) -> None:
    token, budget, digest = _token(auth, 10_000)
    budget._top_ups = Submissions()  # type: ignore[assignment]  # top-ups never land
    for _ in range(LEASE_CALLS):
        budget.spend(digest)
    assert budget._leases[digest].calls == 0
    budget.spend(digest)  # renewed within the fast pace: twice the grant
    assert budget._leases[digest].granted == 2 * LEASE_CALLS
    assert _left(auth, token) == 10_000 - 3 * LEASE_CALLS


def test_a_spent_or_revoked_token_is_refused_on_renewal(auth: AuthService, clock: Clock) -> None:
    token, budget, digest = _token(auth, 1)
    assert budget.spend(digest).name == DEFAULT_ADMIN
    with pytest.raises(Forbidden) as refused:
        budget.spend(digest)
    assert refused.value.message == (
        "the token is invalid or expired (1000 calls or 10 hours): log in again"
    )
    assert digest not in budget._leases


# --- topping up ----------------------------------------------------------------------------------
def test_a_top_up_is_asked_once_when_half_the_grant_is_spent(
    auth: AuthService, clock: Clock
) -> None:
    token, budget, digest = _token(auth, 10_000)
    budget.spend(digest)  # 24 of 25 left
    worker = Submissions()
    budget._top_ups = worker  # type: ignore[assignment]
    for _ in range(11):  # down to 13: more than half
        budget.spend_cached(digest)
    assert worker.calls == []
    budget.spend_cached(digest)  # 12: half (12 * 2 <= 25) — ask
    assert [args[1:] for args in worker.calls] == [(digest, budget._leases[digest])]
    assert budget._leases[digest].topping_up
    budget.spend_cached(digest)  # already asked: not again
    assert len(worker.calls) == 1
    clock.now += 0.1  # the half went fast: the top-up doubles the grant
    worker.run_all()
    lease = budget._leases[digest]
    assert (lease.calls, lease.granted, lease.taken_at) == (11 + 50, 50, 100.1)
    assert lease.lapses_at == 100.1 + LEASE_SECONDS
    assert not lease.topping_up
    assert _left(auth, token) == 10_000 - LEASE_CALLS - 50


def test_a_top_up_that_cannot_be_scheduled_leaves_the_renewal_path(
    auth: AuthService, clock: Clock
) -> None:
    token, budget, digest = _token(auth, 10_000)
    budget.spend(digest)
    budget._top_ups = Submissions(refuse=True)  # type: ignore[assignment]  # shutting down
    for _ in range(12):
        assert budget.spend_cached(digest) == ADMIN
    assert not budget._leases[digest].topping_up


def test_a_top_up_for_a_lease_forgotten_meanwhile_changes_nothing(
    auth: AuthService, clock: Clock
) -> None:
    token, budget, digest = _token(auth, 10_000)
    budget.spend(digest)
    lease = budget._leases[digest]
    lease.topping_up = True
    budget.forget(DEFAULT_ADMIN)  # logged out: the lease is dropped
    budget._top_up(digest, lease)
    assert not lease.topping_up
    assert lease.calls == LEASE_CALLS - 1
    assert _left(auth, token) == 10_000 - LEASE_CALLS


def test_a_top_up_taken_while_its_lease_was_forgotten_is_given_back(
    auth: AuthService, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    token, budget, digest = _token(auth, 10_000)
    budget.spend(digest)
    lease = budget._leases[digest]
    taking = budget.db.transaction
    first = threading.Event()

    def forget_during_the_first(*args: Any, **kwargs: Any) -> Any:
        if not first.is_set():
            first.set()
            budget.forget(DEFAULT_ADMIN)  # dropped while the grant is being taken
        return taking(*args, **kwargs)

    monkeypatch.setattr(budget.db, "transaction", forget_during_the_first)
    budget._top_up(digest, lease)
    assert lease.calls == LEASE_CALLS - 1  # nothing added to a lease no one holds
    assert _left(auth, token) == 10_000 - LEASE_CALLS  # the grant went back


def test_a_top_up_of_a_spent_token_adds_nothing(auth: AuthService, clock: Clock) -> None:
    token, budget, digest = _token(auth, 1)
    budget.spend(digest)
    lease = budget._leases[digest]
    lease.topping_up = True
    budget._top_up(digest, lease)
    assert (lease.calls, lease.topping_up) == (0, False)


def test_a_top_up_against_a_failing_database_is_logged_and_cleared(
    auth: AuthService,
    clock: Clock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    token, budget, digest = _token(auth, 10_000)
    budget.spend(digest)
    lease = budget._leases[digest]
    lease.topping_up = True

    def down(*args: Any, **kwargs: Any) -> Any:
        raise OSError("database unreachable")

    warned: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = warned.append  # type: ignore[method-assign]
    # on the module's own logger, at its own level: the app's logging set-up (run by other
    # tests in the same process) stops propagation and silences "tmr" at LOG_LEVEL=0
    log, level = token_budget.log, token_budget.log.level
    log.addHandler(handler)
    log.setLevel(logging.WARNING)
    monkeypatch.setattr(budget.db, "transaction", down)
    try:
        budget._top_up(digest, lease)
    finally:
        log.removeHandler(handler)
        log.setLevel(level)
    assert not lease.topping_up
    assert lease.calls == LEASE_CALLS - 1
    assert [r.getMessage() for r in warned] == ["topping up a token's lease failed"]


# --- forgetting and releasing --------------------------------------------------------------------
def test_forget_drops_one_users_leases_or_all_but_one_users(auth: AuthService) -> None:
    budget = TokenBudget(auth.db)
    alice, bob = User("alice", False, frozenset()), User("bob", False, frozenset())
    leases = {"a": _lease(user=alice), "b": _lease(user=bob), "c": _lease(user=alice)}

    def held() -> list[str]:
        return sorted(budget._leases)

    budget._leases = dict(leases)
    budget.forget("alice")
    assert held() == ["b"]
    budget._leases = dict(leases)
    budget.forget(keep="alice")
    assert held() == ["a", "c"]
    budget._leases = dict(leases)
    budget.forget()
    assert held() == []


def test_release_all_returns_every_unused_call_and_stops_the_worker(
    auth: AuthService, clock: Clock
) -> None:
    first = auth.issue_token(DEFAULT_ADMIN, 10_000)
    second = auth.issue_token(DEFAULT_ADMIN, 10_000)
    budget = auth.budget
    budget.spend(_digest(first))
    budget.spend(_digest(second))
    budget.spend(_digest(second))
    budget._leases["gone"] = _lease(calls=0)  # an empty lease returns nothing
    worker = Submissions()
    budget._top_ups = worker  # type: ignore[assignment]
    assert budget.release_all() == (LEASE_CALLS - 1) + (LEASE_CALLS - 2)
    assert worker.shut
    assert budget._leases == {}
    assert _left(auth, first) == 10_000 - 1
    assert _left(auth, second) == 10_000 - 2
    assert budget.release_all() == 0


def test_a_single_unused_call_is_given_back_on_renewal_and_at_release(
    auth: AuthService, clock: Clock
) -> None:
    token, budget, digest = _token(auth, 10_000)
    budget.spend(digest)
    budget._leases[digest].calls = 1  # as if 23 more had been spent: one left
    clock.now += LEASE_SECONDS
    budget.spend(digest)  # renewed: the one left goes back before the next grant
    assert _left(auth, token) == 10_000 - 24 - LEASE_CALLS
    budget._leases[digest].calls = 1
    budget._top_ups = Submissions()  # type: ignore[assignment]
    assert budget.release_all() == 1
    assert _left(auth, token) == 10_000 - 24 - LEASE_CALLS + 1
