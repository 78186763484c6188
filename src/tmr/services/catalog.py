"""Reading the catalog: by id, by name, enumeration with keyset pages, regex search, delete,
audit and reset.

Enumeration pages by the artifacts' sequence number, so a page costs the same at any depth and
any registry size; the ``offset`` handed to clients is that number, opaque to them. Regex search
uses RE2, whose matching time is linear in the text, so no pattern can stall the server.
"""

from __future__ import annotations

import base64
import contextlib
from collections.abc import Callable, Sequence

from tmr.domain.artifact import Artifact, ArtifactType, AuditAction, AuditEntry, User, may_change
from tmr.domain.files import NameQuery
from tmr.domain.security import SecurityAction
from tmr.domain.versions import parse_query, parse_version
from tmr.errors import BadRequest, NotFound, TmrError, TooLarge, Unauthorized
from tmr.services.search import Hit, SearchIndex
from tmr.services.security import SecurityLog
from tmr.storage.blobs import BlobStore
from tmr.storage.bundles import ALL_BUNDLES, GROUPS_PREFIX, bundle_prefix
from tmr.storage.db.artifacts import ArtifactRepository
from tmr.storage.db.audit import AuditRepository
from tmr.storage.db.engine import Database
from tmr.storage.db.groups import GroupRepository

MAX_QUERIES = 100
REGEX_SCAN_BATCH = 2000
CONTRACT_ACTIONS = {"CREATE", "UPDATE", "DOWNLOAD", "RATE", "AUDIT"}  # the contract's enum


def require_owner(security: SecurityLog, user: User, artifact: Artifact, doing: str) -> None:
    """Owner or admin, else the contract's permission status (401) and a security event."""
    if may_change(user, artifact):
        return
    security.record(
        SecurityAction.DENIED,
        user.name,
        f"{artifact.type.value}/{artifact.id}",
        f"{doing}: not the owner",
    )
    raise Unauthorized(
        f"only the owner of {artifact.type.value} {artifact.id} (the user who registered it) "
        f"or an administrator may {doing} it; {user.name!r} is neither",
        rule="owner or admin",
    )


def encode_offset(seq: int) -> str:
    return base64.urlsafe_b64encode(f"s{seq}".encode()).decode().rstrip("=")


MAX_OFFSET = 2**63 - 1  # row sequence numbers are signed 64-bit integers


def decode_offset(offset: str | None) -> int:
    if offset is None or offset == "":
        return 0
    value: int | None = None
    if offset.isascii() and offset.isdigit():  # a plain number, as the contract's example shows
        value = int(offset)
    else:
        try:
            raw = base64.urlsafe_b64decode(offset + "=" * (-len(offset) % 4)).decode()
            if raw.startswith("s") and raw[1:].isascii() and raw[1:].isdigit():
                value = int(raw[1:])
        except (ValueError, UnicodeDecodeError):
            pass
    if value is None or value > MAX_OFFSET:
        raise BadRequest(f"offset {offset!r} is not one this server handed out")
    return value


