"""The local-folder blob store (``file:///abs/path``), the one-machine default.

A key maps to the file ``root/key``. Writes go to a temporary file in ``root/.staging`` (same file
system, so the final ``os.replace`` is atomic) while the sha256 is computed on the way, so readers
never see a half-written object. Reads stream from disk, and ``local_path`` hands the API the real
path so it can answer with a zero-copy ``FileResponse`` (sendfile). Any ``OSError`` other than a
missing file becomes ``StorageUnavailable`` naming the folder, the key and the operation.
"""

from __future__ import annotations

import io
import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import suppress
from pathlib import Path
from typing import BinaryIO
from urllib.parse import unquote, urlsplit

from tmr.errors import NotFound, StorageUnavailable
from tmr.storage.blobs.base import (
    BlobInfo,
    HashingReader,
    check_range,
    validate_key,
    validate_prefix,
)

_STAGING = ".staging"
_COPY_CHUNK = 1 << 20


def root_from_url(url: str) -> Path:
    """``file:///abs/path`` → ``Path('/abs/path')``; anything else raises ValueError."""
    parts = urlsplit(url)
    if parts.scheme != "file" or parts.netloc not in ("", "localhost"):
        raise ValueError(f"file store URL must look like file:///absolute/path, got {url!r}")
    path = unquote(parts.path)
    if not path.startswith("/"):
        raise ValueError(f"file store URL must hold an absolute path, got {url!r}")
    return Path(path)


def _reason(exc: OSError) -> str:
    """What went wrong, without the path (the message may reach a client)."""
    return exc.strerror or type(exc).__name__


