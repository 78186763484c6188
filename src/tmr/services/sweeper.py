"""Crash leftovers swept at start-up and periodically (issue 7).

A process killed mid-upload (SIGKILL, power loss, OOM) leaves what its cleanup handlers would
have removed: blobs of a generation whose row was never committed, upload and pull-through work
folders under ``<data dir>/work``, and the blob store's staging files (the file store's
``.staging`` folder; S3's unfinished multipart uploads). The sweeper removes them once they are
older than ``TMR_SWEEP_GRACE_SECONDS`` (default one hour, so an upload still in progress in
this or another replica is never touched), at start-up and then every
``TMR_SWEEP_INTERVAL_SECONDS``.

A blob is removed only if no committed file row points to it, checked against the database
after the listing, per artifact. Nothing ever repoints a row at an existing blob (every write
goes to a fresh generation), so a blob that is unreferenced and older than the grace period can
never become referenced: the sweep never removes a blob a committed row points to.

Atomic groups need no grace: a group whose executor stopped renewing its heartbeat for
``TMR_GROUP_LEASE_SECONDS`` is failed (its commit is conditional on still executing, so it can
never commit afterwards) and the prefixes it staged are deleted, as are the superseded prefixes a
committed group did not get to delete and the kept zips of finished groups.
"""

from __future__ import annotations

import logging
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tmr.storage.blobs import BlobStore
from tmr.storage.bundles import ALL_BUNDLES
from tmr.storage.db.artifacts import ArtifactRepository
from tmr.storage.db.engine import Database

log = logging.getLogger("tmr.sweeper")


@dataclass
class SweepReport:
    blobs: int = 0
    work_folders: int = 0
    staging: int = 0
    groups: int = 0  # blob prefixes and kept zips of atomic groups (services/group_execution)

    @property
    def total(self) -> int:
        return self.blobs + self.work_folders + self.staging + self.groups


class Sweeper:
    def __init__(
        self,
        db: Database,
        blobs: BlobStore,
        work_dir: Path,
        grace_seconds: float,
        groups: Callable[[], int] | None = None,
    ) -> None:
        """``groups``: the atomic groups' own sweep (services/group_execution.sweep_groups)."""
        self.db = db
        self.groups = groups
        self.blobs = blobs
        self.work_dir = work_dir
        self.grace = grace_seconds

    def sweep(self) -> SweepReport:
        cutoff = time.time() - self.grace
        groups = self.groups() if self.groups is not None else 0  # fails dead executions first
        report = SweepReport(
            groups=groups,
            blobs=self._orphan_blobs(cutoff),
            work_folders=self._work_folders(cutoff),
            staging=self._staging(cutoff),
        )
        if report.total:
            log.info(
                "swept crash leftovers: %d blobs, %d work folders, %d staging files, "
                "%d group leftovers",
                report.blobs,
                report.work_folders,
                report.staging,
                report.groups,
            )
        return report

    def _orphan_blobs(self, cutoff: float) -> int:
        removed = 0
        current: str | None = None
        referenced: set[str] = set()
        for info in self.blobs.list(ALL_BUNDLES):
            if info.modified is None or info.modified >= cutoff:
                continue  # young (maybe an upload in progress), or of unknown age: kept
            artifact_id = info.key[len(ALL_BUNDLES) :].split("/", 1)[0]
            if artifact_id != current:
                current = artifact_id
                with self.db.read() as s:
                    referenced = ArtifactRepository(s).blob_keys(artifact_id)
            if info.key not in referenced:
                self.blobs.delete(info.key)
                removed += 1
        return removed

    def _work_folders(self, cutoff: float) -> int:
        work = self.work_dir
        removed = 0
        try:
            entries = list(os.scandir(work))
        except OSError:
            return 0
        for entry in entries:
            try:
                if _newest_mtime(entry.path) >= cutoff:
                    continue
                if entry.is_dir(follow_symlinks=False):
                    shutil.rmtree(entry.path, ignore_errors=True)
                else:
                    os.unlink(entry.path)
                removed += 1
            except OSError:
                continue
        return removed

    def _staging(self, cutoff: float) -> int:
        sweep = getattr(self.blobs, "sweep_staging", None)
        return int(sweep(cutoff)) if callable(sweep) else 0


def _newest_mtime(path: str) -> float:
    """The latest modification time of a file or anything inside a folder (a folder's own
    mtime does not change when a file deep inside it is written)."""
    newest = os.lstat(path).st_mtime
    if os.path.isdir(path) and not os.path.islink(path):
        for root, dirs, files in os.walk(path):
            for name in dirs + files:
                try:
                    newest = max(newest, os.lstat(os.path.join(root, name)).st_mtime)
                except OSError:
                    continue
    return newest
