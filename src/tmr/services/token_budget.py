"""A token's call budget (1000 calls), spent exactly under concurrency and across replicas.

Spending one call per request as a database write would make every request a write, which on
SQLite serialises the whole API. Instead each process *leases* a few calls at a time with one
locked read-modify-write and counts them down in memory:

- **One lease per token per process.** Concurrent requests that find the lease empty queue on a
  per-token lock; the first renews it and the others spend from the renewed lease. (Before, each
  took its own lease and the last one overwrote the others: 50 clients got 630 of 1000 calls.)
- **Leases shrink as the budget runs out** (a quarter of what is left, at most ``LEASE_CALLS``,
  at least one), so at most a few calls sit in another replica's memory when the budget ends.
- **Leases grow with the pace**: a lease spent within ``FAST_LEASE_SECONDS`` of being taken is
  followed by one twice its size (up to ``MAX_LEASE_CALLS``, still at most a quarter of what is
  left), so a token serving thousands of requests a second renews a few times a second instead
  of a hundred (issue 10's read profile: 3 % of the CPU went to renewals of 25 calls).
- **Leases are topped up ahead of need.** When a lease is down to half its last grant, one
  background worker takes the next grant from the database and adds it to the lease, while
  requests keep spending what is left. A busy token therefore never sends its requests to the
  database: before, every request that found the lease empty went to a worker thread and queued
  on the renewal (issue 10's read benchmark: one request in ten, waits of up to 80 ms whenever
  the renewal's commit waited on SQLite's write lock). The renewal path stays for the first call
  and for a lease that ran dry anyway.
- **Unused calls go back.** A lease lapses after ``LEASE_SECONDS`` (so a deleted user's or a
  revoked token's lease in another replica dies within seconds); its remainder is returned to
  the database when the lease is renewed, and every lease is returned when the process stops.
  Only a process killed without shutdown strands its leases: at most ``LEASE_CALLS`` per token.

The budget therefore can never be exceeded across any number of replicas (every call served was
first taken from the row under its lock), and with one process it is served exactly.
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime

from tmr.domain.artifact import User
from tmr.errors import Forbidden
from tmr.storage.db.engine import Database
from tmr.storage.db.users import UserRepository

LEASE_CALLS = 25
MAX_LEASE_CALLS = 1000
FAST_LEASE_SECONDS = 1.0
LEASE_SECONDS = 10.0
_STRIPES = 64
log = logging.getLogger(__name__)


@dataclass
class _Lease:
    user: User
    calls: int
    expires_at: float  # token expiry, epoch seconds
    lapses_at: float  # monotonic
    granted: int = LEASE_CALLS
    taken_at: float = 0.0  # monotonic
    topping_up: bool = False

    def usable(self) -> bool:
        now_ok = time.monotonic() < self.lapses_at and time.time() < self.expires_at
        return self.calls > 0 and now_ok


class TokenBudget:
    def __init__(self, db: Database) -> None:
        self.db = db
        self._leases: dict[str, _Lease] = {}
        self._lock = threading.Lock()
        self._renewing = [threading.Lock() for _ in range(_STRIPES)]
        self._top_ups = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tmr-lease")

    def spend_cached(self, digest: str) -> User | None:
        """Spend one leased call without touching the database; None when none is usable.
        Asks for a top-up (in the background) when the lease is down to half its last grant."""
        with self._lock:
            lease = self._leases.get(digest)
            if lease is None or not lease.usable():
                return None
            lease.calls -= 1
            if lease.calls * 2 > lease.granted or lease.topping_up:
                return lease.user
            lease.topping_up = True
        try:
            self._top_ups.submit(self._top_up, digest, lease)
        except RuntimeError:  # shutting down: the renewal path serves what follows
            lease.topping_up = False
        return lease.user

    def _top_up(self, digest: str, lease: _Lease) -> None:
        """Add the next grant to ``lease`` (still this token's lease) from the database."""
        try:
            with self._renewing[hash(digest) % _STRIPES]:
                with self._lock:
                    if self._leases.get(digest) is not lease:
                        return  # forgotten (revoked, logged out) or renewed meanwhile
                wanted = _top_up_size(lease)
                with self.db.transaction() as s:
                    leased = UserRepository(s).lease_token_calls(digest, datetime.now(UTC), wanted)
                if leased is None:
                    return  # spent, expired or revoked: the lease runs out and spend() says so
                granted = leased[2]
                now = time.monotonic()
                with self._lock:
                    if self._leases.get(digest) is lease:
                        lease.calls += granted
                        lease.granted, lease.taken_at = granted, now
                        lease.lapses_at = now + LEASE_SECONDS
                        return
                with self.db.transaction() as s:  # forgotten while we took it: give it back
                    UserRepository(s).return_token_calls(digest, granted)
        except Exception:  # the database is unreachable: the renewal path will say so
            log.warning("topping up a token's lease failed", exc_info=True)
        finally:
            lease.topping_up = False

    def spend(self, digest: str) -> User:
        """Spend one call, renewing this process's lease from the database when needed."""
        with self._renewing[hash(digest) % _STRIPES]:
            user = self.spend_cached(digest)  # another request may have just renewed it
            if user is not None:
                return user
            with self._lock:
                stale = self._leases.pop(digest, None)
            give_back = stale.calls if stale is not None and stale.calls > 0 else 0
            wanted = _next_size(stale)
            with self.db.transaction() as s:
                users = UserRepository(s)
                leased = users.lease_token_calls(digest, datetime.now(UTC), wanted, give_back)
                user = users.get(leased[0]) if leased else None
            if leased is None or user is None:
                raise Forbidden(
                    "the token is invalid or expired (1000 calls or 10 hours): log in again"
                )
            _, expires, granted = leased
            expires_utc = expires if expires.tzinfo else expires.replace(tzinfo=UTC)
            now = time.monotonic()
            with self._lock:
                self._leases[digest] = _Lease(
                    user, granted - 1, expires_utc.timestamp(), now + LEASE_SECONDS, granted, now
                )
            return user

    def forget(self, user_name: str | None = None, keep: str | None = None) -> None:
        """Drop leases (of one user, or all but ``keep``'s, or all) without returning them."""
        with self._lock:
            self._leases = {
                k: v
                for k, v in self._leases.items()
                if (user_name is not None and v.user.name != user_name)
                or (keep is not None and v.user.name == keep)
            }

    def release_all(self) -> int:
        """Return every unused leased call to the database (at shutdown); the calls returned."""
        self._top_ups.shutdown(wait=True)
        with self._lock:
            leases, self._leases = self._leases, {}
        returned = 0
        pending = {d: lease.calls for d, lease in leases.items() if lease.calls > 0}
        if pending:
            with self.db.transaction() as s:
                users = UserRepository(s)
                for digest, calls in pending.items():
                    users.return_token_calls(digest, calls)
                    returned += calls
        return returned


def _next_size(spent: _Lease | None) -> int:
    """Twice the last lease when it was used up fast, else the base size."""
    if spent is None or spent.calls > 0:
        return LEASE_CALLS
    if time.monotonic() - spent.taken_at >= FAST_LEASE_SECONDS:
        return LEASE_CALLS
    return min(MAX_LEASE_CALLS, max(LEASE_CALLS, spent.granted * 2))


def _top_up_size(lease: _Lease) -> int:
    """A top-up, asked when half the last grant is spent: twice that grant when the half went in
    under half the fast pace, the same for a steady stream, the base size for a slow one."""
    took = time.monotonic() - lease.taken_at
    if took < FAST_LEASE_SECONDS / 2:
        return min(MAX_LEASE_CALLS, max(LEASE_CALLS, lease.granted * 2))
    return max(LEASE_CALLS, lease.granted) if took < 2 * FAST_LEASE_SECONDS else LEASE_CALLS
