"""How the file and S3 blob stores fail, and how they clean up after crashed writes.

The file store meets real file-system errors (a name too long for the file system, a key that
collides with a folder, a file truncated while it is read); the S3 store meets a real SeaweedFS
for interrupted multipart uploads and ranges, and botocore's Stubber (or a client raising what
botocore raises) for the answers SeaweedFS will not give on demand. Every error a client can
see is asserted with its message, which never names the server's paths or endpoint host.
"""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    NoCredentialsError,
    ParamValidationError,
    ReadTimeoutError,
)
from botocore.stub import ANY, Stubber

from tests.support.seaweed import free_ports, unique_bucket
from tmr.config import load_settings
from tmr.errors import NotFound, StorageUnavailable
from tmr.storage.blobs import open_blob_store
from tmr.storage.blobs.file import FileBlobStore
from tmr.storage.blobs.s3 import S3BlobStore

LONG = "x" * 300  # one key component longer than any file system allows (255 bytes)


# --- file:// ------------------------------------------------------------------------------


@pytest.fixture
def files(tmp_path: Path) -> FileBlobStore:
    return FileBlobStore(tmp_path / "blobs")


def test_a_file_store_url_must_hold_an_absolute_path() -> None:
    with pytest.raises(ValueError) as caught:
        open_blob_store("file:relative/blobs")
    assert str(caught.value) == (
        "file store URL must hold an absolute path, got 'file:relative/blobs'"
    )


def test_the_staging_folder_is_not_a_key(files: FileBlobStore) -> None:
    with pytest.raises(ValueError) as caught:
        files.put_bytes(".staging/x.tmp", b"x")
    assert str(caught.value) == "blob key '.staging/x.tmp' uses the reserved folder '.staging'"


def test_keys_that_collide_with_a_file_or_a_folder_are_refused_and_leave_nothing(
    files: FileBlobStore,
) -> None:
    files.put_bytes("a", b"a file")
    with pytest.raises(ValueError, match="^blob key 'a/b' collides with an existing key: "):
        files.put_bytes("a/b", b"under a file")
    files.put_bytes("d/e", b"in a folder")
    with pytest.raises(ValueError, match="^blob key 'd' collides with an existing key: "):
        files.put_bytes("d", b"over a folder")
    assert sorted(i.key for i in files.list()) == ["a", "d/e"]
    assert list((files.root / ".staging").iterdir()) == []  # no temporary file left behind
    assert files.stat("d") is None  # a folder is not an object


def test_a_key_the_file_system_cannot_hold_is_a_storage_failure_naming_the_key(
    files: FileBlobStore,
) -> None:
    key = f"models/{LONG}"
    files.put_bytes("models/ok", b"fine")
    checks = [
        ("write", lambda: files.put_bytes(key, b"x")),
        ("stat", lambda: files.stat(key)),
        ("open", lambda: files.iter_range(key)),
        ("delete", lambda: files.delete(key)),
        ("list", lambda: list(files.list(f"{LONG}/"))),
    ]
    for what, call in checks:
        with pytest.raises(StorageUnavailable) as caught:
            call()
        shown = LONG if what == "list" else key
        assert caught.value.message == (
            f"the file blob store could not {what} {shown!r} (File name too long)"
        ), what
        assert str(files.root) not in caught.value.message
    assert [i.key for i in files.list()] == ["models/ok"]


def test_put_file_of_a_missing_source_is_a_value_error(files: FileBlobStore, tmp_path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match=r"^cannot read the source file .*gone\.bin: "):
        files.put_file("k", tmp_path / "gone.bin")
    assert files.stat("k") is None


def test_an_object_truncated_while_read_fails_instead_of_ending_short(
    files: FileBlobStore,
) -> None:
    data = os.urandom(300_000)
    files.put_bytes("w/model.bin", data)
    chunks = files.iter_range("w/model.bin", chunk_size=100_000)
    assert next(chunks) == data[:100_000]
    os.truncate(files.root / "w/model.bin", 150_000)
    assert next(chunks) == data[100_000:150_000]  # what is still there
    with pytest.raises(StorageUnavailable) as caught:
        next(chunks)
    assert caught.value.message == "the file blob store's 'w/model.bin' shrank while read"


