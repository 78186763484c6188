"""Uploaded bundles: safe extraction of a zip laid out like a Hugging Face repository.

``extract_bundle`` unpacks an uploaded zip into an empty folder and refuses anything that could
hurt the host: entries that escape the folder (``..``, absolute paths, drive letters), symbolic
links and other special files, encrypted entries, too many entries, and decompression bombs. The
size limits are enforced on the bytes actually written while each entry streams out (the headers
are only used for a cheap early refusal, never trusted), so a lying header cannot get past them.
A single top-level folder wrapping everything is stripped. Every file gets its size and sha256
computed on the way. The repository metadata (model card and its YAML front matter, config.json,
adapter_config.json, other small JSON files) is read into an ``ExtractedBundle``; malformed
metadata does not stop the upload but is recorded in ``problems`` (lineage later answers 400 for
it), and ``bundle_snapshot`` turns the bundle into the ``Snapshot`` every metric reads. No network.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import stat
import zipfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from tmr.domain.snapshot import HfRepo, RepoFile, Snapshot, cap_extra_json
from tmr.errors import InvalidUpload
from tmr.sources.card import (
    PROBLEMS_KEY,
    find_parents,
    linked_code_urls,
    linked_dataset_urls,
    read_front_matter,
)
from tmr.sources.streams import stream_to_file

if TYPE_CHECKING:
    from tmr.config import Settings

CHUNK = 1 << 20
# Ratios are only judged once this much has come out of an entry (or the archive): a few KiB of
# zeros or of repetitive JSON legitimately compress far beyond any sane bomb threshold.
RATIO_GRACE_BYTES = 1 << 20
MAX_CARD_BYTES = 1 << 20
MAX_CONFIG_BYTES = 8 << 20
MAX_EXTRA_JSON_BYTES = 256 << 10
SKIPPED_PREFIXES = ("__MACOSX/", ".git/")
SKIPPED_NAMES = frozenset({".DS_Store", "Thumbs.db"})
_DRIVE = re.compile(r"^[A-Za-z]:")


@dataclass
class ExtractedBundle:
    """What an uploaded zip held, once safely on disk under ``root``."""

    root: Path
    files: list[RepoFile]
    card_text: str = ""
    card_data: dict[str, Any] = field(default_factory=dict)
    config: dict[str, Any] | None = None
    extra_json: dict[str, Any] = field(default_factory=dict)
    license: str | None = None
    version: str | None = None
    problems: dict[str, str] = field(default_factory=dict)
    stripped_prefix: str | None = None
    skipped: list[str] = field(default_factory=list)

    @property
    def total_bytes(self) -> int:
        return sum(f.size for f in self.files)

    @property
    def digest(self) -> str:
        """A content id for the whole bundle: sha256 over the sorted (path, sha256) pairs."""
        h = hashlib.sha256()
        for f in sorted(self.files, key=lambda f: f.path):
            h.update(f"{f.path}\0{f.sha256}\n".encode())
        return h.hexdigest()

    def path_of(self, rel: str) -> Path:
        return self.root / rel


# -- entry names -------------------------------------------------------------------------------


MAX_NAME_PART_BYTES = 255  # what file systems allow for one path component
# What a whole entry path may hold: well under PATH_MAX (4096) with the extraction folder in
# front of it, so a deep path is refused up front instead of failing the write (a 500).
MAX_NAME_BYTES = 1024


def safe_entry_name(raw: str) -> str:
    """Normalise a zip entry name to a relative POSIX path, or raise InvalidUpload saying why.

    Backslashes count as separators (zips made on Windows), ``.`` and empty components vanish,
    and a trailing ``/`` (a folder entry) is kept.
    """
    if any(ord(c) < 32 for c in raw):
        raise InvalidUpload(f"zip entry {raw!r} has control characters in its name", entry=raw)
    name = raw.replace("\\", "/")
    if name.startswith("/") or _DRIVE.match(name):
        raise InvalidUpload(f"zip entry {raw!r} has an absolute path", entry=raw)
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise InvalidUpload(f"zip entry {raw!r} escapes the bundle with '..'", entry=raw)
    for part in parts:
        if len(part.encode()) > MAX_NAME_PART_BYTES:
            raise InvalidUpload(
                f"zip entry {raw[:80]!r}… has a name part of {len(part.encode())} bytes; "
                f"at most {MAX_NAME_PART_BYTES} bytes per folder or file name",
                entry=raw[:300],
            )
    norm = "/".join(parts)
    if len(norm.encode()) > MAX_NAME_BYTES:
        raise InvalidUpload(
            f"zip entry {raw[:80]!r}… has a path of {len(norm.encode())} bytes; at most "
            f"{MAX_NAME_BYTES} bytes",
            entry=raw[:300],
        )
    return norm + "/" if name.endswith("/") and norm else norm


def _entry_kind(info: zipfile.ZipInfo) -> str:
    """``file``, ``dir`` or the name of a refused special kind, from the Unix mode bits."""
    mode = info.external_attr >> 16
    kind = stat.S_IFMT(mode)
    if kind == stat.S_IFLNK:
        return "symbolic link"
    if kind not in (0, stat.S_IFREG, stat.S_IFDIR):
        return "special file"
    return "dir" if info.is_dir() or kind == stat.S_IFDIR else "file"


def _plan(
    infos: list[zipfile.ZipInfo],
) -> tuple[list[tuple[zipfile.ZipInfo, str]], list[str], str | None]:
    """Validate every entry up front: (entry, final path) pairs, skipped names, stripped folder.

    Nothing is written until the whole archive has passed these checks.
    """
    files: list[tuple[zipfile.ZipInfo, str]] = []
    skipped: list[str] = []
    for info in infos:
        name = safe_entry_name(info.filename)
        kind = _entry_kind(info)
        if kind not in ("file", "dir"):
            raise InvalidUpload(f"zip entry {info.filename!r} is a {kind}", entry=info.filename)
        if info.flag_bits & 0x1:
            raise InvalidUpload(f"zip entry {info.filename!r} is encrypted", entry=info.filename)
        if not name or kind == "dir" or name.endswith("/"):
            continue
        if name.startswith(SKIPPED_PREFIXES) or PurePosixPath(name).name in SKIPPED_NAMES:
            skipped.append(name)
            continue
        files.append((info, name))
    if not files:
        raise InvalidUpload("the zip holds no files")
    top = None
    firsts = {name.split("/", 1)[0] for _, name in files}
    if len(firsts) == 1 and all("/" in name for _, name in files):
        top = firsts.pop() + "/"
        files = [(info, name[len(top) :]) for info, name in files]
    seen: set[str] = set()
    for _, name in files:
        if name in seen:
            raise InvalidUpload(f"zip entry {name!r} appears twice", entry=name)
        seen.add(name)
    folders = {str(p) for _, name in files for p in PurePosixPath(name).parents if str(p) != "."}
    clash = seen & folders
    if clash:
        name = sorted(clash)[0]
        raise InvalidUpload(f"zip entry {name!r} is both a file and a folder", entry=name)
    return files, skipped, top


# -- extraction --------------------------------------------------------------------------------


class _Budget:
    """Counts bytes as they are written and refuses the archive the moment a limit is passed."""

    def __init__(self, settings: Settings, archive_size: int) -> None:
        self.max_ratio = settings.max_zip_ratio
        self.archive_size = max(archive_size, 1)
        self.total = 0

    def add(self, name: str, written: int, n: int, consumed: int) -> None:
        # No total check here: every entry is cut at its declared size (zipfile stops there and
        # a longer stream fails its CRC), and the declared sizes were checked against the limit.
        self.total += n
        if written > RATIO_GRACE_BYTES and written / max(consumed, 1) > self.max_ratio:
            raise InvalidUpload(
                f"zip entry {name!r} expands more than {self.max_ratio:g} times its compressed "
                "size: refused as a decompression bomb",
                entry=name,
            )
        if self.total > RATIO_GRACE_BYTES and self.total / self.archive_size > self.max_ratio:
            raise InvalidUpload(
                f"the zip expands more than {self.max_ratio:g} times its own size: refused as a "
                "decompression bomb",
                entry=name,
            )


def _extract_one(
    zf: zipfile.ZipFile, info: zipfile.ZipInfo, name: str, target: Path, budget: _Budget
) -> RepoFile:
    compressed = min(info.compress_size, budget.archive_size)
    if target.exists():
        raise InvalidUpload(f"zip entry {name!r} appears twice", entry=name)

    def guard(written: int, n: int) -> None:
        # zipfile never yields more than the header's size (a longer stream is "Bad CRC-32").
        # Compressed bytes consumed so far (private but stable in CPython 3.8-3.13).
        left = getattr(src, "_compress_left", None)
        consumed = compressed - left if isinstance(left, int) else compressed
        budget.add(name, written, n, max(consumed, 1))

    with zf.open(info) as src:
        sha, written = stream_to_file(
            iter(lambda: src.read(CHUNK), b""),
            target,
            f"zip entry {name!r}",
            guard=guard,
            expected_size=info.file_size,
            error=InvalidUpload,
        )
    return RepoFile(path=name, size=written, sha256=sha)


def extract_bundle(zip_path: Path, dest_dir: Path, settings: Settings) -> ExtractedBundle:
    """Safely extract ``zip_path`` into the empty (or new) ``dest_dir`` and read its metadata.

    Raises InvalidUpload naming what was wrong; on any failure ``dest_dir`` is left empty.
    """
    archive_size = zip_path.stat().st_size  # the server's own temporary copy of the upload
    if archive_size > settings.max_upload_bytes:
        raise InvalidUpload(
            f"the upload is {archive_size} bytes; at most {settings.max_upload_bytes} are allowed"
        )
    if dest_dir.exists() and any(dest_dir.iterdir()):
        raise ValueError(f"extraction folder {dest_dir} is not empty")
    try:
        zf = zipfile.ZipFile(zip_path)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise InvalidUpload(f"the upload is not a readable zip archive: {exc}") from exc
    dest_dir.mkdir(parents=True, exist_ok=True)
    try:
        with zf:
            bundle = _extract_all(zf, archive_size, dest_dir, settings)
    except InvalidUpload:
        _empty(dest_dir)
        raise
    except (zipfile.BadZipFile, EOFError, NotImplementedError, RuntimeError, ValueError) as exc:
        # Corrupt data, CRC mismatch, unsupported compression method…
        _empty(dest_dir)
        raise InvalidUpload(f"the zip archive is corrupt or unsupported: {exc}") from exc
    except BaseException:
        _empty(dest_dir)
        raise
    _read_metadata(bundle)
    return bundle


def _extract_all(
    zf: zipfile.ZipFile, archive_size: int, dest_dir: Path, settings: Settings
) -> ExtractedBundle:
    infos = zf.infolist()
    if len(infos) > settings.max_zip_entries:
        raise InvalidUpload(
            f"the zip has {len(infos)} entries; at most {settings.max_zip_entries} are allowed"
        )
    declared = sum(i.file_size for i in infos)
    if declared > settings.max_unpacked_bytes:
        raise InvalidUpload(
            f"the zip declares {declared} unpacked bytes; at most "
            f"{settings.max_unpacked_bytes} are allowed"
        )
    planned, skipped, stripped = _plan(infos)
    budget = _Budget(settings, archive_size)
    root = dest_dir.resolve()
    files = []
    for info, name in planned:
        target = dest_dir / name
        if not target.resolve().is_relative_to(root):  # belt and braces after safe_entry_name
            raise InvalidUpload(f"zip entry {name!r} escapes the bundle", entry=name)
        files.append(_extract_one(zf, info, name, target, budget))
    return ExtractedBundle(root=dest_dir, files=files, stripped_prefix=stripped, skipped=skipped)


def _empty(folder: Path) -> None:
    for child in folder.iterdir():
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child, ignore_errors=True)
        else:
            child.unlink(missing_ok=True)


# -- metadata ----------------------------------------------------------------------------------


def _load_json(path: Path, limit: int) -> tuple[Any, str | None]:
    if path.stat().st_size > limit:
        return None, f"larger than {limit} bytes, not read"
    try:
        return json.loads(path.read_bytes().decode("utf-8-sig")), None
    except UnicodeDecodeError as exc:
        return None, f"not UTF-8 text: {exc}"
    except json.JSONDecodeError as exc:
        return None, f"not valid JSON: {exc}"
    except RecursionError:
        return None, "not valid JSON: nested too deeply"


def _find_readme(paths: set[str]) -> str | None:
    for candidate in ("README.md", "README.markdown", "README.txt", "README"):
        for path in sorted(paths):
            if path.lower() == candidate.lower():
                return path
    return None


def _read_metadata(bundle: ExtractedBundle) -> None:
    paths = {f.path for f in bundle.files}
    readme = _find_readme(paths)
    if readme is not None:
        with open(bundle.path_of(readme), "rb") as fh:
            raw = fh.read(MAX_CARD_BYTES)  # a card is text; never load a giant one whole
        bundle.card_text = raw.decode("utf-8", errors="replace").lstrip("\ufeff")
        bundle.card_data, problem, _ = read_front_matter(bundle.card_text)
        if problem:
            bundle.problems[readme] = problem
    if "config.json" in paths:
        config, problem = _load_json(bundle.path_of("config.json"), MAX_CONFIG_BYTES)
        if problem is None and not isinstance(config, dict):
            problem = "not a JSON object"
        if problem:
            bundle.problems["config.json"] = f"config.json is {problem}"
        else:
            bundle.config = config
    for path in sorted(paths):
        if not path.endswith(".json") or path == "config.json":
            continue
        size = bundle.path_of(path).stat().st_size
        if size > MAX_EXTRA_JSON_BYTES and path != "adapter_config.json":
            continue  # tokenizer.json and friends: big, and nothing reads them
        value, problem = _load_json(bundle.path_of(path), MAX_CONFIG_BYTES)
        if problem:
            bundle.problems[path] = f"{path} is {problem}"
        else:
            bundle.extra_json[path] = value
    lic = bundle.card_data.get("license")
    if isinstance(lic, list):
        lic = lic[0] if lic else None
    bundle.license = str(lic) if lic not in (None, "") else None
    version = bundle.card_data.get("version")
    if isinstance(version, str | int | float) and not isinstance(version, bool):
        bundle.version = str(version).strip() or None


# -- snapshot ----------------------------------------------------------------------------------


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [v for v in value if isinstance(v, str)]
    return []


def bundle_snapshot(
    extracted: ExtractedBundle, url: str, name: str, *, repo_type: str = "model"
) -> Snapshot:
    """The ``Snapshot`` (source ``upload``) that search, lineage and every metric read."""
    card = extracted.card_data
    extra = cap_extra_json(extracted.extra_json)
    if extracted.problems:
        extra[PROBLEMS_KEY] = dict(extracted.problems)
    hf = HfRepo(
        repo_id=name,
        repo_type="dataset" if repo_type == "dataset" else "model",
        sha=extracted.digest,
        card_text=extracted.card_text,
        card_data=card,
        config=extracted.config,
        extra_json=extra,
        tags=_strings(card.get("tags")),
        license=extracted.license,
        pipeline_tag=card.get("pipeline_tag")
        if isinstance(card.get("pipeline_tag"), str)
        else None,
        library_name=card.get("library_name")
        if isinstance(card.get("library_name"), str)
        else None,
        git_tags=[extracted.version] if extracted.version else [],
        files=list(extracted.files),
    )
    return Snapshot(
        source="upload",
        url=url,
        fetched_at=datetime.now(UTC).isoformat(timespec="seconds"),
        hf=hf,
        parents=find_parents(hf),
        linked_dataset_urls=linked_dataset_urls(hf),
        linked_code_urls=linked_code_urls(hf.card_text),
    )
