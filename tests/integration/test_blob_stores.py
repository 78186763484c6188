"""One behaviour suite for every blob store: file://, memory:// and s3:// on a real SeaweedFS.

Each test takes the parametrized ``store`` fixture, so the three backends are held to the same
contract: round trips with digests, bounded-memory streaming writes, inclusive HTTP-style ranges,
stat, deletes, sorted prefix listing and key validation; plus what only some backends do (local
paths for files, presigned URLs for S3) and how an unreachable S3 endpoint fails.
"""

from __future__ import annotations

import hashlib
import io
import random
import time
import tracemalloc
from pathlib import Path

import httpx
import pytest

from tests.support.seaweed import free_ports, unique_bucket
from tmr.config import load_settings
from tmr.errors import NotFound, StorageUnavailable
from tmr.storage.blobs import BlobStore, open_blob_store

MB = 1024 * 1024


@pytest.fixture(params=["file", "memory", pytest.param("s3", marks=pytest.mark.s3)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> BlobStore:
    if request.param == "file":
        return open_blob_store(f"file://{tmp_path / 'blobs'}")
    if request.param == "memory":
        return open_blob_store("memory://")
    endpoint = request.getfixturevalue("s3_server")
    settings = load_settings(s3_endpoint_url=endpoint)
    return open_blob_store(f"s3://{unique_bucket()}/registry", settings)


def read_all(store: BlobStore, key: str, start: int = 0, end: int | None = None) -> bytes:
    return b"".join(store.iter_range(key, start, end))


class GeneratedStream(io.RawIOBase):
    """``total`` deterministic bytes produced on demand from one 1 MiB block (never held whole)."""

    def __init__(self, total: int, seed: int = 7) -> None:
        self.block = random.Random(seed).randbytes(MB)
        self.total = total
        self.pos = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        n = min(len(buffer), self.total - self.pos)
        if n <= 0:
            return 0
        offset = self.pos % MB
        n = min(n, MB - offset)
        # Stamp the block number into each block so blocks differ.
        block = (self.pos // MB).to_bytes(8, "big") + self.block[8:]
        buffer[:n] = block[offset : offset + n]
        self.pos += n
        return n


def expected_sha(total: int) -> str:
    digest = hashlib.sha256()
    stream = GeneratedStream(total)
    while chunk := stream.read(MB):
        digest.update(chunk)
    return digest.hexdigest()


def test_round_trip_of_bytes_file_and_stream_returns_size_and_sha256(
    store: BlobStore, tmp_path: Path
) -> None:
    payload = random.Random(1).randbytes(300_000)
    src = tmp_path / "src.bin"
    src.write_bytes(payload)
    digest = hashlib.sha256(payload).hexdigest()

    infos = [
        store.put_bytes("rt/bytes.bin", payload),
        store.put_file("rt/file.bin", src),
        store.put_stream("rt/deep/er/stream.bin", io.BytesIO(payload)),
    ]

    for info in infos:
        assert info.size == len(payload)
        assert info.sha256 == digest
        assert read_all(store, info.key) == payload
    store.put_bytes("rt/bytes.bin", b"replaced")
    assert read_all(store, "rt/bytes.bin") == b"replaced"


def test_empty_object_round_trips(store: BlobStore) -> None:
    info = store.put_bytes("empty", b"")
    assert info.size == 0
    assert read_all(store, "empty") == b""
    assert read_all(store, "empty", 0, -1) == b""  # 0..size-1 of an empty object
    stat = store.stat("empty")
    assert stat is not None and stat.size == 0


def test_put_stream_of_50_mb_keeps_memory_bounded(
    store: BlobStore, request: pytest.FixtureRequest
) -> None:
    total = 50 * MB
    stream = GeneratedStream(total)
    tracemalloc.start()
    try:
        info = store.put_stream("big/stream.bin", stream)  # type: ignore[arg-type]
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    backend = request.node.callspec.params["store"]
    print(f"\n{backend}: put_stream 50 MiB traced peak {peak / MB:.1f} MiB")
    if backend != "memory":  # the memory store holds objects in memory by definition
        assert peak < 40 * MB, f"{backend} held {peak / MB:.1f} MiB while streaming 50 MiB"
    sha = expected_sha(total)
    assert info.size == total
    assert info.sha256 == sha
    stat = store.stat("big/stream.bin")
    assert stat is not None and stat.size == total
    digest = hashlib.sha256()
    for chunk in store.iter_range("big/stream.bin", chunk_size=4 * MB):
        assert len(chunk) <= 4 * MB
        digest.update(chunk)
    assert digest.hexdigest() == sha


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        (0, None, slice(0, None)),
        (100, None, slice(100, None)),
        (10, 19, slice(10, 20)),
        (10239, 10239, slice(10239, 10240)),
        (10000, 99999, slice(10000, None)),
        (0, 0, slice(0, 1)),
    ],
    ids=["all", "start-only", "start-end", "last-byte", "end-clamped", "first-byte"],
)
def test_iter_range_is_inclusive_like_http(
    store: BlobStore, start: int, end: int | None, expected: slice
) -> None:
    data = bytes(range(256)) * 40  # 10240 bytes
    store.put_bytes("ranges/obj", data)
    assert read_all(store, "ranges/obj", start, end) == data[expected]


def test_iter_range_streams_in_bounded_chunks(store: BlobStore) -> None:
    data = random.Random(3).randbytes(10_000)
    store.put_bytes("chunks/obj", data)
    chunks = list(store.iter_range("chunks/obj", 1, 8000, chunk_size=1000))
    assert b"".join(chunks) == data[1:8001]
    assert len(chunks) >= 8
    assert all(0 < len(c) <= 1000 for c in chunks)


def test_unsatisfiable_ranges_raise_value_error(store: BlobStore) -> None:
    store.put_bytes("ranges/small", b"0123456789")
    with pytest.raises(ValueError):
        read_all(store, "ranges/small", 10)
    with pytest.raises(ValueError):
        read_all(store, "ranges/small", 5, 3)
    with pytest.raises(ValueError):
        read_all(store, "ranges/small", 11, 10)
    assert read_all(store, "ranges/small", 5, 4) == b""  # empty, like 0..size-1 when size is 0
    with pytest.raises(ValueError):
        read_all(store, "ranges/small", -1)


def test_missing_key_raises_not_found_on_read_and_none_on_stat(store: BlobStore) -> None:
    with pytest.raises(NotFound, match="^blob 'nope/missing.bin' not found in the blob store$"):
        store.iter_range("nope/missing.bin")
    assert store.stat("nope/missing.bin") is None


def test_stat_reports_size_and_a_change_token(store: BlobStore) -> None:
    store.put_bytes("stat/obj", b"abc")
    first = store.stat("stat/obj")
    assert first is not None
    assert (first.key, first.size) == ("stat/obj", 3)
    assert first.etag
    time.sleep(0.01)
    store.put_bytes("stat/obj", b"abcdef")
    second = store.stat("stat/obj")
    assert second is not None and second.size == 6
    assert second.etag != first.etag


def test_delete_and_delete_prefix(store: BlobStore) -> None:
    for key in ("a/x", "a/b/y", "ab/z", "keep"):
        store.put_bytes(key, key.encode())
    store.delete("keep")
    store.delete("keep")  # deleting a missing key is not an error
    assert store.stat("keep") is None

    assert store.delete_prefix("a/") == 2
    assert [i.key for i in store.list()] == ["ab/z"]
    assert store.delete_prefix("a") == 1
    assert list(store.list()) == []
    with pytest.raises(ValueError):
        store.delete_prefix("")


def test_list_is_sorted_and_filtered_by_string_prefix(store: BlobStore) -> None:
    keys = ["m/b/c.txt", "m/a", "m-c", "m/b.txt", "n/1", "m/b/a.txt"]
    for key in keys:
        store.put_bytes(key, key.encode() * 2)

    def listed(prefix: str = "") -> list[str]:
        return sorted(i.key for i in store.list(prefix))  # order is backend-defined

    everything = list(store.list())
    assert sorted(i.key for i in everything) == sorted(keys)
    assert all(i.size == 2 * len(i.key) for i in everything)
    assert listed("m/") == ["m/a", "m/b.txt", "m/b/a.txt", "m/b/c.txt"]
    assert listed("m/b") == ["m/b.txt", "m/b/a.txt", "m/b/c.txt"]
    assert listed("m") == sorted(k for k in keys if k.startswith("m"))
    assert listed("zzz/") == []


# S3-compatible servers choose their own listing order (SeaweedFS: folder by folder), so only
# the stores that promise key order are held to it.
@pytest.mark.parametrize("store", ["file", "memory"], indirect=True)
def test_file_and_memory_stores_list_in_key_order(store: BlobStore) -> None:
    keys = ["m/b/c.txt", "m/a", "m-c", "m/b.txt", "n/1"]
    for key in keys:
        store.put_bytes(key, b"x")
    assert [i.key for i in store.list()] == sorted(keys)


@pytest.mark.parametrize(
    "key", ["", "/abs/key", "../escape", "a/../../b", "a//b", "a/./b", "a\\b", "trailing/"]
)
def test_invalid_keys_are_rejected_before_any_io(store: BlobStore, key: str) -> None:
    with pytest.raises(ValueError):
        store.put_bytes(key, b"x")
    with pytest.raises(ValueError):
        store.stat(key)
    with pytest.raises(ValueError):
        store.iter_range(key)
    with pytest.raises(ValueError):
        store.delete(key)


def test_local_path_only_for_files(store: BlobStore, request: pytest.FixtureRequest) -> None:
    store.put_bytes("lp/obj.bin", b"on disk")
    path = store.local_path("lp/obj.bin")
    if request.node.callspec.params["store"] == "file":
        assert path is not None and path.read_bytes() == b"on disk"
        with pytest.raises(NotFound, match="^blob 'lp/missing.bin' not found in the blob store$"):
            store.local_path("lp/missing.bin")
    else:
        assert path is None


def test_presigned_url_is_fetchable_over_http_for_s3(
    store: BlobStore, request: pytest.FixtureRequest
) -> None:
    payload = random.Random(5).randbytes(20_000)
    store.put_bytes("dl/model.safetensors", payload)
    url = store.presigned_url("dl/model.safetensors", 300, filename="modèle.safetensors")
    if request.node.callspec.params["store"] != "s3":
        assert url is None
        return
    assert url is not None
    resp = httpx.get(url, timeout=30)
    assert resp.status_code == 200
    assert resp.content == payload
    assert "attachment" in resp.headers["content-disposition"]
    assert "mod%C3%A8le.safetensors" in resp.headers["content-disposition"]
    ranged = httpx.get(url, headers={"Range": "bytes=10-19"}, timeout=30)
    assert ranged.status_code == 206 and ranged.content == payload[10:20]


def test_check_passes_on_a_working_store(store: BlobStore) -> None:
    store.check()


@pytest.mark.s3
def test_s3_creates_missing_bucket_on_first_write(s3_server: str) -> None:
    settings = load_settings(s3_endpoint_url=s3_server)
    bucket = unique_bucket("fresh")
    first = open_blob_store(f"s3://{bucket}", settings)
    assert list(first.list()) == []  # no bucket yet reads as empty
    first.put_bytes("k", b"v")
    second = open_blob_store(f"s3://{bucket}/", settings)
    assert read_all(second, "k") == b"v"


def test_unreachable_s3_endpoint_raises_storage_unavailable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "unused")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "unused")
    (port,) = free_ports(1)  # nothing listens there
    endpoint = f"http://127.0.0.1:{port}"
    settings = load_settings(s3_endpoint_url=endpoint)
    store = open_blob_store("s3://tmr-down/x", settings)
    began = time.monotonic()
    with pytest.raises(StorageUnavailable) as info:
        store.check()
    assert endpoint in info.value.message and "s3://tmr-down/x" in info.value.message
    assert "cannot reach the endpoint" in info.value.message
    with pytest.raises(StorageUnavailable):
        store.put_bytes("k", b"v")
    with pytest.raises(StorageUnavailable):
        store.iter_range("k")
    with pytest.raises(StorageUnavailable):
        list(store.list())
    assert time.monotonic() - began < 60


