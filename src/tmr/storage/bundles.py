"""Where an artifact's bundle lives in the blob store, its download parts, and streamed zips.

Everything of an artifact lives under ``artifacts/<id>/`` (one ``delete_prefix`` removes it), one
blob per file under a generation folder, ``artifacts/<id>/<generation>/<path>``: an update writes
a new generation and switches over, so a failed update leaves the old one whole. One blob per
file means a part of the package (weights only, card and config only, datasets only, code only)
is served without touching the rest. ``classify`` decides the part of a path by name alone (a pure
function); ``write_zip_stream`` builds the zip of a selection on the fly: each blob is read in
chunks and pushed through ``zipfile`` into a non-seekable sink that is drained after every chunk,
so memory stays bounded whatever the sizes (ZIP64 and data descriptors make this possible).
Weights and already-compressed formats are stored, the rest deflated.
"""

from __future__ import annotations

import io
import re
import time
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import PurePosixPath

from tmr.domain.files import PARTS, Part
from tmr.errors import NotFound
from tmr.storage.blobs.base import BlobStore, validate_key

WEIGHT_SUFFIXES = frozenset(
    {
        ".safetensors", ".bin", ".pt", ".pth", ".ckpt", ".h5", ".hdf5", ".keras", ".msgpack",
        ".onnx", ".gguf", ".ggml", ".ot", ".mlmodel", ".tflite", ".pb", ".joblib", ".pkl",
        ".pickle", ".nemo", ".engine", ".mar", ".caffemodel", ".params", ".npz",
    }
)  # fmt: skip
DATASET_SUFFIXES = frozenset(
    {".parquet", ".csv", ".tsv", ".jsonl", ".ndjson", ".arrow", ".feather", ".tfrecord", ".avro"}
)
DATASET_FOLDERS = frozenset({"data", "datasets", "dataset"})
CODE_SUFFIXES = frozenset(
    {
        ".py", ".ipynb", ".pyx", ".pyi", ".sh", ".js", ".ts", ".c", ".cc", ".cpp", ".h", ".hpp",
        ".cu", ".rs", ".go", ".java", ".scala", ".r", ".jl", ".swift", ".kt", ".lua", ".m",
    }
)  # fmt: skip
CODE_NAMES = frozenset(
    {
        "requirements.txt", "setup.py", "setup.cfg", "pyproject.toml", "environment.yml",
        "environment.yaml", "makefile", "dockerfile", "cmakelists.txt", "cargo.toml",
        "package.json", "pipfile", "pipfile.lock", "poetry.lock", "uv.lock",
    }
)  # fmt: skip
CODE_FOLDERS = frozenset({"src", "scripts", "examples", "notebooks", "code"})
CARD_NAMES = frozenset(
    {
        "readme", "readme.md", "readme.txt", "readme.rst", "license", "license.md", "license.txt",
        "licence", "copying", "notice", "model_card.md", "model-card.md", "modelcard.md",
        "vocab.txt", "merges.txt", "tokenizer.model", "spiece.model", "sentencepiece.bpe.model",
        "added_tokens.txt",
    }
)  # fmt: skip
CARD_SUFFIXES = frozenset({".json", ".md", ".yaml", ".yml", ".txt", ".tiktoken"})
# Formats that are compressed already: deflating them again only burns CPU.
STORED_SUFFIXES = WEIGHT_SUFFIXES | frozenset(
    {".parquet", ".arrow", ".feather", ".zip", ".gz", ".bz2", ".xz", ".zst", ".7z", ".png",
     ".jpg", ".jpeg", ".webp", ".mp3", ".mp4", ".wav", ".flac"}
)  # fmt: skip
_WEIGHT_NAME = re.compile(r"^(weights?|pytorch_model|model|tf_model|flax_model)(\.|-\d|$)")
_TF_CHECKPOINT = re.compile(r"\.ckpt(\.|$)|\.data-\d+-of-\d+$")
_ARTIFACT_ID = re.compile(r"^[A-Za-z0-9-]+$")


def classify(path: str) -> Part:
    """The download part a repository path belongs to; ``all`` when it fits none of the others.

    Order matters: a file under ``data/`` is a dataset whatever its type, weights are recognised
    by their format wherever they sit, then dataset formats, code, and the card (README, licence,
    config, tokenizer and other small metadata files).
    """
    p = PurePosixPath(path.lower())
    name, suffix, folders = p.name, p.suffix, p.parts[:-1]
    if folders and folders[0] in DATASET_FOLDERS:
        return "datasets"
    if suffix in WEIGHT_SUFFIXES or _TF_CHECKPOINT.search(name):
        return "weights"
    if _WEIGHT_NAME.match(name) and suffix in ("", ".data"):
        return "weights"
    if ".index" in name and suffix == ".json" and ("safetensors" in name or "model" in name):
        return "weights"  # shard index (model.safetensors.index.json): useless without shards
    if suffix in DATASET_SUFFIXES:
        return "datasets"
    if suffix in CODE_SUFFIXES or name in CODE_NAMES or (folders and folders[0] in CODE_FOLDERS):
        return "code"
    if name in CARD_NAMES or name.startswith(("license", "licence")) or suffix in CARD_SUFFIXES:
        return "card"
    return "all"


