"""The composition root: the registry's parts built once per process, and every service built
from the narrow parts it uses (a session factory, the blob store, settings values, the signer,
the security log, the gate policy, the upstream seam).

The API reads the services from ``app.state.services``; the CLI and the Lambda handler build
the same ones. Services never see the whole :class:`Registry`.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from tmr.config import Settings
from tmr.metrics.gate import GatePolicy
from tmr.services.accounts import AccountService
from tmr.services.activity import ActivityLog
from tmr.services.auth import AuthService
from tmr.services.catalog import CatalogService
from tmr.services.cost import CostService
from tmr.services.group_execution import sweep_groups
from tmr.services.health import HealthService
from tmr.services.license_check import LicenseCheckService
from tmr.services.lineage import LineageService
from tmr.services.protections import InterestBuffer, ProtectionService, monitor_runtime
from tmr.services.rating import RatingService, sandbox_config
from tmr.services.registry import Registry
from tmr.services.security import SecurityLog
from tmr.services.signing import UrlSigner, load_or_create_key
from tmr.services.sweeper import Sweeper
from tmr.services.upstream import Upstream
from tmr.storage.blobs import open_blob_store
from tmr.storage.db.audit import prepare_chains
from tmr.storage.db.engine import Database, sqlite_path
from tmr.storage.db.migrate import upgrade
from tmr.storage.secrets import load_or_create_key as load_or_create_audit_key
from tmr.storage.secrets import restrict, write_private


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
    )


@dataclass(frozen=True)
class Services:
    """Every use case of one registry, built once; stateless apart from the caches they own."""

    rating: RatingService
    lineage: LineageService
    cost: CostService
    license_check: LicenseCheckService
    protections: ProtectionService
    health: HealthService
    sweeper: Sweeper


def build_services(registry: Registry) -> Services:
    """Each service from the parts it uses."""
    settings, db = registry.settings, registry.db
    gate = GatePolicy.from_settings(settings)
    lineage = LineageService(db)
    protections = ProtectionService(
        db,
        registry.audit_key,
        lineage,
        InterestBuffer(db),
        settings.monitor_program_max_bytes,
    )
    health = HealthService(
        registry.activity,
        db,
        registry.blobs,
        settings.resolved_blob_url.split("://")[0],
        CatalogService(registry).count,
        functools.partial(monitor_runtime, settings),
        registry.started_at,
    )
    return Services(
        rating=RatingService(db, gate, sandbox_config(settings)),
        lineage=lineage,
        cost=CostService(db, lineage),
        license_check=LicenseCheckService(db, registry.upstream),
        protections=protections,
        health=health,
        sweeper=Sweeper(
            db,
            registry.blobs,
            registry.work_dir,
            settings.sweep_grace_seconds,
            groups=functools.partial(sweep_groups, registry),
        ),
    )
