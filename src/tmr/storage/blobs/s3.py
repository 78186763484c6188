"""The S3 blob store (``s3://bucket/prefix``) for scale-out deployments and AWS.

Works against AWS S3 and S3-compatible servers (SeaweedFS, MinIO): the endpoint comes from
``settings.s3_endpoint_url`` (path-style addressing is used whenever an endpoint is set), the
credentials from the usual AWS environment variables or role. The bucket is created on first use,
not at construction, so the registry starts even while the object store is down and recovers by
itself when it returns. Large writes are multipart through boto3's transfer manager with a bounded
number of parts in memory; reads are ranged GETs streamed in chunks; downloads can be handed to S3
with a presigned URL. Every botocore failure is turned into ``NotFound`` (missing key),
``ValueError`` (unsatisfiable range) or ``StorageUnavailable`` naming the store and the operation.
"""

from __future__ import annotations

import builtins
import hashlib
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO
from urllib.parse import urlsplit

import boto3
import urllib3.exceptions
from boto3.exceptions import S3UploadFailedError
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    ReadTimeoutError,
)

from tmr.errors import NotFound, StorageUnavailable, TmrError
from tmr.storage.blobs.base import (
    BlobInfo,
    HashingReader,
    check_range,
    content_disposition,
    validate_key,
    validate_prefix,
)

if TYPE_CHECKING:
    from tmr.config import Settings

MB = 1024 * 1024
# Parts of 8 MiB (S3's minimum is 5), 4 requests in flight. A file upload reads its parts from
# disk lazily; a stream upload buffers at most 2 parts, so it peaks near 36 MiB of Python memory
# whatever the stream's length (measured by tests/integration/test_blob_stores.py). Streams of
# unknown length are capped at 10,000 parts, i.e. 80 GiB; put_file has no such cap.
TRANSFER = TransferConfig(
    multipart_threshold=8 * MB,
    multipart_chunksize=8 * MB,
    max_concurrency=4,
    use_threads=True,
    preferred_transfer_client="classic",
)
TRANSFER.max_in_memory_upload_chunks = 2  # s3transfer knob that boto3's constructor hides
_MISSING = {"NoSuchKey", "404", "NotFound", "NoSuchBucket"}


class BucketMissing(StorageUnavailable):
    """The bucket this store made or found is gone (deleted under a running registry): every
    blob is missing, a 503 rather than a 404. Before the store has seen its bucket, a missing
    bucket only means that nothing was stored yet (NotFound, an empty listing)."""


def parse_s3_url(url: str) -> tuple[str, str]:
    """``s3://bucket/some/prefix`` → ``("bucket", "some/prefix/")``; validates the bucket name."""
    parts = urlsplit(url)
    if parts.scheme != "s3" or not parts.netloc:
        raise ValueError(f"S3 store URL must look like s3://bucket/prefix, got {url!r}")
    bucket = parts.netloc
    if not 3 <= len(bucket) <= 63:
        raise ValueError(f"S3 bucket name {bucket!r} must be 3 to 63 characters long")
    prefix = parts.path.strip("/")
    if prefix:
        validate_key(prefix)
        prefix += "/"
    return bucket, prefix