def test_sweep_staging_removes_only_old_leftovers_of_crashed_writes(files: FileBlobStore) -> None:
    assert files.sweep_staging(time.time()) == 0  # no staging folder yet
    files.put_bytes("kept", b"an object")
    staging = files.root / ".staging"
    old, fresh = staging / "old.tmp", staging / "fresh.tmp"
    old.write_bytes(b"half a write")
    fresh.write_bytes(b"a write in progress")
    os.utime(old, (time.time() - 3600, time.time() - 3600))
    (staging / "folder").mkdir()

    assert files.sweep_staging(time.time() - 60) == 1

    assert sorted(p.name for p in staging.iterdir()) == ["folder", "fresh.tmp"]
    assert [i.key for i in files.list()] == ["kept"]


def test_deletes_prune_emptied_folders_but_not_the_root(files: FileBlobStore) -> None:
    files.put_bytes("artifacts/1/files/a/b/c.txt", b"c")
    files.put_bytes("artifacts/1/files/top.txt", b"t")
    files.delete("artifacts/1/files/a/b/c.txt")
    assert not (files.root / "artifacts/1/files/a").exists()
    assert (files.root / "artifacts/1/files/top.txt").exists()
    assert files.delete_prefix("artifacts/") == 1
    assert files.root.is_dir() and not (files.root / "artifacts").exists()


# --- s3:// on SeaweedFS ---------------------------------------------------------------------


@pytest.fixture
def s3(s3_server: str) -> S3BlobStore:
    store = open_blob_store(
        f"s3://{unique_bucket()}/registry", load_settings(s3_endpoint_url=s3_server)
    )
    assert isinstance(store, S3BlobStore)
    return store


@pytest.mark.s3
def test_sweep_staging_aborts_interrupted_multipart_uploads(s3: S3BlobStore) -> None:
    s3.put_bytes("kept", b"an object")
    client = s3._client
    began = client.create_multipart_upload(Bucket=s3.bucket, Key=s3.prefix + "w/half.bin")
    upload_id = began["UploadId"]

    assert s3.sweep_staging(time.time() - 3600) == 0  # begun after the cut-off: kept
    assert s3.sweep_staging(time.time() + 60) == 1

    listed = client.list_multipart_uploads(Bucket=s3.bucket, Prefix=s3.prefix)
    assert upload_id not in [u["UploadId"] for u in listed.get("Uploads", [])]
    assert [i.key for i in s3.list()] == ["kept"]


@pytest.mark.s3
def test_s3_ranges_on_empty_and_missing_objects(s3: S3BlobStore) -> None:
    s3.put_bytes("empty", b"")
    assert b"".join(s3.iter_range("empty", 0, 10)) == b""  # S3 refuses a range on 0 bytes
    with pytest.raises(NotFound, match="^blob 'nope' not found in the blob store$"):
        s3.iter_range("nope", 5, 4)  # an empty range still needs the object
    with pytest.raises(ValueError, match="^presigned URLs last between 1 second and 7 days$"):
        s3.presigned_url("empty", 0)
    with pytest.raises(ValueError, match="^presigned URLs last between 1 second and 7 days$"):
        s3.presigned_url("empty", 7 * 24 * 3600 + 1)


@pytest.mark.s3
def test_s3_put_file_of_a_missing_source_is_a_value_error(s3: S3BlobStore, tmp_path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match=r"^cannot read the source file .*gone\.bin: "):
        s3.put_file("k", tmp_path / "gone.bin")
    assert s3.stat("k") is None


