"""Blob stores chosen by URL scheme: ``file:///abs/path``, ``s3://bucket/prefix``, ``memory://``.

``open_blob_store(url, settings)`` looks the scheme up in a small scheme-to-factory table (the
MLflow way) and raises ValueError listing the valid schemes for anything else. Backends import
lazily, so a one-machine deployment never imports boto3. See ``base.BlobStore`` for the contract
every backend keeps.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from tmr.storage.blobs.base import BlobInfo, BlobStore, validate_key, validate_prefix

if TYPE_CHECKING:
    from tmr.config import Settings

__all__ = ["BlobInfo", "BlobStore", "open_blob_store", "validate_key", "validate_prefix"]


def _file(url: str, settings: Settings | None) -> BlobStore:
    from tmr.storage.blobs.file import FileBlobStore

    return FileBlobStore.from_url(url)


def _s3(url: str, settings: Settings | None) -> BlobStore:
    from tmr.storage.blobs.s3 import S3BlobStore

    return S3BlobStore.from_url(url, settings)


def _memory(url: str, settings: Settings | None) -> BlobStore:
    from tmr.storage.blobs.memory import MemoryBlobStore

    return MemoryBlobStore(url)


_FACTORIES: dict[str, Callable[[str, Settings | None], BlobStore]] = {
    "file": _file,
    "s3": _s3,
    "memory": _memory,
}


def open_blob_store(url: str, settings: Settings | None = None) -> BlobStore:
    """Open the blob store named by ``url`` (``settings`` supplies the S3 endpoint)."""
    scheme = urlsplit(url).scheme.lower()
    factory = _FACTORIES.get(scheme)
    if factory is None:
        valid = ", ".join(f"{s}://" for s in sorted(_FACTORIES))
        raise ValueError(f"unknown blob store URL {url!r}: the valid schemes are {valid}")
    return factory(url, settings)