class CatalogService:
    def __init__(
        self,
        db: Database,
        blobs: BlobStore,
        audit_key: bytes,
        security: SecurityLog,
        search: SearchIndex,
        reset_users: Callable[[], None],
        page_size: int,
    ) -> None:
        self.db = db
        self.blobs = blobs
        self.audit_key = audit_key
        self.security = security
        self.search = search
        self.reset_users = reset_users
        self.page_size = page_size

    def get(self, type_: ArtifactType, artifact_id: str) -> Artifact:
        with self.db.read() as s:
            return ArtifactRepository(s).get_or_404(artifact_id, type_)

    def by_name(self, name: str) -> list[Artifact]:
        if name == "*":
            raise BadRequest('the name "*" is reserved for enumeration (POST /artifacts)')
        with self.db.read() as s:
            found = ArtifactRepository(s).by_name(name)
        if not found:
            raise NotFound(f"no artifact named {name!r}")
        return found

    def enumerate(
        self, queries: Sequence[NameQuery], offset: str | None
    ) -> tuple[list[Artifact], str | None]:
        if not queries:
            raise BadRequest('send at least one artifact query, e.g. [{"name": "*"}]')
        if len(queries) > MAX_QUERIES:
            raise TooLarge(f"at most {MAX_QUERIES} queries per request; got {len(queries)}")
        after = decode_offset(offset)
        limit = self.page_size
        with self.db.read() as s:
            rows = ArtifactRepository(s).page(queries, after, limit + 1)
        more = len(rows) > limit
        rows = rows[:limit]
        next_offset = encode_offset(rows[-1][0]) if more and rows else None
        return [a for _, a in rows], next_offset

    def regex(self, pattern: str) -> list[Hit]:
        """Artifacts whose name or README matches (RE2; see services/search.py)."""
        found = self.search.search(pattern)
        if not found:
            raise NotFound(f"no artifact name or README matches {pattern!r}")
        return found

    def by_version(
        self, query: str, name: str | None, types: Sequence[ArtifactType]
    ) -> list[Artifact]:
        """Artifacts whose version satisfies an exact, range, tilde or caret query."""
        try:
            wanted = parse_query(query)
        except ValueError as exc:
            raise BadRequest(f"invalid version query: {exc}") from exc
        found: list[Artifact] = []
        after = 0
        while True:
            with self.db.read() as s:
                batch = ArtifactRepository(s).versioned(after, REGEX_SCAN_BATCH, name, types)
            for seq, artifact in batch:
                after = seq
                version = parse_version(artifact.version or "")
                if version is not None and wanted.matches(version):
                    found.append(artifact)
            if len(batch) < REGEX_SCAN_BATCH:
                break
        if not found:
            raise NotFound(f"no artifact has a version matching {query!r}")
        return found

    def delete(self, type_: ArtifactType, artifact_id: str, user: User) -> None:
        """Owner or admin. The artifact's audit trail stays (with a DELETE entry)."""
        require_owner(self.security, user, self.get(type_, artifact_id), "delete")
        with self.db.transaction() as s:
            repo = ArtifactRepository(s)
            artifact = repo.get_or_404(artifact_id, type_)
            repo.delete(artifact_id)
            AuditRepository(s, self.audit_key).append(
                AuditEntry.now(artifact, user, AuditAction.DELETE)
            )
            self.security.record_in(
                s,
                SecurityAction.ARTIFACT_DELETE,
                user.name,
                f"{type_.value}/{artifact_id}",
                f"name={artifact.name!r} owner={artifact.created_by!r}",
            )
        self._delete_blobs(artifact_id)

    def _delete_blobs(self, artifact_id: str) -> None:
        # Unreferenced now; if the store is down, a later reset removes them.
        with contextlib.suppress(TmrError):
            self.blobs.delete_prefix(bundle_prefix(artifact_id))

    def audit(self, type_: ArtifactType, artifact_id: str, user: User) -> list[AuditEntry]:
        """The trail of an artifact, also after it was deleted; for its owner and admins."""
        with self.db.read() as s:
            artifact = ArtifactRepository(s).get(artifact_id)
            past = AuditRepository(s, self.audit_key).for_artifact(artifact_id)
        if artifact is None or artifact.type != type_:
            artifact = _from_trail(type_, artifact_id, past)
        require_owner(self.security, user, artifact, "read the audit trail of")
        with self.db.transaction() as s:
            audit = AuditRepository(s, self.audit_key)
            audit.append(AuditEntry.now(artifact, user, AuditAction.AUDIT))
            entries = audit.for_artifact(artifact_id)
        return [e for e in entries if e.action.value in CONTRACT_ACTIONS]

    def record(self, artifact: Artifact, user: User, action: AuditAction) -> None:
        with self.db.transaction() as s:
            AuditRepository(s, self.audit_key).append(AuditEntry.now(artifact, user, action))

    def reset(self, user: User) -> None:
        if not user.is_admin:
            raise Unauthorized(f"user {user.name!r} may not reset the registry (admins only)")
        with self.db.transaction() as s:
            ArtifactRepository(s).delete_all()
            GroupRepository(s).delete_all()  # an executing group can no longer commit
            dropped, head = AuditRepository(s, self.audit_key).delete_all()
            self.security.record_in(
                s,
                SecurityAction.RESET,
                user.name,
                "registry",
                f"artifacts and their {dropped} audit entries cleared; trail head {head}",
            )
        self.reset_users()
        with contextlib.suppress(TmrError):
            self.blobs.delete_prefix(ALL_BUNDLES)
        with contextlib.suppress(TmrError):
            self.blobs.delete_prefix(GROUPS_PREFIX)  # the groups' kept zips

    def count(self) -> int:
        with self.db.read() as s:
            return ArtifactRepository(s).count()


def _from_trail(type_: ArtifactType, artifact_id: str, trail: list[AuditEntry]) -> Artifact:
    """A deleted artifact as its trail remembers it (its owner from the CREATE entry)."""
    mine = [e for e in trail if e.artifact_type == type_]
    if not mine:
        raise NotFound(f"no {type_.value} artifact with id {artifact_id}")
    owner = next((e.user_name for e in mine if e.action == AuditAction.CREATE), None)
    return Artifact(
        id=artifact_id,
        name=mine[-1].artifact_name,
        type=type_,
        url="",
        created_at=mine[0].at,
        updated_at=mine[-1].at,
        created_by=owner,
    )