@pytest.mark.s3
def test_a_bucket_deleted_under_a_running_store_is_a_storage_failure_not_a_missing_blob(
    s3: S3BlobStore, s3_server: str
) -> None:
    assert list(s3.list()) == []  # no bucket yet: nothing stored, not a failure
    s3.put_bytes("kept", b"an object")
    client = s3._client
    client.delete_object(Bucket=s3.bucket, Key=s3.prefix + "kept")
    client.delete_bucket(Bucket=s3.bucket)
    said = (
        f"S3 store s3://{s3.bucket}/registry at {s3_server}: the bucket {s3.bucket!r} does not "
        "exist ({what} 'kept'); nothing is written until it is restored"
    )
    with pytest.raises(StorageUnavailable) as read:
        b"".join(s3.iter_range("kept"))
    assert read.value.message == said.format(what="read")
    with pytest.raises(StorageUnavailable, match="does not exist"):
        list(s3.list())  # it existed: an empty answer would hide the loss
    # (SeaweedFS makes the bucket again on a PUT; AWS S3 refuses it: see the stubbed test)


# --- s3:// answers SeaweedFS will not give on demand -------------------------------------


def stubbed(region: str = "us-east-1") -> tuple[S3BlobStore, Stubber]:
    client = boto3.client(
        "s3", region_name=region, aws_access_key_id="k", aws_secret_access_key="s"
    )
    return S3BlobStore("tmr-stub", "p/", client=client, region=region), Stubber(client)


def test_a_bucket_that_cannot_be_checked_is_a_storage_failure() -> None:
    store, stub = stubbed()
    with stub:
        stub.add_client_error("head_bucket", "403", "Forbidden", 403)
        with pytest.raises(StorageUnavailable) as caught:
            store.put_bytes("k", b"v")
    assert caught.value.message == (
        "S3 store s3://tmr-stub/p: create bucket 'tmr-stub' failed: 403 (HTTP 403) Forbidden"
    )


def test_a_missing_bucket_is_created_in_the_stores_region() -> None:
    store, stub = stubbed("eu-west-1")
    with stub:
        stub.add_client_error("head_bucket", "404", "Not Found", 404)
        stub.add_client_error(
            "create_bucket",
            "BucketAlreadyOwnedByYou",
            "another replica made it",
            409,
            expected_params={
                "Bucket": "tmr-stub",
                "CreateBucketConfiguration": {"LocationConstraint": "eu-west-1"},
            },
        )
        stub.add_response(
            "put_object",
            {"ETag": '"abc"'},
            {"Bucket": "tmr-stub", "Key": "p/k", "Body": ANY, "Metadata": ANY},
        )
        info = store.put_bytes("k", b"v")  # a bucket made meanwhile by another replica is fine
        stub.assert_no_pending_responses()
    assert (info.key, info.etag, info.sha256) == ("k", "abc", hashlib.sha256(b"v").hexdigest())


def test_a_bucket_that_cannot_be_created_is_a_storage_failure() -> None:
    store, stub = stubbed()
    with stub:
        stub.add_client_error("head_bucket", "NoSuchBucket", "", 404)
        stub.add_client_error("create_bucket", "AccessDenied", "no rights", 403)
        with pytest.raises(StorageUnavailable) as caught:
            store.check()
    assert caught.value.message == (
        "S3 store s3://tmr-stub/p: create bucket 'tmr-stub' failed: AccessDenied (HTTP 403) "
        "no rights"
    )


def test_a_write_into_a_deleted_bucket_is_a_storage_failure() -> None:
    store, stub = stubbed()
    store._bucket_ready = True  # it existed when the store started
    with stub:
        stub.add_client_error("put_object", "NoSuchBucket", "The bucket does not exist", 404)
        with pytest.raises(StorageUnavailable) as caught:
            store.put_bytes("k", b"v")
    assert caught.value.message == (
        "S3 store s3://tmr-stub/p: the bucket 'tmr-stub' does not exist (upload 'k'); nothing is "
        "written until it is restored"
    )