class S3BlobStore:
    """Objects under ``prefix`` in one bucket of an S3-compatible service."""

    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        *,
        endpoint_url: str | None = None,
        region: str | None = None,
        client: Any | None = None,
        transfer: TransferConfig = TRANSFER,
    ) -> None:
        self.bucket = bucket
        self.prefix = prefix
        self.endpoint_url = endpoint_url
        self.region = (
            region
            or os.environ.get("AWS_REGION")
            or os.environ.get("AWS_DEFAULT_REGION", "us-east-1")
        )
        self.url = f"s3://{bucket}/{prefix}"
        self.transfer = transfer
        self._client = client or boto3.session.Session().client(
            "s3",
            endpoint_url=endpoint_url,
            region_name=self.region,
            config=Config(
                signature_version="s3v4",
                s3={"addressing_style": "path" if endpoint_url else "auto"},
                # Bounded: at most 2 attempts of (2 s connect + 2 s per read), so a refused or
                # partitioned object store answers 503 in about 10 s at worst.
                connect_timeout=2,
                read_timeout=2,
                retries={"total_max_attempts": 2, "mode": "standard"},
            ),
        )
        self._bucket_ready = False
        self._bucket_lock = threading.Lock()

    @classmethod
    def from_url(cls, url: str, settings: Settings | None = None) -> S3BlobStore:
        bucket, prefix = parse_s3_url(url)
        endpoint = settings.s3_endpoint_url if settings is not None else None
        return cls(bucket, prefix, endpoint_url=endpoint)

    # -- helpers -----------------------------------------------------------------------------

    @property
    def _where(self) -> str:
        where = f"S3 store {self.url.rstrip('/')}"
        return where + (f" at {self.endpoint_url}" if self.endpoint_url else "")

    def _full(self, key: str) -> str:
        return self.prefix + validate_key(key)

    def _translate(self, what: str, key: str, exc: Exception) -> Exception:
        if isinstance(exc, ClientError):
            err = exc.response.get("Error", {})
            code = str(err.get("Code", ""))
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
            if code == "NoSuchBucket" and self._bucket_ready:  # it existed: every blob is gone
                return BucketMissing(
                    f"{self._where}: the bucket {self.bucket!r} does not exist ({what} {key!r}); "
                    "nothing is written until it is restored",
                    key=key,
                )
            if code in _MISSING:
                return NotFound(f"blob {key!r} not found in the blob store", key=key)
            if code == "InvalidRange" or status == 416:
                return ValueError(f"byte range not satisfiable for {key!r} in {self.url}")
            return StorageUnavailable(
                f"{self._where}: {what} {key!r} failed: {code or 'error'} (HTTP {status}) "
                f"{err.get('Message', '')}".rstrip(),
                key=key,
            )
        if isinstance(exc, NoCredentialsError):
            return StorageUnavailable(
                f"{self._where}: no credentials; set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
            )
        # botocore's own messages quote the request URL (bucket, keys, query): left out.
        if isinstance(exc, EndpointConnectionError):
            return StorageUnavailable(f"{self._where}: cannot reach the endpoint to {what}")
        return StorageUnavailable(f"{self._where}: {what} {key!r} failed: {_kind(exc)}", key=key)

    @contextmanager
    def _errors(self, what: str, key: str) -> Iterator[None]:
        try:
            yield
        except TmrError:
            raise
        except S3UploadFailedError as exc:
            cause = exc.__context__ if isinstance(exc.__context__, Exception) else exc
            raise self._translate(what, key, cause) from exc
        except (ClientError, BotoCoreError, urllib3.exceptions.HTTPError, OSError) as exc:
            raise self._translate(what, key, exc) from exc

    def _ensure_bucket(self) -> None:
        if self._bucket_ready:
            return
        with self._bucket_lock, self._errors("create bucket", self.bucket):
            if self._bucket_ready:
                return
            try:
                self._client.head_bucket(Bucket=self.bucket)
            except ClientError as exc:
                status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
                if status != 404 and exc.response.get("Error", {}).get("Code") not in _MISSING:
                    raise
                kwargs: dict[str, Any] = {"Bucket": self.bucket}
                if self.region != "us-east-1":
                    kwargs["CreateBucketConfiguration"] = {"LocationConstraint": self.region}
                try:
                    self._client.create_bucket(**kwargs)
                except ClientError as create_exc:
                    code = create_exc.response.get("Error", {}).get("Code")
                    if code not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                        raise
            self._bucket_ready = True

    @staticmethod
    def _etag(raw: str | None) -> str | None:
        return raw.strip('"') if raw else None

    # -- writes ------------------------------------------------------------------------------

    def put_file(self, key: str, path: Path) -> BlobInfo:
        full = self._full(key)
        sha = hashlib.sha256()
        try:
            with open(path, "rb") as fh:
                while chunk := fh.read(MB):
                    sha.update(chunk)
            size = os.path.getsize(path)
        except OSError as exc:
            raise ValueError(f"cannot read the source file {path}: {exc}") from exc
        self._ensure_bucket()
        digest = sha.hexdigest()
        with self._errors("upload", key):
            self._client.upload_file(
                str(path),
                self.bucket,
                full,
                ExtraArgs={"Metadata": {"sha256": digest}},
                Config=self.transfer,
            )
        return BlobInfo(key=key, size=size, sha256=digest)

    def put_stream(self, key: str, stream: BinaryIO) -> BlobInfo:
        full = self._full(key)
        self._ensure_bucket()
        reader = HashingReader(stream)
        with self._errors("upload", key):
            self._client.upload_fileobj(reader, self.bucket, full, Config=self.transfer)
        return BlobInfo(key=key, size=reader.size, sha256=reader.sha256)

    def put_bytes(self, key: str, data: bytes) -> BlobInfo:
        full = self._full(key)
        self._ensure_bucket()
        digest = hashlib.sha256(data).hexdigest()
        with self._errors("upload", key):
            resp = self._client.put_object(
                Bucket=self.bucket, Key=full, Body=bytes(data), Metadata={"sha256": digest}
            )
        return BlobInfo(key=key, size=len(data), etag=self._etag(resp.get("ETag")), sha256=digest)

    # -- reads -------------------------------------------------------------------------------

    def stat(self, key: str) -> BlobInfo | None:
        full = self._full(key)
        try:
            with self._errors("stat", key):
                head = self._client.head_object(Bucket=self.bucket, Key=full)
        except NotFound:
            return None
        return BlobInfo(
            key=key,
            size=int(head["ContentLength"]),
            etag=self._etag(head.get("ETag")),
            sha256=(head.get("Metadata") or {}).get("sha256"),
        )

    def iter_range(
        self, key: str, start: int = 0, end: int | None = None, chunk_size: int = 1 << 20
    ) -> Iterator[bytes]:
        full = self._full(key)
        if start < 0 or (end is not None and end < start - 1):
            raise ValueError(f"invalid byte range {start}-{'' if end is None else end}")
        if end is not None and end == start - 1:  # an empty range: S3 cannot express it
            info = self.stat(key)
            if info is None:
                raise NotFound(f"blob {key!r} not found in the blob store", key=key)
            check_range(start, end, info.size)
            return iter(())
        kwargs: dict[str, Any] = {"Bucket": self.bucket, "Key": full}
        if start or end is not None:
            kwargs["Range"] = f"bytes={start}-{'' if end is None else end}"
        try:
            with self._errors("read", key):
                resp = self._client.get_object(**kwargs)
        except ValueError:
            info = self.stat(key) if start == 0 else None
            if info is not None and info.size == 0:  # S3 refuses any range on an empty object
                return iter(())
            raise
        return self._chunks(resp["Body"], key, chunk_size)

    def _chunks(self, body: Any, key: str, chunk_size: int) -> Iterator[bytes]:
        try:
            with self._errors("read", key):
                yield from body.iter_chunks(chunk_size)
        finally:
            body.close()

    def list(self, prefix: str = "") -> Iterator[BlobInfo]:
        validate_prefix(prefix)
        return self._list(prefix)

    def _list(self, prefix: str) -> Iterator[BlobInfo]:
        paginator = self._client.get_paginator("list_objects_v2")
        cut = len(self.prefix)
        try:
            with self._errors("list", prefix or "/"):
                for page in paginator.paginate(Bucket=self.bucket, Prefix=self.prefix + prefix):
                    for obj in page.get("Contents", []):
                        yield BlobInfo(
                            key=obj["Key"][cut:],
                            size=int(obj["Size"]),
                            etag=self._etag(obj.get("ETag")),
                            modified=_timestamp(obj.get("LastModified")),
                        )
        except NotFound:  # no bucket yet: nothing stored (once it existed: BucketMissing, 503)
            return

    def local_path(self, key: str) -> Path | None:
        validate_key(key)
        return None

    def presigned_url(
        self, key: str, expires_seconds: int = 3600, filename: str | None = None
    ) -> str | None:
        full = self._full(key)
        if not 1 <= expires_seconds <= 7 * 24 * 3600:
            raise ValueError("presigned URLs last between 1 second and 7 days")
        params: dict[str, Any] = {"Bucket": self.bucket, "Key": full}
        if filename:
            params["ResponseContentDisposition"] = content_disposition(filename)
        with self._errors("presign", key):
            url: str = self._client.generate_presigned_url(
                "get_object", Params=params, ExpiresIn=expires_seconds
            )
        return url

    # -- deletes -----------------------------------------------------------------------------

    def delete(self, key: str) -> None:
        full = self._full(key)
        with self._errors("delete", key):
            self._client.delete_object(Bucket=self.bucket, Key=full)

    def delete_prefix(self, prefix: str) -> int:
        if not validate_prefix(prefix):
            raise ValueError("refusing to delete the empty prefix (the whole store)")
        deleted = 0
        batch: builtins.list[dict[str, str]] = []
        for info in self.list(prefix):
            batch.append({"Key": self.prefix + info.key})
            if len(batch) == 1000:
                deleted += self._delete_batch(batch, prefix)
                batch = []
        if batch:
            deleted += self._delete_batch(batch, prefix)
        return deleted

    def sweep_staging(self, older_than: float) -> int:
        """Abort multipart uploads (writes a crash interrupted) begun before ``older_than``."""
        aborted = 0
        try:
            paginator = self._client.get_paginator("list_multipart_uploads")
            for page in paginator.paginate(Bucket=self.bucket, Prefix=self.prefix):
                for upload in page.get("Uploads", []):
                    started = _timestamp(upload.get("Initiated"))
                    if started is not None and started < older_than:
                        self._client.abort_multipart_upload(
                            Bucket=self.bucket, Key=upload["Key"], UploadId=upload["UploadId"]
                        )
                        aborted += 1
        except (ClientError, BotoCoreError):
            return aborted  # a store without multipart listing: nothing to sweep
        return aborted

    def _delete_batch(self, batch: builtins.list[dict[str, str]], prefix: str) -> int:
        with self._errors("delete", prefix):
            resp = self._client.delete_objects(
                Bucket=self.bucket, Delete={"Objects": batch, "Quiet": True}
            )
        errors = resp.get("Errors") or []
        if errors:
            first = errors[0]
            raise StorageUnavailable(
                f"{self._where}: could not delete {len(errors)} objects under {prefix!r}, "
                f"first {first.get('Key')!r}: {first.get('Code')} {first.get('Message', '')}"
            )
        return len(batch)

    def check(self) -> None:
        self._ensure_bucket()
        with self._errors("list", "/"):
            self._client.list_objects_v2(Bucket=self.bucket, Prefix=self.prefix, MaxKeys=1)


def _kind(exc: Exception) -> str:
    """What went wrong, in words that name no host, bucket or key."""
    if isinstance(exc, ReadTimeoutError | urllib3.exceptions.ReadTimeoutError | TimeoutError):
        return "no answer within the read timeout"
    if isinstance(exc, ConnectTimeoutError | urllib3.exceptions.ConnectTimeoutError):
        return "no connection within the connect timeout"
    if isinstance(exc, ConnectionClosedError | ConnectionError | OSError):
        return "the connection was closed or refused"
    return type(exc).__name__


def _timestamp(value: object) -> float | None:
    """An S3 LastModified (a datetime) as epoch seconds."""
    stamp = getattr(value, "timestamp", None)
    return float(stamp()) if callable(stamp) else None
