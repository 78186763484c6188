"""Table definitions (SQLAlchemy 2 declarative). Migrations in ``migrations/`` mirror these."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    String,
    Text,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

SeqType = BigInteger().with_variant(Integer, "sqlite")


class Base(DeclarativeBase):
    pass


class ArtifactRow(Base):
    __tablename__ = "artifacts"

    seq: Mapped[int] = mapped_column(SeqType, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    name: Mapped[str] = mapped_column(String(512), nullable=False)
    type: Mapped[str] = mapped_column(String(16), nullable=False)
    url: Mapped[str] = mapped_column(Text, nullable=False)
    source: Mapped[str] = mapped_column(String(16), nullable=False)
    hub_key: Mapped[str | None] = mapped_column(String(512))
    version: Mapped[str | None] = mapped_column(String(128))
    size_bytes: Mapped[int] = mapped_column(BigInteger, default=0, nullable=False)
    # Deferred: listing, search and lineage never load or parse whole snapshots (issue 7).
    snapshot: Mapped[str] = mapped_column(Text, nullable=False, deferred=True)
    search_text: Mapped[str] = mapped_column(Text, default="", nullable=False, deferred=True)
    config_problem: Mapped[str | None] = mapped_column(Text)  # why config.json is unusable
    created_by: Mapped[str | None] = mapped_column(String(256))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)

    __table_args__ = (
        Index("ix_artifacts_name_seq", "name", "seq"),
        Index("ix_artifacts_type_seq", "type", "seq"),
        Index("ix_artifacts_hub_key", "hub_key"),
    )


class ArtifactFileRow(Base):
    __tablename__ = "artifact_files"

    artifact_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("artifacts.id", ondelete="CASCADE"), primary_key=True
    )
    path: Mapped[str] = mapped_column(String(1024), primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger, nullable=False)
    sha256: Mapped[str | None] = mapped_column(String(64))
    part: Mapped[str] = mapped_column(String(16), nullable=False)
    blob_key: Mapped[str | None] = mapped_column(String(1200))


class ParentRefRow(Base):
    __tablename__ = "parent_refs"

    artifact_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("artifacts.id", ondelete="CASCADE"), primary_key=True
    )
    parent_key: Mapped[str] = mapped_column(String(512), primary_key=True)
    source: Mapped[str] = mapped_column(String(32), nullable=False)

    __table_args__ = (Index("ix_parent_refs_parent_key", "parent_key"),)


class RatingRow(Base):
    __tablename__ = "ratings"

    artifact_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("artifacts.id", ondelete="CASCADE"), primary_key=True
    )
    net_score: Mapped[float] = mapped_column(Float, nullable=False)
    body: Mapped[str] = mapped_column(Text, nullable=False)
    rated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)


class AuditRow(Base):
    __tablename__ = "audit_log"

    seq: Mapped[int] = mapped_column(SeqType, primary_key=True, autoincrement=True)
    artifact_id: Mapped[str] = mapped_column(String(64), nullable=False)
    artifact_name: Mapped[str] = mapped_column(String(512), nullable=False)
    artifact_type: Mapped[str] = mapped_column(String(16), nullable=False)
    user_name: Mapped[str] = mapped_column(String(256), nullable=False)
    user_is_admin: Mapped[bool] = mapped_column(Boolean, nullable=False)
    action: Mapped[str] = mapped_column(String(16), nullable=False)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    detail: Mapped[str | None] = mapped_column(Text)
    prev_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    hash: Mapped[str] = mapped_column(String(64), nullable=False)

    __table_args__ = (Index("ix_audit_artifact_seq", "artifact_id", "seq"),)


class UserRow(Base):
    __tablename__ = "users"

    name: Mapped[str] = mapped_column(String(256), primary_key=True)
    password_hash: Mapped[str] = mapped_column(String(256), nullable=False)
    is_admin: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    permissions: Mapped[str] = mapped_column(String(256), nullable=False, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    disabled: Mapped[bool] = mapped_column(
        Boolean, nullable=False, default=False, server_default=false()
    )


class TokenRow(Base):
    __tablename__ = "tokens"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_name: Mapped[str] = mapped_column(String(256), nullable=False, index=True)
    issued_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    calls_left: Mapped[int] = mapped_column(Integer, nullable=False)
    # A public handle for listing and revoking (the hash itself is never shown).
    token_id: Mapped[str | None] = mapped_column(String(32))

    __table_args__ = (Index("ix_tokens_token_id", "token_id", unique=True),)


# --- protections (issue 9): weight scans, lifecycle, sensitive models, download history -----


class FileScanRow(Base):
    """The weight scanner's verdict on one stored file (removed with the file)."""

    __tablename__ = "file_scans"

    artifact_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    path: Mapped[str] = mapped_column(String(1024), primary_key=True)
    verdict: Mapped[str] = mapped_column(String(16), nullable=False)
    detail: Mapped[str] = mapped_column(Text, nullable=False)
    scanned_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)

    __table_args__ = (
        ForeignKeyConstraint(
            ["artifact_id", "path"],
            ["artifact_files.artifact_id", "artifact_files.path"],
            ondelete="CASCADE",
        ),
    )