def in_part(path: str, part: Part) -> bool:
    """Whether ``path`` is downloaded with ``part`` (everything is in ``all``)."""
    if part not in PARTS:
        raise ValueError(f"unknown part {part!r}; the parts are {', '.join(PARTS)}")
    return part == "all" or classify(path) == part


# -- layout ------------------------------------------------------------------------------------


ALL_BUNDLES = "artifacts/"
GROUPS_PREFIX = "groups/"  # atomic groups keep uploaded zips here until they execute


def bundle_prefix(artifact_id: str) -> str:
    """Every blob of one artifact sits under this prefix (delete_prefix removes the artifact)."""
    if not _ARTIFACT_ID.match(artifact_id):
        raise ValueError(f"artifact id {artifact_id!r} does not match ^[a-zA-Z0-9-]+$")
    return f"{ALL_BUNDLES}{artifact_id}/"


def bundles_prefix(artifact_id: str) -> str:
    """The folder of an artifact's materialised download zips (one per part and content)."""
    return bundle_prefix(artifact_id) + "bundles/"


def files_prefix(artifact_id: str, generation: str = "files") -> str:
    """The folder of one generation of an artifact's files."""
    if "/" in generation:
        raise ValueError(f"generation {generation!r} must be a single key component")
    return bundle_prefix(artifact_id) + validate_key(generation) + "/"


def file_key(artifact_id: str, path: str, generation: str = "files") -> str:
    """The blob key of one repository file of an artifact."""
    return files_prefix(artifact_id, generation) + validate_key(path)


@dataclass(frozen=True, slots=True)
class ZipEntry:
    """One member of a streamed zip: which blob (or, for small generated members such as a
    manifest, which bytes), and the path it gets inside the archive."""

    key: str
    arcname: str
    data: bytes | None = None


def bundle_entries(
    store: BlobStore, artifact_id: str, part: Part = "all", generation: str = "files"
) -> list[ZipEntry]:
    """The stored files of one generation of an artifact that belong to ``part``, by path."""
    prefix = files_prefix(artifact_id, generation)
    entries = [
        ZipEntry(key=info.key, arcname=info.key[len(prefix) :])
        for info in store.list(prefix)
        if in_part(info.key[len(prefix) :], part)
    ]
    return sorted(entries, key=lambda e: e.arcname)


# -- streamed zip ------------------------------------------------------------------------------


class _Sink(io.RawIOBase):
    """A write-only, non-seekable buffer that the generator empties after every write."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []

    def writable(self) -> bool:
        return True

    def write(self, data: bytes | bytearray | memoryview) -> int:  # type: ignore[override]
        self._parts.append(bytes(data))
        return len(data)

    def drain(self) -> bytes:
        data = b"".join(self._parts)
        self._parts.clear()
        return data


def write_zip_stream(
    store: BlobStore,
    entries: Iterable[ZipEntry],
    chunk: int = 1 << 20,
    stamp: tuple[int, int, int, int, int, int] | None = None,
) -> Iterator[bytes]:
    """Stream a zip of ``entries`` as it is built; pieces are about ``chunk`` bytes.

    Every blob is looked up first, so a missing one raises ``NotFound`` before the first byte
    (before an HTTP response has started); bad or duplicate member names raise ValueError.
    ``stamp`` fixes the members' modification time (the same files then give the same bytes).
    """
    planned: list[tuple[ZipEntry, int]] = []
    seen: set[str] = set()
    for entry in entries:
        validate_key(entry.arcname)
        if entry.arcname in seen:
            raise ValueError(f"zip member {entry.arcname!r} listed twice")
        seen.add(entry.arcname)
        if entry.data is not None:
            planned.append((entry, len(entry.data)))
            continue
        info = store.stat(entry.key)
        if info is None:
            raise NotFound(f"blob {entry.key!r} not found in the blob store", key=entry.key)
        planned.append((entry, info.size))
    return _generate(store, planned, chunk, stamp or time.localtime()[:6])


def _generate(
    store: BlobStore,
    planned: list[tuple[ZipEntry, int]],
    chunk: int,
    stamp: tuple[int, int, int, int, int, int],
) -> Iterator[bytes]:
    sink = _Sink()
    with zipfile.ZipFile(sink, "w", allowZip64=True) as zf:
        for entry, size in planned:
            member = zipfile.ZipInfo(entry.arcname, date_time=stamp)
            stored = PurePosixPath(entry.arcname.lower()).suffix in STORED_SUFFIXES
            member.compress_type = zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED
            member.external_attr = 0o644 << 16
            member.file_size = size
            with zf.open(member, "w", force_zip64=size > zipfile.ZIP64_LIMIT // 2) as out:
                pieces = (
                    iter([entry.data])
                    if entry.data is not None
                    else store.iter_range(entry.key, chunk_size=chunk)
                )
                for piece in pieces:
                    out.write(piece)
                    if data := sink.drain():
                        yield data
            if data := sink.drain():
                yield data
    if data := sink.drain():  # the central directory
        yield data