def test_unreadable_file_store_root_raises_storage_unavailable(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the store's folder should be")
    store = open_blob_store(f"file://{blocker}/blobs")
    with pytest.raises(StorageUnavailable, match="folder cannot be used") as caught:
        store.check()
    assert str(blocker) not in caught.value.message  # a 503 body never names the server's path
    with pytest.raises(StorageUnavailable):
        store.put_bytes("k", b"v")


def test_unknown_scheme_lists_the_valid_ones() -> None:
    with pytest.raises(ValueError, match=r"file://, memory://, s3://"):
        open_blob_store("ftp://example/x")


@pytest.mark.parametrize("url", ["file://relative/path", "s3://ab/x", "s3:///nobucket"])
def test_malformed_store_urls_are_rejected(url: str) -> None:
    with pytest.raises(ValueError):
        open_blob_store(url)


def test_every_backend_implements_the_protocol(store: BlobStore) -> None:
    assert isinstance(store, BlobStore)


def test_put_file_of_20_mib_round_trips_and_keeps_its_digest(
    store: BlobStore, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    src = tmp_path / "weights.safetensors"
    with open(src, "wb") as fh:
        stream = GeneratedStream(20 * MB + 123)  # over the 8 MiB multipart threshold
        while chunk := stream.read(MB):
            fh.write(chunk)
    digest = hashlib.sha256(src.read_bytes()).hexdigest()

    info = store.put_file("w/model.safetensors", src)

    assert (info.size, info.sha256) == (src.stat().st_size, digest)
    tail = read_all(store, "w/model.safetensors", info.size - 1000)
    assert tail == src.read_bytes()[-1000:]
    stat = store.stat("w/model.safetensors")
    assert stat is not None and stat.size == info.size
    if request.node.callspec.params["store"] in ("s3", "memory"):
        assert stat.sha256 == digest  # S3 keeps it as object metadata


@pytest.mark.parametrize(
    ("code", "status", "expected"),
    [
        ("InternalError", 500, StorageUnavailable),
        ("SlowDown", 503, StorageUnavailable),
        ("AccessDenied", 403, StorageUnavailable),
        ("NoSuchKey", 404, NotFound),
        ("InvalidRange", 416, ValueError),
    ],
)
def test_s3_error_responses_map_to_the_error_tree(
    code: str, status: int, expected: type[Exception]
) -> None:
    import boto3
    from botocore.stub import Stubber

    from tmr.storage.blobs.s3 import S3BlobStore

    client = boto3.client(
        "s3", region_name="us-east-1", aws_access_key_id="k", aws_secret_access_key="s"
    )
    store = S3BlobStore("tmr-stub", "p/", client=client)
    with Stubber(client) as stub:
        stub.add_client_error("get_object", code, f"{code} said the server", status)
        with pytest.raises(expected) as info:
            store.iter_range("k", 5)
    if expected is StorageUnavailable:
        assert code in str(info.value) and "S3 store s3://tmr-stub/p:" in str(info.value)