class ArtifactStatusRow(Base):
    """Lifecycle state and sensitivity of an artifact; no row means active and not sensitive."""

    __tablename__ = "artifact_status"

    artifact_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("artifacts.id", ondelete="CASCADE"), primary_key=True
    )
    state: Mapped[str] = mapped_column(String(16), nullable=False, default="active")
    reason: Mapped[str] = mapped_column(Text, nullable=False, default="")
    changed_by: Mapped[str | None] = mapped_column(String(256))
    changed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    sensitive: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)


class MonitorRow(Base):
    """A sensitive model's JavaScript monitoring program (at most one per model)."""

    __tablename__ = "monitors"

    artifact_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("artifacts.id", ondelete="CASCADE"), primary_key=True
    )
    program: Mapped[str] = mapped_column(Text, nullable=False)
    sha256: Mapped[str] = mapped_column(String(64), nullable=False)
    uploaded_by: Mapped[str] = mapped_column(String(256), nullable=False)
    uploaded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)


class DownloadEventRow(Base):
    """Every download attempt: who, when, which part, allowed or refused and why."""

    __tablename__ = "download_events"

    seq: Mapped[int] = mapped_column(SeqType, primary_key=True, autoincrement=True)
    artifact_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("artifacts.id", ondelete="CASCADE"), nullable=False
    )
    user_name: Mapped[str] = mapped_column(String(256), nullable=False)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    part: Mapped[str] = mapped_column(String(1100), nullable=False)
    allowed: Mapped[bool] = mapped_column(Boolean, nullable=False)
    reason: Mapped[str | None] = mapped_column(Text)
    exit_code: Mapped[int | None] = mapped_column(Integer)
    first_line: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (Index("ix_download_events_artifact_seq", "artifact_id", "seq"),)


class InterestEventRow(Base):
    """An artifact shown to a user: in search results (kind 'search') or read by id ('view')."""

    __tablename__ = "interest_events"

    seq: Mapped[int] = mapped_column(SeqType, primary_key=True, autoincrement=True)
    artifact_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("artifacts.id", ondelete="CASCADE"), nullable=False
    )
    user_name: Mapped[str] = mapped_column(String(256), nullable=False)
    kind: Mapped[str] = mapped_column(String(8), nullable=False)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)

    __table_args__ = (Index("ix_interest_events_artifact_seq", "artifact_id", "seq"),)


class ActivityBatchRow(Base):
    """One process's served requests of one flush (a JSON array of compact records).

    A row per batch rather than per request: 3 000 requests cost one INSERT of ~270 kB instead of
    3 000 rows, 3 us of CPU per request on SQLite instead of 12 us (7 vs 26 on PostgreSQL).
    """

    __tablename__ = "activity_batches"

    seq: Mapped[int] = mapped_column(SeqType, primary_key=True, autoincrement=True)
    replica: Mapped[str] = mapped_column(String(64), nullable=False)
    first_at: Mapped[float] = mapped_column(Float, nullable=False)
    last_at: Mapped[float] = mapped_column(Float, nullable=False)
    count: Mapped[int] = mapped_column(Integer, nullable=False)
    records: Mapped[str] = mapped_column(Text, nullable=False)

    __table_args__ = (Index("ix_activity_batches_last_at", "last_at"),)


