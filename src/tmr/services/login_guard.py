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

from sqlalchemy import Table, case, delete, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from tmr.config import Settings
from tmr.errors import RateLimited
from tmr.storage.db.engine import Database
from tmr.storage.db.tables import LoginThrottleRow


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
            until = s.scalar(
                select(LoginThrottleRow.blocked_until)
                .where(
                    LoginThrottleRow.key.in_(_keys(name, address)),
                    LoginThrottleRow.blocked_until > now,
                )
                .order_by(LoginThrottleRow.blocked_until.desc())
                .limit(1)
            )
        if until is not None:
            wait = max(1, math.ceil(until - now))
            raise RateLimited(
                f"too many failed logins for this account or address: retry in {wait} s",
                retry_after=wait,
            )

    def failed(self, name: str, address: str | None) -> None:
        now = time.time()
        table = LoginThrottleRow.__table__
        assert isinstance(table, Table)
        insert = pg_insert if self.db.dialect == "postgresql" else sqlite_insert
        with self.db.transaction() as s:
            for key in _keys(name, address):
                stmt = insert(table).values(
                    key=key, failures=1, last_failure_at=now, blocked_until=0.0
                )
                stale = stmt.excluded.last_failure_at - table.c.last_failure_at > self.window
                stmt = stmt.on_conflict_do_update(
                    index_elements=["key"],
                    set_={
                        "failures": case((stale, 1), else_=table.c.failures + 1),
                        "last_failure_at": now,
                    },
                )
                s.execute(stmt)
                row = s.get(LoginThrottleRow, key, populate_existing=True)
                if row is not None:
                    wait = self.backoff(row.failures)
                    row.blocked_until = now + wait if wait > 0 else 0.0

    def succeeded(self, name: str) -> None:
        """The account's owner proved the password: its failure count starts again."""
        with self.db.read() as s:
            present = s.scalar(
                select(LoginThrottleRow.key).where(LoginThrottleRow.key == _keys(name, None)[0])
            )
        if present is not None:
            with self.db.transaction() as s:
                s.execute(delete(LoginThrottleRow).where(LoginThrottleRow.key == present))

    def sweep(self) -> None:
        """Forget keys whose last failure is older than the window and which are not blocked."""
        now = time.time()
        with self.db.transaction() as s:
            s.execute(
                delete(LoginThrottleRow).where(
                    LoginThrottleRow.last_failure_at < now - self.window,
                    LoginThrottleRow.blocked_until < now,
                )
            )
