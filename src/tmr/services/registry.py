"""The registry's wiring: one object holding the stores, the settings and the upstream seams.

Built once per process by ``build_registry``; the API, the CLI and the Lambda handler share it.
Sources and the metric runner are reached through attributes so tests and tools can swap them.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from tmr.config import Settings
from tmr.domain.snapshot import Snapshot
from tmr.metrics.gate import GatePolicy
from tmr.services.accounts import AccountService
from tmr.services.activity import ActivityLog
from tmr.services.auth import AuthService
from tmr.services.search import SearchIndex
from tmr.services.security import SecurityLog
from tmr.services.signing import UrlSigner, load_or_create_key
from tmr.storage.blobs import BlobStore, open_blob_store
from tmr.storage.db.audit import prepare_chains
from tmr.storage.db.engine import Database, sqlite_path
from tmr.storage.db.migrate import upgrade
from tmr.storage.secrets import load_or_create_key as load_or_create_audit_key
from tmr.storage.secrets import restrict, write_private

FetchSnapshot = Callable[[str, str, Settings], Snapshot]
DownloadFile = Callable[[Snapshot, str, Path, Settings], str]


def _default_fetch(url: str, artifact_type: str, settings: Settings) -> Snapshot:
    from tmr.sources import fetch_snapshot

    return fetch_snapshot(url, artifact_type, settings)


def _default_download(snapshot: Snapshot, path: str, dest: Path, settings: Settings) -> str:
    from tmr.sources import download_file

    return download_file(snapshot, path, dest, settings)


@dataclass
class Registry:
    settings: Settings
    db: Database
    blobs: BlobStore
    auth: AuthService
    signer: UrlSigner
    security: SecurityLog
    accounts: AccountService
    audit_key: bytes
    activity: ActivityLog = field(default_factory=ActivityLog)
    fetch_snapshot: FetchSnapshot = _default_fetch
    download_file: DownloadFile = _default_download
    started_at: float = field(default_factory=time.time)
    search: SearchIndex = field(init=False)

    def __post_init__(self) -> None:
        self.search = SearchIndex(self.db)

    @property
    def gate(self) -> GatePolicy:
        """The ingest gate's policy, built from the settings (cheap, and never out of step)."""
        return GatePolicy.from_settings(self.settings)

    @property
    def work_dir(self) -> Path:
        path = self.settings.data_dir / "work"
        path.mkdir(parents=True, exist_ok=True)
        return path


def build_registry(settings: Settings) -> Registry:
    if not settings.data_dir.exists():
        settings.data_dir.mkdir(parents=True, mode=0o700)
    url = settings.resolved_database_url
    sqlite_file = sqlite_path(url)
    if sqlite_file is not None:  # created owner-only before SQLite opens it (its -wal follows)
        if not sqlite_file.exists():
            write_private(sqlite_file, b"")
        restrict(sqlite_file)
    audit_key = load_or_create_audit_key(settings.resolved_audit_key_file)
    db = Database(url)
    upgrade(db.engine)
    prepare_chains(db, audit_key)  # keyed chains: checkpoints exist from the first start
    blobs = open_blob_store(settings.resolved_blob_url, settings)
    security = SecurityLog(db, audit_key)
    auth = AuthService(db, settings, security)
    auth.ensure_default_admin()
    activity = ActivityLog(db, flush_seconds=settings.activity_flush_seconds)
    signer = UrlSigner(
        load_or_create_key(settings.resolved_signing_key_file), settings.download_url_ttl_seconds
    )
    return Registry(
        settings=settings,
        db=db,
        blobs=blobs,
        auth=auth,
        signer=signer,
        security=security,
        accounts=AccountService(db, auth, security),
        audit_key=audit_key,
        activity=activity,
    )
