"""The seam to upstreams: how services fetch a snapshot and download a file of one.

One object per process, shared by every service that reaches upstream (ingest, downloads, the
license check), so a test or a tool that swaps ``fetch_snapshot`` or ``download_file`` on it
changes what all of them do.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tmr.config import Settings
from tmr.domain.snapshot import Snapshot

FetchSnapshot = Callable[[str, str, Settings], Snapshot]
DownloadFile = Callable[[Snapshot, str, Path, Settings], str]


def _default_fetch(url: str, artifact_type: str, settings: Settings) -> Snapshot:
    from tmr.sources import fetch_snapshot

    return fetch_snapshot(url, artifact_type, settings)


def _default_download(snapshot: Snapshot, path: str, dest: Path, settings: Settings) -> str:
    from tmr.sources import download_file

    return download_file(snapshot, path, dest, settings)


@dataclass
class Upstream:
    settings: Settings
    fetch_snapshot: FetchSnapshot = _default_fetch
    download_file: DownloadFile = _default_download

    def fetch(self, url: str, artifact_type: str) -> Snapshot:
        """The snapshot of ``url`` read as an artifact of ``artifact_type``."""
        return self.fetch_snapshot(url, artifact_type, self.settings)

    def download(self, snapshot: Snapshot, path: str, dest: Path) -> str:
        """Stream ``path`` of ``snapshot`` to ``dest``; its sha256."""
        return self.download_file(snapshot, path, dest, self.settings)
