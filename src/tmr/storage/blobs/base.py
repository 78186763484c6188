"""The object-store interface every blob backend implements, and the key rules they share.

A blob store keeps opaque byte objects under '/'-separated relative keys (``artifacts/a1/files/
config.json``). Backends differ in where the bytes live (a local folder, an S3-compatible bucket,
process memory) but behave identically: writes are atomic (a reader sees the old object or the
new one, never a torn one), reads stream in bounded chunks, a missing key raises ``NotFound``, an
unreachable or broken backend raises ``StorageUnavailable`` naming the store and the operation, and
an invalid key (absolute, containing ``..``, empty components) raises ``ValueError`` before any I/O.
Prefixes are plain string prefixes, as in S3. Listing order is not part of the contract (the
file and memory stores list in ascending key order, AWS S3 does too, but SeaweedFS lists folder by
folder), so callers that need an order sort.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol, runtime_checkable
from urllib.parse import quote


@dataclass(frozen=True, slots=True)
class BlobInfo:
    """What a store knows about one object without reading it.

    ``etag`` is the backend's cheap change token (S3 ETag, or mtime/size for files); ``sha256`` is
    filled when the store computed or recorded it (writes always compute it; ``stat`` only when
    the backend keeps it).
    """

    key: str
    size: int
    etag: str | None = None
    sha256: str | None = None
    modified: float | None = None  # epoch seconds of the last write, when listing knows it


@runtime_checkable
class BlobStore(Protocol):
    """A place to keep artifact bundles; chosen by URL scheme in ``open_blob_store``."""

    url: str  # the store's URL, used in every error message

    def put_file(self, key: str, path: Path) -> BlobInfo:
        """Store a local file (S3: multipart upload; file: copy then atomic rename)."""
        ...

    def put_stream(self, key: str, stream: BinaryIO) -> BlobInfo:
        """Store a stream of unknown length, reading it in bounded chunks."""
        ...

    def put_bytes(self, key: str, data: bytes) -> BlobInfo:
        """Store a small object held in memory."""
        ...

    def stat(self, key: str) -> BlobInfo | None:
        """Size and change token of ``key``, or None when it does not exist."""
        ...

    def iter_range(
        self, key: str, start: int = 0, end: int | None = None, chunk_size: int = 1 << 20
    ) -> Iterator[bytes]:
        """Bytes ``start``..``end`` (inclusive, like HTTP Range) in chunks of at most
        ``chunk_size``. The object is opened eagerly: a missing key raises NotFound and an
        unsatisfiable range ValueError when called, before the first chunk is asked for."""
        ...

    def delete(self, key: str) -> None:
        """Remove ``key``; removing a missing key is not an error."""
        ...

    def delete_prefix(self, prefix: str) -> int:
        """Remove every key starting with ``prefix`` (never the empty prefix); return the count."""
        ...

    def list(self, prefix: str = "") -> Iterator[BlobInfo]:
        """Every key starting with ``prefix``, in a backend-defined order."""
        ...

    def local_path(self, key: str) -> Path | None:
        """The file holding ``key`` for zero-copy serving (file store only; NotFound if
        missing there), None on stores without local files."""
        ...

    def presigned_url(
        self, key: str, expires_seconds: int = 3600, filename: str | None = None
    ) -> str | None:
        """A time-limited direct download URL (S3 only; None elsewhere); ``filename`` sets
        the Content-Disposition of the download. Existence of ``key`` is not checked."""
        ...

    def check(self) -> None:
        """Raise StorageUnavailable saying what is wrong when the store cannot be used."""
        ...


def validate_key(key: str) -> str:
    """Return ``key`` unchanged if it is a safe relative key, else raise ValueError saying why."""
    if not isinstance(key, str) or not key:
        raise ValueError("blob key must be a non-empty string")
    if "\x00" in key or "\\" in key:
        raise ValueError(f"blob key {key!r} contains a NUL or backslash")
    if key.startswith("/"):
        raise ValueError(f"blob key {key!r} is absolute; keys are relative")
    for part in key.split("/"):
        if part in ("", ".", ".."):
            raise ValueError(f"blob key {key!r} has an empty, '.' or '..' component")
    return key


def validate_prefix(prefix: str) -> str:
    """Like ``validate_key`` but allows the empty prefix and one trailing '/'."""
    if prefix == "":
        return prefix
    validate_key(prefix[:-1] if prefix.endswith("/") else prefix)
    return prefix


def check_range(start: int, end: int | None, size: int) -> tuple[int, int]:
    """Resolve an inclusive HTTP-style range against ``size``; return (start, stop) half-open.

    ``end`` past the last byte is clamped, as HTTP does; ``end == start - 1`` is an empty range
    (what ``0..size-1`` gives for an empty object); a start beyond the object or an end further
    before the start is unsatisfiable and raises ValueError.
    """
    if start < 0 or (end is not None and end < start - 1):
        raise ValueError(f"invalid byte range {start}-{'' if end is None else end}")
    if (end is not None and end == start - 1 and start <= size) or (size == 0 and start == 0):
        return start, start
    if start >= size:
        raise ValueError(f"range start {start} is beyond the object size {size}")
    stop = size if end is None else min(end + 1, size)
    return start, stop


def content_disposition(filename: str) -> str:
    """An RFC 6266 ``attachment`` header value that survives non-ASCII names."""
    ascii_name = filename.encode("ascii", "replace").decode("ascii").replace('"', "_")
    ascii_name = ascii_name.replace("?", "_").replace("\\", "_")
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename, safe='')}"


class HashingReader:
    """A read-only file-like wrapper that hashes (sha256) and counts what passes through it.

    Backends wrap an incoming stream with it so the digest and size come for free while the bytes
    are copied, without a second pass and without buffering the stream.
    """

    def __init__(self, raw: BinaryIO) -> None:
        self._raw = raw
        self._hash = hashlib.sha256()
        self.size = 0

    def read(self, n: int = -1) -> bytes:
        """Read ``n`` bytes, looping over short reads: only a short result means end of stream.

        Raw streams (sockets, ``RawIOBase``) may return fewer bytes than asked; boto3 takes a short
        first read for "small object" and would then read the rest in one piece into memory.
        """
        if n is None or n < 0:
            data = self._raw.read()
        else:
            parts: list[bytes] = []
            wanted = n
            while wanted > 0:
                part = self._raw.read(wanted)
                if not part:
                    break
                parts.append(part)
                wanted -= len(part)
            data = parts[0] if len(parts) == 1 else b"".join(parts)
        if data:
            self._hash.update(data)
            self.size += len(data)
        return data or b""

    def readable(self) -> bool:
        return True

    @property
    def sha256(self) -> str:
        return self._hash.hexdigest()