class LeaseRow(Base):
    """A named lease held by one process until ``expires_at`` (epoch seconds) unless renewed."""

    __tablename__ = "leases"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str] = mapped_column(String(64), nullable=False)
    expires_at: Mapped[float] = mapped_column(Float, nullable=False)


class LoginThrottleRow(Base):
    """Failed logins per account (``user:<name>``) or client address (``addr:<ip>``)."""

    __tablename__ = "login_throttle"

    key: Mapped[str] = mapped_column(String(300), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, nullable=False)
    last_failure_at: Mapped[float] = mapped_column(Float, nullable=False)  # epoch seconds
    blocked_until: Mapped[float] = mapped_column(Float, nullable=False)  # epoch seconds


class SecurityEventRow(Base):
    """Security events (logins, account changes, denials, deletes, resets); never reset."""

    __tablename__ = "security_log"

    seq: Mapped[int] = mapped_column(SeqType, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    action: Mapped[str] = mapped_column(String(32), nullable=False)
    actor: Mapped[str] = mapped_column(String(256), nullable=False)
    subject: Mapped[str] = mapped_column(String(512), nullable=False)
    detail: Mapped[str | None] = mapped_column(Text)
    client: Mapped[str | None] = mapped_column(String(64))
    prev_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    hash: Mapped[str] = mapped_column(String(64), nullable=False)

    __table_args__ = (Index("ix_security_log_action_seq", "action", "seq"),)


class AuditCheckpointRow(Base):
    """Per chain: how many entries it holds and its head, MACed, so truncation shows."""

    __tablename__ = "audit_checkpoints"

    stream: Mapped[str] = mapped_column(String(32), primary_key=True)
    count: Mapped[int] = mapped_column(BigInteger, nullable=False)
    base: Mapped[str] = mapped_column(String(64), nullable=False)  # prev of the first entry
    head: Mapped[str] = mapped_column(String(64), nullable=False)
    mac: Mapped[str] = mapped_column(String(64), nullable=False)


class GroupRow(Base):
    """An atomic group (REQUIREMENTS §1.7); ``updated_at`` is the executor's heartbeat."""

    __tablename__ = "artifact_groups"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    created_by: Mapped[str] = mapped_column(String(256), nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    reason: Mapped[str | None] = mapped_column(Text)
    results: Mapped[str | None] = mapped_column(Text)  # JSON, once committed
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)

    __table_args__ = (
        Index("ix_groups_status_expires", "status", "expires_at"),
        Index("ix_groups_created_by", "created_by", "created_at"),
    )


class GroupCommandRow(Base):
    __tablename__ = "group_commands"

    group_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("artifact_groups.id", ondelete="CASCADE"), primary_key=True
    )
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    op: Mapped[str] = mapped_column(String(16), nullable=False)
    artifact_type: Mapped[str] = mapped_column(String(16), nullable=False)
    artifact_id: Mapped[str | None] = mapped_column(String(64))
    url: Mapped[str | None] = mapped_column(Text)
    name: Mapped[str | None] = mapped_column(String(512))
    filename: Mapped[str | None] = mapped_column(String(512))
    blob_key: Mapped[str | None] = mapped_column(String(1200))
    sensitive: Mapped[bool] = mapped_column(
        Boolean, nullable=False, default=False, server_default=false()
    )


class GroupBlobRow(Base):
    """Blob prefixes a group must delete: staged generations until its commit (then they are
    referenced and the row goes), superseded ones after it. What a dead executor leaves here
    the sweeper deletes."""

    __tablename__ = "group_blobs"

    group_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("artifact_groups.id", ondelete="CASCADE"), primary_key=True
    )
    prefix: Mapped[str] = mapped_column(String(1200), primary_key=True)
    role: Mapped[str] = mapped_column(String(16), nullable=False)  # staged | superseded
