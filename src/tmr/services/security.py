"""The security log service: records security events and lists them for administrators.

Events are appended to their own keyed chain (tmr.storage.db.audit.SecurityLogRepository), which
no reset empties. The client address comes from the request (set by the access middleware).
"""

from __future__ import annotations

import logging
from contextvars import ContextVar
from datetime import UTC, datetime

from sqlalchemy.orm import Session

from tmr.domain.security import SecurityAction, SecurityEvent
from tmr.storage.db.audit import SecurityLogRepository
from tmr.storage.db.engine import Database

log = logging.getLogger("tmr.security")
client_address: ContextVar[str | None] = ContextVar("tmr_client_address", default=None)


class SecurityLog:
    def __init__(self, db: Database, key: bytes) -> None:
        self.db = db
        self.key = key

    def event(
        self, action: SecurityAction, actor: str, subject: str, detail: str | None = None
    ) -> SecurityEvent:
        return SecurityEvent(
            action=action,
            actor=actor,
            subject=subject,
            at=datetime.now(UTC),
            detail=detail,
            client=client_address.get(),
        )

    def record(
        self, action: SecurityAction, actor: str, subject: str, detail: str | None = None
    ) -> None:
        """Append one event in its own transaction."""
        with self.db.transaction() as s:
            self.record_in(s, action, actor, subject, detail)

    def record_in(
        self,
        session: Session,
        action: SecurityAction,
        actor: str,
        subject: str,
        detail: str | None = None,
    ) -> None:
        """Append one event inside the caller's transaction (it commits or fails with it)."""
        event = self.event(action, actor, subject, detail)
        SecurityLogRepository(session, self.key).append(event)
        log.info("security %s by %s on %s", action.value, actor, subject)

    def page(
        self, after: int, limit: int, action: SecurityAction | None = None
    ) -> list[SecurityEvent]:
        with self.db.read() as s:
            return SecurityLogRepository(s, self.key).page(after, limit, action)
