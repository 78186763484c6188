"""The crash-leftover sweeper (services/sweeper.py) on SQLite + the file store: what a killed
process left (blobs no row points to, work folders, staging files) goes once older than the
grace period; anything younger, and every blob a committed row points to, stays."""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

import pytest

from tests.support.group_services import Parts
from tmr.services.sweeper import Sweeper

HOUR = 3600.0


def age(path: Path, seconds: float) -> None:
    then = time.time() - seconds
    os.utime(path, (then, then))


def test_the_sweep_removes_old_leftovers_and_keeps_young_and_referenced_ones(  # type: ignore[no-untyped-def]
    parts_for, caplog: pytest.LogCaptureFixture
) -> None:
    parts: Parts = parts_for(sweep_grace_seconds=HOUR)
    kept = parts.upload("kept")
    blobs = parts.registry.blobs
    root: Path = blobs.root  # type: ignore[attr-defined]
    referenced = sorted(parts.keys(f"artifacts/{kept.id}/"))
    assert referenced
    for key in referenced:  # old, but a committed row points to each
        age(root / key, 2 * HOUR)
    old_orphans = [f"artifacts/{kept.id}/deadbeef0001/leftover.bin",
                   "artifacts/ffffffffffffffff/cafe01/README.md"]  # fmt: skip
    for key in old_orphans:
        blobs.put_bytes(key, b"a killed upload's blob")
        age(root / key, 2 * HOUR)
    young_orphan = "artifacts/eeeeeeeeeeeeeeee/cafe02/README.md"
    blobs.put_bytes(young_orphan, b"an upload still in progress")

    work = parts.registry.work_dir
    (work / "old-upload" / "files").mkdir(parents=True)
    (work / "old-upload" / "files" / "part.bin").write_bytes(b"x")
    for path in (work / "old-upload" / "files" / "part.bin", work / "old-upload" / "files",
                 work / "old-upload"):  # fmt: skip
        age(path, 2 * HOUR)
    (work / "busy-upload" / "deep").mkdir(parents=True)
    (work / "busy-upload" / "deep" / "fresh.bin").write_bytes(b"still being written")
    age(work / "busy-upload", 2 * HOUR)  # an old folder with a young file inside stays
    (work / "stray.zip").write_bytes(b"PK")
    age(work / "stray.zip", 2 * HOUR)
    staging = root / ".staging"
    staging.mkdir(exist_ok=True)
    (staging / "tmp-old").write_bytes(b"half a write")
    age(staging / "tmp-old", 2 * HOUR)
    (staging / "tmp-young").write_bytes(b"a write in progress")

    with caplog.at_level(logging.INFO, logger="tmr.sweeper"):
        report = parts.services.sweeper.sweep()
    assert (report.blobs, report.work_folders, report.staging, report.groups) == (2, 2, 1, 0)
    assert report.total == 5
    assert "swept crash leftovers: 2 blobs, 2 work folders, 1 staging files, 0 group leftovers" in (
        caplog.text
    )
    assert parts.keys("artifacts/") == {*referenced, young_orphan}
    assert sorted(p.name for p in work.iterdir()) == ["busy-upload"]
    assert sorted(p.name for p in staging.iterdir()) == ["tmp-young"]
    assert parts.services.catalog.get(kept.type, kept.id).name == "kept"
    again = parts.services.sweeper.sweep()
    assert again.total == 0


def test_a_missing_work_folder_and_a_store_without_staging_sweep_nothing(  # type: ignore[no-untyped-def]
    parts_for, tmp_path: Path
) -> None:
    parts: Parts = parts_for()

    class NoStaging:
        """A blob store with nothing listed and no staging area to sweep."""

        def list(self, prefix: str = "") -> list[object]:
            return []

    sweeper = Sweeper(parts.registry.db, NoStaging(), tmp_path / "no-such-folder", 0.0)  # type: ignore[arg-type]
    report = sweeper.sweep()
    assert (report.blobs, report.work_folders, report.staging, report.groups) == (0, 0, 0, 0)