def test_delete_prefix_deletes_in_batches_of_1000_and_reports_refusals() -> None:
    store, stub = stubbed()
    keys = [f"p/artifacts/1/f{i:04d}" for i in range(1001)]
    with stub:
        stub.add_response(
            "list_objects_v2",
            {"Contents": [{"Key": k, "Size": 1} for k in keys], "IsTruncated": False},
        )
        stub.add_response(
            "delete_objects",
            {},
            {
                "Bucket": "tmr-stub",
                "Delete": {"Objects": [{"Key": k} for k in keys[:1000]], "Quiet": True},
            },
        )
        stub.add_response(
            "delete_objects",
            {},
            {"Bucket": "tmr-stub", "Delete": {"Objects": [{"Key": keys[1000]}], "Quiet": True}},
        )
        assert store.delete_prefix("artifacts/1/") == 1001
        stub.add_response("list_objects_v2", {"Contents": [{"Key": keys[0], "Size": 1}]})
        stub.add_response(
            "delete_objects",
            {"Errors": [{"Key": keys[0], "Code": "AccessDenied", "Message": "locked"}]},
        )
        with pytest.raises(StorageUnavailable) as caught:
            store.delete_prefix("artifacts/1/")
    assert caught.value.message == (
        "S3 store s3://tmr-stub/p: could not delete 1 objects under 'artifacts/1/', first "
        "'p/artifacts/1/f0000': AccessDenied locked"
    )


def test_a_store_without_multipart_listing_has_nothing_to_sweep() -> None:
    store, stub = stubbed()
    with stub:
        stub.add_client_error("list_multipart_uploads", "NotImplemented", "", 501)
        assert store.sweep_staging(time.time()) == 0


class RaisingClient:
    """A boto3 client whose calls raise what botocore raises when the network misbehaves."""

    def __init__(self, exc: Exception) -> None:
        self.exc = exc

    def __getattr__(self, name: str) -> Any:
        def call(*args: Any, **kwargs: Any) -> Any:
            raise self.exc

        return call


ENDPOINT = "http://10.9.8.7:8333"


@pytest.mark.parametrize(
    ("exc", "said"),
    [
        (ReadTimeoutError(endpoint_url=ENDPOINT), "no answer within the read timeout"),
        (ConnectTimeoutError(endpoint_url=ENDPOINT), "no connection within the connect timeout"),
        (ConnectionClosedError(endpoint_url=ENDPOINT), "the connection was closed or refused"),
        (ParamValidationError(report=f"bad key for {ENDPOINT}"), "ParamValidationError"),
    ],
)
def test_network_failures_are_named_without_the_endpoints_url(exc: Exception, said: str) -> None:
    store = S3BlobStore("tmr-net", "p/", client=RaisingClient(exc))
    with pytest.raises(StorageUnavailable) as caught:
        store.stat("k")
    assert caught.value.message == f"S3 store s3://tmr-net/p: stat 'k' failed: {said}"
    assert "10.9.8.7" not in caught.value.message


def test_a_failed_multipart_upload_reports_its_cause(tmp_path: Path) -> None:
    from boto3.exceptions import S3UploadFailedError

    class FailingUploads(RaisingClient):
        def upload_file(self, *args: Any, **kwargs: Any) -> None:
            try:
                raise ClientError(
                    {
                        "Error": {"Code": "SlowDown", "Message": "reduce your rate"},
                        "ResponseMetadata": {"HTTPStatusCode": 503},
                    },
                    "UploadPart",
                )
            except ClientError as exc:
                raise S3UploadFailedError("Failed to upload: SlowDown") from exc

    src = tmp_path / "w.bin"
    src.write_bytes(b"weights")
    store = S3BlobStore("tmr-up", "p/", client=FailingUploads(RuntimeError()))
    store._bucket_ready = True  # as after the first write
    with pytest.raises(StorageUnavailable) as caught:
        store.put_file("w.bin", src)
    assert caught.value.message == (
        "S3 store s3://tmr-up/p: upload 'w.bin' failed: SlowDown (HTTP 503) reduce your rate"
    )


def test_missing_credentials_say_which_variables_to_set(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/credentials")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent/config")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    (port,) = free_ports(1)
    store = S3BlobStore("tmr-nocreds", "p/", endpoint_url=f"http://127.0.0.1:{port}")
    with pytest.raises(StorageUnavailable) as caught:
        store.check()
    assert caught.value.message == (
        f"S3 store s3://tmr-nocreds/p at http://127.0.0.1:{port}: no credentials; set "
        "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
    )
    assert isinstance(caught.value.__cause__, NoCredentialsError)
