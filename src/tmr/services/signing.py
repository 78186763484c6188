"""Signed, expiring download links (like an S3 presigned URL).

A link carries the user it was issued to and an expiry; its signature is an HMAC-SHA256 over the
artifact id, the part (``all``, ``weights``…, or ``file:<path>``), the user and the expiry, with a
key kept in a file (created 0600 on first start; replicas point ``TMR_SIGNING_KEY_FILE`` at the
same file). The expiry is rounded up to a multiple of the lifetime, so repeated reads give the
same link. Whoever holds the link may fetch exactly that download until it expires, without a
token, and the download is audited under the user the link names. Anything tampered with, or a
link past its expiry, is refused with 403 saying which.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

from tmr.errors import Forbidden

KEY_BYTES = 32


def load_or_create_key(path: Path) -> bytes:
    """The signing key in ``path``; a new random one is written (mode 0600) when it is missing."""
    try:
        raw = path.read_bytes().strip()
    except FileNotFoundError:
        path.parent.mkdir(parents=True, exist_ok=True)
        key = secrets.token_hex(KEY_BYTES).encode()
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(key)
        try:  # another process may have won the race: keep its key
            os.link(tmp, path)
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
        raw = path.read_bytes().strip()
    if len(raw) < 32:
        raise ValueError("the signing key file holds fewer than 32 characters")
    return raw


@dataclass(frozen=True)
class SignedGrant:
    """What a valid signature allows: ``user`` may fetch ``part`` of ``artifact_id``."""

    artifact_id: str
    part: str
    user: str
    expires: int


MEMO_ENTRIES = 50_000


class UrlSigner:
    def __init__(self, key: bytes, ttl_seconds: int) -> None:
        self._key = key
        self.ttl_seconds = ttl_seconds
        # Links are the same for a whole expiry window: each is signed once per window (the
        # hot read returns one per request). Bounded: past MEMO_ENTRIES it starts over.
        self._memo: dict[tuple[str, str, str, int], str] = {}

    def _mac(self, artifact_id: str, part: str, user: str, expires: int) -> str:
        message = "\n".join((artifact_id, part, user, str(expires))).encode()
        digest = hmac.new(self._key, message, hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).decode().rstrip("=")

    def query(self, artifact_id: str, part: str, user: str, now: float | None = None) -> str:
        """The query string (``part``, ``user``, ``expires``, ``signature``) of a fresh link.

        The expiry is rounded up to a multiple of the lifetime (valid for at least one lifetime,
        at most two), so every read of an artifact within that window returns the same link:
        clients that compare responses see no churn, and caches can keep it.
        """
        ttl = max(1, self.ttl_seconds)
        expires = (int(now if now is not None else time.time()) + ttl) // ttl * ttl + ttl
        key = (artifact_id, part, user, expires)
        found = self._memo.get(key)
        if found is not None:
            return found
        fields = {"user": user, "expires": str(expires)}
        if not part.startswith("file:"):
            fields = {"part": part, **fields}
        fields["signature"] = self._mac(artifact_id, part, user, expires)
        query = urlencode(fields)
        if len(self._memo) >= MEMO_ENTRIES:
            self._memo.clear()
        self._memo[key] = query
        return query

    def verify(
        self, artifact_id: str, part: str, user: str | None, expires: str | None, signature: str
    ) -> SignedGrant:
        """The grant of a link, or Forbidden saying why it is refused."""
        if not user or not expires or not expires.isdigit():
            raise Forbidden("the signed download link is incomplete: it needs user and expires")
        expected = self._mac(artifact_id, part, user, int(expires))
        if not hmac.compare_digest(expected, signature):
            raise Forbidden(
                "the download link's signature does not match (altered or not issued here); "
                "ask for the artifact again to get a fresh link"
            )
        if int(expires) < time.time():
            raise Forbidden(
                "the download link has expired; ask for the artifact again to get a fresh link"
            )
        return SignedGrant(artifact_id, part, user, int(expires))
