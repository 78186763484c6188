"""Security events: what the security log records besides the artifacts' own audit trails."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime


class SecurityAction(enum.StrEnum):
    LOGIN = "LOGIN"
    LOGIN_FAILED = "LOGIN_FAILED"
    LOGOUT = "LOGOUT"
    TOKEN_REVOKE = "TOKEN_REVOKE"
    USER_CREATE = "USER_CREATE"
    USER_DELETE = "USER_DELETE"
    USER_DISABLE = "USER_DISABLE"
    USER_ENABLE = "USER_ENABLE"
    PASSWORD_CHANGE = "PASSWORD_CHANGE"
    PASSWORD_RESET = "PASSWORD_RESET"
    ARTIFACT_DELETE = "ARTIFACT_DELETE"
    RESET = "RESET"
    DENIED = "DENIED"
    REJECT = "REJECT"


@dataclass(frozen=True)
class SecurityEvent:
    action: SecurityAction
    actor: str  # who did it ("-" when nobody authenticated)
    subject: str  # whom or what it concerned: a user, an artifact id, a route
    at: datetime
    detail: str | None = None
    client: str | None = None
    seq: int | None = None
