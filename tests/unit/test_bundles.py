"""Bundle layout, download parts and streamed zips (``tmr.storage.bundles``).

The classification is pinned by a table of real Hugging Face and GitHub file names; the streamed
zip is checked byte for byte with ``zipfile`` and, for a 200 MiB member, for bounded memory with
``tracemalloc``.
"""

from __future__ import annotations

import hashlib
import io
import random
import tracemalloc
import zipfile
from pathlib import Path

import pytest

from tmr.domain.files import PARTS
from tmr.errors import NotFound
from tmr.storage.blobs import BlobStore, open_blob_store
from tmr.storage.bundles import (
    ZipEntry,
    bundle_entries,
    bundle_prefix,
    classify,
    file_key,
    in_part,
    write_zip_stream,
)

MB = 1024 * 1024


@pytest.mark.parametrize(
    ("path", "part"),
    [
        ("model.safetensors", "weights"),
        ("model-00001-of-00002.safetensors", "weights"),
        ("model.safetensors.index.json", "weights"),
        ("pytorch_model.bin", "weights"),
        ("pytorch_model.bin.index.json", "weights"),
        ("tf_model.h5", "weights"),
        ("flax_model.msgpack", "weights"),
        ("onnx/model.onnx", "weights"),
        ("tiny-llm.Q4_K_M.gguf", "weights"),
        ("rust_model.ot", "weights"),
        ("coreml/model.mlmodel", "weights"),
        ("checkpoints/last.ckpt", "weights"),
        ("resnet50.pth", "weights"),
        ("weight.bin", "weights"),
        ("variables/variables.data-00000-of-00001", "weights"),
        ("model.ckpt.index", "weights"),
        ("README.md", "card"),
        ("readme.md", "card"),
        ("config.json", "card"),
        ("generation_config.json", "card"),
        ("tokenizer.json", "card"),
        ("tokenizer_config.json", "card"),
        ("special_tokens_map.json", "card"),
        ("vocab.txt", "card"),
        ("merges.txt", "card"),
        ("tokenizer.model", "card"),
        ("1_Pooling/config.json", "card"),
        ("LICENSE", "card"),
        ("LICENSE.txt", "card"),
        ("model_index.json", "card"),
        ("data/train-00000-of-00001.parquet", "datasets"),
        ("datasets/README.md", "datasets"),
        ("dataset/labels.bin", "datasets"),
        ("train.csv", "datasets"),
        ("eval.jsonl", "datasets"),
        ("cache/train.arrow", "datasets"),
        ("modeling_custom.py", "code"),
        ("src/pkg/module.py", "code"),
        ("src/pkg/settings.json", "code"),
        ("examples/demo.ipynb", "code"),
        ("requirements.txt", "code"),
        ("setup.py", "code"),
        ("pyproject.toml", "code"),
        ("scripts/train.sh", "code"),
        (".gitattributes", "all"),
        ("images/architecture.png", "all"),
    ],
)
def test_classify_table(path: str, part: str) -> None:
    assert classify(path) == part


def test_every_path_is_in_all_and_in_exactly_its_own_part() -> None:
    for path in ["model.safetensors", "README.md", "data/x.csv", "run.py", ".gitattributes"]:
        assert in_part(path, "all")
        own = [p for p in PARTS if p != "all" and in_part(path, p)]
        assert own == ([] if classify(path) == "all" else [classify(path)])
    with pytest.raises(ValueError, match="unknown part"):
        in_part("x", "everything")  # type: ignore[arg-type]


def test_layout_keys_are_per_artifact_and_validated() -> None:
    assert bundle_prefix("a1-b2") == "artifacts/a1-b2/"
    assert (
        file_key("a1-b2", "1_Pooling/config.json") == "artifacts/a1-b2/files/1_Pooling/config.json"
    )
    assert file_key("a1", "README.md", generation="3f9c") == "artifacts/a1/3f9c/README.md"
    with pytest.raises(ValueError):
        file_key("a1", "README.md", generation="../x")
    with pytest.raises(ValueError):
        bundle_prefix("../etc")
    with pytest.raises(ValueError):
        file_key("a1", "../../other/files/x")


def fill(store: BlobStore, artifact: str, files: dict[str, bytes]) -> None:
    for path, data in files.items():
        store.put_bytes(file_key(artifact, path), data)