class FileBlobStore:
    """Objects as files under one root folder."""

    def __init__(self, root: Path, url: str | None = None) -> None:
        self.root = Path(root)
        self.url = url or f"file://{self.root}"

    @classmethod
    def from_url(cls, url: str) -> FileBlobStore:
        return cls(root_from_url(url), url)

    # -- helpers -----------------------------------------------------------------------------

    def _path(self, key: str) -> Path:
        validate_key(key)
        if key.split("/", 1)[0] == _STAGING:
            raise ValueError(f"blob key {key!r} uses the reserved folder {_STAGING!r}")
        return self.root / key

    def _unavailable(self, what: str, key: str, exc: OSError) -> StorageUnavailable:
        return StorageUnavailable(
            f"the file blob store could not {what} {key!r} ({_reason(exc)})", key=key
        )

    def _etag(self, st: os.stat_result) -> str:
        return f"{st.st_mtime_ns:x}-{st.st_size:x}"

    # -- writes ------------------------------------------------------------------------------

    def put_stream(self, key: str, stream: BinaryIO) -> BlobInfo:
        target = self._path(key)
        staging = self.root / _STAGING
        tmp = staging / f"{uuid.uuid4().hex}.tmp"
        reader = HashingReader(stream)
        try:
            try:
                staging.mkdir(parents=True, exist_ok=True)
                with open(tmp, "wb") as out:
                    while chunk := reader.read(_COPY_CHUNK):
                        out.write(chunk)
            except OSError as exc:
                raise self._unavailable("write", key, exc) from exc
            try:
                target.parent.mkdir(parents=True, exist_ok=True)
                os.replace(tmp, target)
            except (NotADirectoryError, IsADirectoryError, FileExistsError) as exc:
                if not tmp.exists():  # the staging folder itself went away: the store failed
                    raise self._unavailable("write", key, exc) from exc
                # The root is fine (staging worked): a file sits where a folder must be, or back.
                raise ValueError(f"blob key {key!r} collides with an existing key: {exc}") from exc
            except OSError as exc:
                raise self._unavailable("write", key, exc) from exc
        finally:
            with suppress(OSError):
                tmp.unlink(missing_ok=True)
        st = target.stat()
        return BlobInfo(key=key, size=reader.size, etag=self._etag(st), sha256=reader.sha256)

    def put_file(self, key: str, path: Path) -> BlobInfo:
        self._path(key)
        try:
            fh = open(path, "rb")  # noqa: SIM115 - closed below, errors mapped separately
        except OSError as exc:
            raise ValueError(f"cannot read the source file {path}: {exc}") from exc
        with fh:
            return self.put_stream(key, fh)

    def put_bytes(self, key: str, data: bytes) -> BlobInfo:
        return self.put_stream(key, io.BytesIO(data))

    # -- reads -------------------------------------------------------------------------------

    def stat(self, key: str) -> BlobInfo | None:
        path = self._path(key)
        try:
            st = path.stat()
        except (FileNotFoundError, NotADirectoryError):
            return None
        except OSError as exc:
            raise self._unavailable("stat", key, exc) from exc
        if not path.is_file():
            return None
        return BlobInfo(key=key, size=st.st_size, etag=self._etag(st))

    def iter_range(
        self, key: str, start: int = 0, end: int | None = None, chunk_size: int = 1 << 20
    ) -> Iterator[bytes]:
        path = self._path(key)
        try:
            fh = open(path, "rb")  # noqa: SIM115 - owned by the generator below
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError) as exc:
            raise NotFound(f"blob {key!r} not found in the blob store", key=key) from exc
        except OSError as exc:
            raise self._unavailable("open", key, exc) from exc
        try:
            lo, hi = check_range(start, end, os.fstat(fh.fileno()).st_size)
            fh.seek(lo)
        except BaseException:
            fh.close()
            raise
        return self._read_chunks(fh, key, hi - lo, chunk_size)

    def _read_chunks(
        self, fh: BinaryIO, key: str, remaining: int, chunk_size: int
    ) -> Iterator[bytes]:
        with fh:
            while remaining > 0:
                try:
                    chunk = fh.read(min(chunk_size, remaining))
                except OSError as exc:
                    raise self._unavailable("read", key, exc) from exc
                if not chunk:  # truncated underneath us
                    raise StorageUnavailable(f"the file blob store's {key!r} shrank while read")
                remaining -= len(chunk)
                yield chunk

    def local_path(self, key: str) -> Path | None:
        path = self._path(key)
        if not path.is_file():
            raise NotFound(f"blob {key!r} not found in the blob store", key=key)
        return path

    def list(self, prefix: str = "") -> Iterator[BlobInfo]:
        validate_prefix(prefix)
        # Walk only the deepest folder the prefix pins down, then filter by string prefix.
        folder = prefix.rsplit("/", 1)[0] if "/" in prefix else ""
        return self._walk(self.root / folder if folder else self.root, folder, prefix)

    def _walk(self, directory: Path, rel: str, prefix: str) -> Iterator[BlobInfo]:
        try:
            entries = list(os.scandir(directory))
        except (FileNotFoundError, NotADirectoryError):
            return
        except OSError as exc:
            raise self._unavailable("list", rel or "/", exc) from exc
        # Sort as S3 would sort full keys: a folder "a" sorts as "a/".
        entries.sort(key=lambda e: e.name + "/" if e.is_dir(follow_symlinks=False) else e.name)
        for entry in entries:
            if not rel and entry.name == _STAGING:
                continue
            key = f"{rel}/{entry.name}" if rel else entry.name
            if entry.is_dir(follow_symlinks=False):
                if key.startswith(prefix) or prefix.startswith(key + "/"):
                    yield from self._walk(Path(entry.path), key, prefix)
            elif entry.is_file(follow_symlinks=False) and key.startswith(prefix):
                st = entry.stat(follow_symlinks=False)
                yield BlobInfo(
                    key=key, size=st.st_size, etag=self._etag(st), modified=st.st_mtime
                )

    # -- deletes -----------------------------------------------------------------------------

    def delete(self, key: str) -> None:
        path = self._path(key)
        try:
            path.unlink()
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            return
        except OSError as exc:
            raise self._unavailable("delete", key, exc) from exc
        self._prune(path.parent)

    def delete_prefix(self, prefix: str) -> int:
        if not validate_prefix(prefix):
            raise ValueError("refusing to delete the empty prefix (the whole store)")
        doomed = [info.key for info in self.list(prefix)]
        if prefix.endswith("/") and (self.root / prefix).is_dir():
            try:
                shutil.rmtree(self.root / prefix)
            except OSError as exc:
                raise self._unavailable("delete", prefix, exc) from exc
            self._prune((self.root / prefix).parent)
        else:
            for key in doomed:
                self.delete(key)
        return len(doomed)

    def _prune(self, directory: Path) -> None:
        """Remove folders left empty by a delete, up to (not including) the root."""
        root = self.root.resolve()
        current = directory
        while current.resolve() != root and root in current.resolve().parents:
            try:
                current.rmdir()
            except OSError:
                return
            current = current.parent

    def sweep_staging(self, older_than: float) -> int:
        """Remove staging files (writes a crash interrupted) last touched before ``older_than``."""
        removed = 0
        try:
            entries = list(os.scandir(self.root / _STAGING))
        except OSError:
            return 0
        for entry in entries:
            try:
                if entry.is_file(follow_symlinks=False) and entry.stat().st_mtime < older_than:
                    os.unlink(entry.path)
                    removed += 1
            except OSError:
                continue
        return removed

    # -- misc --------------------------------------------------------------------------------

    def presigned_url(
        self, key: str, expires_seconds: int = 3600, filename: str | None = None
    ) -> str | None:
        self._path(key)
        return None

    def check(self) -> None:
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            probe = self.root / _STAGING
            probe.mkdir(exist_ok=True)
        except OSError as exc:
            raise StorageUnavailable(
                f"the file blob store's folder cannot be used ({_reason(exc)})"
            ) from exc
        if not os.access(probe, os.W_OK | os.X_OK):
            raise StorageUnavailable("the file blob store's folder is not writable")
