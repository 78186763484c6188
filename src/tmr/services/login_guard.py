"""Failed-login throttling per account and per client address (issue 7).

Each failed login counts against two keys, ``user:<name>`` and ``addr:<client address>``. The
first ``TMR_LOGIN_FREE_FAILURES`` failures within ``TMR_LOGIN_FAILURE_WINDOW`` seconds cost
nothing; after that each failure blocks its key for a doubling time (1 s, 2 s, 4 s, … at most
``TMR_LOGIN_BACKOFF_MAX`` seconds). A login attempt on a blocked key is answered 429 with
``Retry-After`` before any password work. A successful login clears its account's count and
is never delayed, so a client minting tokens is never throttled; only failures count.

The state lives in the ``login_throttle`` table of the registry's own database, so replicas on
PostgreSQL share it and the embedded SQLite default needs nothing extra. (Redis would add a
service to run for the scale-out backend only; a login already writes its token row, so one
more small row write per *failed* login costs little.)
"""

from __future__ import annotations

import math
import time

from tmr.config import Settings
from tmr.errors import RateLimited
from tmr.storage.db.engine import Database
from tmr.storage.db.login_throttle import LoginThrottleRepository


def _keys(name: str, address: str | None) -> list[str]:
    keys = ["user:" + name[:256]]
    if address:
        keys.append("addr:" + address[:64])
    return keys


class LoginGuard:
    def __init__(self, db: Database, settings: Settings) -> None:
        self.db = db
        self.free = settings.login_free_failures
        self.window = settings.login_failure_window_seconds
        self.max_backoff = settings.login_backoff_max_seconds

    def backoff(self, failures: int) -> float:
        """Seconds a key is blocked after its ``failures``-th failure in the window."""
        over = failures - self.free
        if over <= 0:
            return 0.0
        return float(min(self.max_backoff, 2 ** min(over - 1, 30)))

    def check(self, name: str, address: str | None) -> None:
        """Raise RateLimited (429, Retry-After) while the account or the address is blocked."""
        now = time.time()
        with self.db.read() as s:
            until = LoginThrottleRepository(s).blocked_until(_keys(name, address), now)
        if until is not None:
            wait = max(1, math.ceil(until - now))
            raise RateLimited(
                f"too many failed logins for this account or address: retry in {wait} s",
                retry_after=wait,
            )

    def failed(self, name: str, address: str | None) -> None:
        now = time.time()
        with self.db.transaction() as s:
            repo = LoginThrottleRepository(s)
            for key in _keys(name, address):
                wait = self.backoff(repo.count_failure(key, now, self.window))
                repo.block(key, now + wait if wait > 0 else 0.0)

    def succeeded(self, name: str) -> None:
        """The account's owner proved the password: its failure count starts again."""
        key = _keys(name, None)[0]
        with self.db.read() as s:
            present = LoginThrottleRepository(s).exists(key)
        if present:
            with self.db.transaction() as s:
                LoginThrottleRepository(s).forget(key)

    def sweep(self) -> None:
        """Forget keys whose last failure is older than the window and which are not blocked."""
        with self.db.transaction() as s:
            LoginThrottleRepository(s).forget_stale(time.time(), self.window)
