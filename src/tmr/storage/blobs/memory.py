"""An in-process blob store (``memory://``) for unit tests and throw-away registries.

Objects live in a dict guarded by a lock; every ``open_blob_store("memory://")`` call gets a new,
empty store. It follows the same contract as the durable backends (key rules, ``NotFound``,
ranges, sorted listing) so tests written against it hold for them too. It keeps whole objects in
memory by nature, so it is not for large bundles.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from tmr.errors import NotFound
from tmr.storage.blobs.base import BlobInfo, check_range, validate_key, validate_prefix


class MemoryBlobStore:
    """Keeps objects as bytes in a dict; thread-safe."""

    def __init__(self, url: str = "memory://") -> None:
        self.url = url
        self._objects: dict[str, tuple[bytes, str]] = {}
        self._lock = threading.Lock()

    def _info(self, key: str, data: bytes, sha: str) -> BlobInfo:
        return BlobInfo(key=key, size=len(data), etag=sha[:32], sha256=sha)

    def put_bytes(self, key: str, data: bytes) -> BlobInfo:
        validate_key(key)
        data = bytes(data)
        sha = hashlib.sha256(data).hexdigest()
        with self._lock:
            self._objects[key] = (data, sha)
        return self._info(key, data, sha)

    def put_stream(self, key: str, stream: BinaryIO) -> BlobInfo:
        validate_key(key)
        buf = bytearray()
        while chunk := stream.read(1 << 20):
            buf += chunk
        return self.put_bytes(key, bytes(buf))

    def put_file(self, key: str, path: Path) -> BlobInfo:
        validate_key(key)
        with open(path, "rb") as fh:
            return self.put_stream(key, fh)

    def stat(self, key: str) -> BlobInfo | None:
        validate_key(key)
        with self._lock:
            entry = self._objects.get(key)
        return None if entry is None else self._info(key, *entry)

    def iter_range(
        self, key: str, start: int = 0, end: int | None = None, chunk_size: int = 1 << 20
    ) -> Iterator[bytes]:
        validate_key(key)
        with self._lock:
            entry = self._objects.get(key)
        if entry is None:
            raise NotFound(f"blob {key!r} not found in the blob store", key=key)
        data = entry[0]
        lo, hi = check_range(start, end, len(data))
        return (data[i : min(i + chunk_size, hi)] for i in range(lo, hi, chunk_size))

    def delete(self, key: str) -> None:
        validate_key(key)
        with self._lock:
            self._objects.pop(key, None)

    def delete_prefix(self, prefix: str) -> int:
        if not validate_prefix(prefix):
            raise ValueError("refusing to delete the empty prefix (the whole store)")
        with self._lock:
            doomed = [k for k in self._objects if k.startswith(prefix)]
            for k in doomed:
                del self._objects[k]
        return len(doomed)

    def list(self, prefix: str = "") -> Iterator[BlobInfo]:
        validate_prefix(prefix)
        with self._lock:
            items = sorted((k, v) for k, v in self._objects.items() if k.startswith(prefix))
        return (self._info(k, data, sha) for k, (data, sha) in items)

    def local_path(self, key: str) -> Path | None:
        validate_key(key)
        return None

    def presigned_url(
        self, key: str, expires_seconds: int = 3600, filename: str | None = None
    ) -> str | None:
        validate_key(key)
        return None

    def check(self) -> None:
        return None