def test_bundle_entries_select_a_part(tmp_path: Path) -> None:
    store = open_blob_store("memory://")
    fill(
        store,
        "m1",
        {"README.md": b"#", "config.json": b"{}", "model.safetensors": b"w", "train.py": b"p"},
    )
    fill(store, "m2", {"README.md": b"other artifact"})
    assert [e.arcname for e in bundle_entries(store, "m1")] == [
        "README.md",
        "config.json",
        "model.safetensors",
        "train.py",
    ]
    assert [e.arcname for e in bundle_entries(store, "m1", "card")] == ["README.md", "config.json"]
    assert [e.key for e in bundle_entries(store, "m1", "weights")] == [
        "artifacts/m1/files/model.safetensors"
    ]
    assert bundle_entries(store, "m1", "datasets") == []


def test_streamed_zip_of_three_blobs_matches_byte_for_byte(tmp_path: Path) -> None:
    store = open_blob_store(f"file://{tmp_path / 'blobs'}")
    files = {
        "README.md": b"# Tiny model\n" * 500,
        "model.safetensors": random.Random(0).randbytes(3 * MB + 17),
        "sub/dir/config.json": b'{"a": 1}',
    }
    fill(store, "art-1", files)

    pieces = list(write_zip_stream(store, bundle_entries(store, "art-1"), chunk=256 * 1024))

    assert len(pieces) > 3  # it really streamed, not one blob at the end
    with zipfile.ZipFile(io.BytesIO(b"".join(pieces))) as zf:
        assert zf.testzip() is None
        assert sorted(zf.namelist()) == sorted(files)
        for name, data in files.items():
            assert zf.read(name) == data
        assert zf.getinfo("model.safetensors").compress_type == zipfile.ZIP_STORED
        assert zf.getinfo("README.md").compress_type == zipfile.ZIP_DEFLATED
        assert zf.getinfo("README.md").compress_size < len(files["README.md"])


def test_streamed_zip_of_empty_selection_is_a_valid_empty_zip() -> None:
    data = b"".join(write_zip_stream(open_blob_store("memory://"), []))
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        assert zf.namelist() == []


def test_missing_blob_fails_before_the_first_byte() -> None:
    store = open_blob_store("memory://")
    store.put_bytes("a", b"1")
    with pytest.raises(NotFound):
        write_zip_stream(store, [ZipEntry("a", "a"), ZipEntry("gone", "gone")])
    with pytest.raises(ValueError, match="twice"):
        write_zip_stream(store, [ZipEntry("a", "x"), ZipEntry("a", "x")])
    with pytest.raises(ValueError):
        write_zip_stream(store, [ZipEntry("a", "../escape")])


class Generated(io.RawIOBase):
    """``total`` pseudo-random bytes produced on demand (never held whole)."""

    def __init__(self, total: int) -> None:
        self.block = random.Random(9).randbytes(MB)
        self.total, self.pos = total, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        n = min(len(buffer), self.total - self.pos, MB - self.pos % MB)
        if n <= 0:
            return 0
        buffer[:n] = self.block[self.pos % MB : self.pos % MB + n]
        self.pos += n
        return n


def test_streamed_zip_of_a_200_mib_member_keeps_memory_bounded(tmp_path: Path) -> None:
    store = open_blob_store(f"file://{tmp_path / 'blobs'}")
    size = 200 * MB
    big = store.put_stream(file_key("big", "model.safetensors"), Generated(size))  # type: ignore[arg-type]
    store.put_bytes(file_key("big", "README.md"), b"# big\n" * 1000)
    out = tmp_path / "download.zip"

    tracemalloc.start()
    try:
        with open(out, "wb") as fh:
            for piece in write_zip_stream(store, bundle_entries(store, "big")):
                fh.write(piece)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    print(f"\nstreamed zip of a 200 MiB member: traced peak {peak / MB:.2f} MiB")
    assert peak < 20 * MB
    with zipfile.ZipFile(out) as zf:
        assert zf.getinfo("model.safetensors").file_size == size
        digest = hashlib.sha256()
        with zf.open("model.safetensors") as member:
            while chunk := member.read(MB):
                digest.update(chunk)
        assert digest.hexdigest() == big.sha256
        assert zf.read("README.md") == b"# big\n" * 1000
