"""The composition root: the registry's parts built once per process, and every service built
from the narrow parts it uses (a session factory, the blob store, settings values, the signer,
the security log, the gate policy, the upstream seam).

The API reads the services from ``app.state.services`` (``tmr.api.deps``); the CLI and the
Lambda handler build the same ones. Services never see the whole :class:`Registry` (the
services layer may not import this module: ``src/tmr/services/ruff.toml``).
"""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass, field
from pathlib import Path

from tmr.config import Settings
from tmr.metrics.gate import GatePolicy
from tmr.services.accounts import AccountService
from tmr.services.activity import ActivityLog
from tmr.services.auth import AuthService
from tmr.services.catalog import CatalogService
from tmr.services.cost import CostService
from tmr.services.downloads import DownloadService
from tmr.services.group_execution import GroupExecution, sweep_groups
from tmr.services.groups import GroupService
from tmr.services.health import HealthService
from tmr.services.ingest import IngestService
from tmr.services.license_check import LicenseCheckService
from tmr.services.lineage import LineageService
from tmr.services.protections import (
    DownloadGate,
    InterestBuffer,
    ProtectionService,
    monitor_runtime,
)
from tmr.services.rating import RatingService, sandbox_config
from tmr.services.search import SearchIndex
from tmr.services.security import SecurityLog
from tmr.services.signing import UrlSigner, load_or_create_key
from tmr.services.sweeper import Sweeper
from tmr.services.uploads import UploadService
from tmr.services.upstream import Upstream
from tmr.storage.blobs import BlobStore, open_blob_store
from tmr.storage.db.audit import prepare_chains
from tmr.storage.db.engine import Database, sqlite_path
from tmr.storage.db.migrate import upgrade
from tmr.storage.secrets import load_or_create_key as load_or_create_audit_key
from tmr.storage.secrets import restrict, write_private


@dataclass
class Registry:
    """The parts services are built from. Upstream access goes through ``upstream``, which
    tests and tools may swap functions on (every service shares that one object)."""

    settings: Settings
    db: Database
    blobs: BlobStore
    auth: AuthService
    signer: UrlSigner
    security: SecurityLog
    accounts: AccountService
    audit_key: bytes
    upstream: Upstream
    activity: ActivityLog
    work_dir: Path
    search: SearchIndex
    started_at: float = field(default_factory=time.time)


def build_registry(settings: Settings) -> Registry:
    """Open the stores (migrating the database, preparing the audit chains), load the keys, and
    make sure the default administrator exists."""
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
    db.version.staleness = settings.read_cache_seconds
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
    work_dir = settings.data_dir / "work"  # uploads, pull-throughs and zips in the making
    work_dir.mkdir(parents=True, exist_ok=True)
    return Registry(
        settings=settings,
        db=db,
        blobs=blobs,
        auth=auth,
        signer=signer,
        security=security,
        accounts=AccountService(db, auth, security),
        audit_key=audit_key,
        upstream=Upstream(settings),
        activity=activity,
        work_dir=work_dir,
        search=SearchIndex(db),
    )


@dataclass(frozen=True)
class Services:
    """Every use case of one registry, built once; stateless apart from the caches they own."""

    catalog: CatalogService
    ingest: IngestService
    uploads: UploadService
    downloads: DownloadService
    rating: RatingService
    lineage: LineageService
    cost: CostService
    license_check: LicenseCheckService
    protections: ProtectionService
    health: HealthService
    groups: GroupService
    group_execution: GroupExecution
    sweeper: Sweeper


def build_services(registry: Registry) -> Services:
    """Each service from the parts it uses."""
    r, settings, db = registry, registry.settings, registry.db
    # One gate policy for ingestion, updates, uploads and /rate/explain (issue 8).
    rating = RatingService(db, GatePolicy.from_settings(settings), sandbox_config(settings))
    lineage = LineageService(db)
    catalog = CatalogService(
        db,
        r.blobs,
        r.audit_key,
        r.security,
        r.search,
        r.auth.reset_users,
        settings.enumerate_page_size,
    )
    ingest = IngestService(db, r.blobs, r.audit_key, r.security, r.upstream, rating, r.work_dir)
    downloads = DownloadService(
        db,
        r.blobs,
        r.audit_key,
        r.upstream,
        DownloadGate(db, r.audit_key, settings),
        r.work_dir,
    )
    protections = ProtectionService(
        db, r.audit_key, lineage, InterestBuffer(db), settings.monitor_program_max_bytes
    )
    health = HealthService(
        r.activity,
        db,
        r.blobs,
        settings.resolved_blob_url.split("://")[0],
        catalog.count,
        functools.partial(monitor_runtime, settings),
        r.started_at,
    )
    uploads = UploadService(ingest, settings)
    groups = GroupService(db, r.blobs, r.security, settings, r.work_dir)
    group_execution = GroupExecution(
        db, r.blobs, r.audit_key, r.security, ingest, uploads, groups, r.work_dir
    )
    return Services(
        catalog=catalog,
        ingest=ingest,
        uploads=uploads,
        downloads=downloads,
        rating=rating,
        lineage=lineage,
        cost=CostService(db, lineage),
        license_check=LicenseCheckService(db, r.upstream),
        protections=protections,
        health=health,
        groups=groups,
        group_execution=group_execution,
        sweeper=Sweeper(
            db,
            r.blobs,
            r.work_dir,
            settings.sweep_grace_seconds,
            groups=functools.partial(
                sweep_groups, db, r.blobs, groups, settings.group_lease_seconds
            ),
        ),
    )
