"""The registry's parts: the stores, the settings and the upstream seam, built once per process.

Built by ``tmr.composition.build_registry``; the API, the CLI and the Lambda handler share it.
Upstream access goes through ``upstream`` so tests and tools can swap it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from tmr.config import Settings
from tmr.metrics.gate import GatePolicy
from tmr.services.accounts import AccountService
from tmr.services.activity import ActivityLog
from tmr.services.auth import AuthService
from tmr.services.search import SearchIndex
from tmr.services.security import SecurityLog
from tmr.services.signing import UrlSigner
from tmr.services.upstream import DownloadFile, FetchSnapshot, Upstream
from tmr.storage.blobs import BlobStore
from tmr.storage.db.engine import Database


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
    upstream: Upstream
    activity: ActivityLog = field(default_factory=ActivityLog)
    started_at: float = field(default_factory=time.time)
    search: SearchIndex = field(init=False)

    def __post_init__(self) -> None:
        self.search = SearchIndex(self.db)

    @property
    def fetch_snapshot(self) -> FetchSnapshot:
        return self.upstream.fetch_snapshot

    @fetch_snapshot.setter
    def fetch_snapshot(self, fetch: FetchSnapshot) -> None:
        self.upstream.fetch_snapshot = fetch

    @property
    def download_file(self) -> DownloadFile:
        return self.upstream.download_file

    @download_file.setter
    def download_file(self, download: DownloadFile) -> None:
        self.upstream.download_file = download

    @property
    def gate(self) -> GatePolicy:
        """The ingest gate's policy, built from the settings (cheap, and never out of step)."""
        return GatePolicy.from_settings(self.settings)

    @property
    def work_dir(self) -> Path:
        path = self.settings.data_dir / "work"
        path.mkdir(parents=True, exist_ok=True)
        return path
