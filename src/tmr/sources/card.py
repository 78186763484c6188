"""Read what a model card and its small JSON files declare: front matter, parents and links.

Pure functions, no I/O: given the card text and the parsed ``config.json`` /
``adapter_config.json`` of an :class:`HfRepo`, find the declared parent models (with where each
was found), the datasets the card links to, and the code repositories it links to. Malformed
metadata never raises here: a field of the wrong shape is ignored, because a broken card is
evidence for the metrics, not a reason to refuse an ingest.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date, datetime
from typing import Any

import yaml

from tmr.domain.snapshot import HfRepo, ParentRef
from tmr.sources.urls import GITHUB_RESERVED

HF_BASE = "https://huggingface.co"

_FRONT_MATTER = re.compile(r"\A\ufeff?---[ \t]*\r?\n(.*?)(?:\r?\n)?^---[ \t]*$\r?\n?", re.S | re.M)
_HUB_ID = re.compile(r"^(?:[A-Za-z0-9][A-Za-z0-9._-]{0,95}/)?[A-Za-z0-9][A-Za-z0-9._-]{0,95}$")
_HF_DATASET_LINK = re.compile(
    r"huggingface\.co/datasets/([A-Za-z0-9][A-Za-z0-9._-]*(?:/[A-Za-z0-9][A-Za-z0-9._-]*)?)"
)
_GITHUB_LINK = re.compile(
    r"github\.com/([A-Za-z0-9](?:[A-Za-z0-9-]{0,38}))/([A-Za-z0-9_.-]{1,100})((?:/[^\s)\]\"'<>]*)?)"
)
# Builder names and placeholders that appear in ``datasets:`` but are not Hub datasets.
_NOT_DATASETS = frozenset(
    {
        "imagefolder",
        "audiofolder",
        "videofolder",
        "json",
        "csv",
        "parquet",
        "text",
        "arrow",
        "custom",
        "generator",
        "pandas",
        "webdataset",
        "none",
        "null",
        "n/a",
        "other",
        "unknown",
    }
)
_CSafeLoader = getattr(yaml, "CSafeLoader", None)
MAX_CARD_CHARS = 1 << 20  # a card is text: what lies beyond a mebibyte is never read
MAX_FRONT_MATTER_BYTES = 256 << 10
# Key of ``HfRepo.extra_json`` under which metadata problems are recorded (no file path can
# collide with it: extra_json keys are paths ending in ``.json``).
PROBLEMS_KEY = "_problems"
_BADGE_HINTS = ("/actions", "/workflows/", "/badge", "/badges/", "/releases/download")
_IMAGE_SUFFIXES = (".svg", ".png", ".jpg", ".jpeg", ".gif", ".webp")


def parse_front_matter(text: str) -> tuple[dict[str, Any], str]:
    """Split a card into its YAML front matter (``{}`` when absent or refused) and its body."""
    data, _, body = read_front_matter(text)
    return data, body


def read_front_matter(text: str) -> tuple[dict[str, Any], str | None, str]:
    """The one card reader: (front matter, problem or None, body) of a model or dataset card.

    Fetched and uploaded cards both come through here. The front matter is refused (``{}`` with
    the reason as the problem) when it is larger than :data:`MAX_FRONT_MATTER_BYTES`, uses YAML
    anchors or aliases (a few hundred bytes of aliases expand to gigabytes: "billion laughs"),
    is malformed, nested too deeply, or not a mapping. A card without front matter is fine.
    """
    text = (text or "")[:MAX_CARD_CHARS]
    match = _FRONT_MATTER.match(text)
    if match is None:
        if text.lstrip("\ufeff").startswith("---"):
            return {}, "the YAML front matter of README.md is not closed by a '---' line", text
        return {}, None, text
    block, body = match.group(1), text[match.end() :]
    if len(block.encode()) > MAX_FRONT_MATTER_BYTES:
        return (
            {},
            f"the YAML front matter of README.md exceeds {MAX_FRONT_MATTER_BYTES} bytes",
            body,
        )
    try:
        data = _load_yaml(block)
    except yaml.YAMLError as exc:
        return (
            {},
            f"the YAML front matter of README.md is malformed: {exc}".replace("\n", " "),
            body,
        )
    except RecursionError:
        return {}, "the YAML front matter of README.md is nested too deeply", body
    if data is None:
        return {}, None, body
    if not isinstance(data, dict):
        return {}, "the YAML front matter of README.md is not a mapping", body
    return _jsonable(data), None, body


def _load_yaml(text: str) -> Any:
    """A safe load that refuses anchors and aliases before anything is built.

    libyaml's event parser (when PyYAML has it) checks for aliases first, then libyaml's safe
    loader builds the value, so a hostile card costs one linear pass; without libyaml the same two
    steps run in pure Python.
    """
    loader: Any = _CSafeLoader or yaml.SafeLoader
    for event in yaml.parse(text, Loader=loader):
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
            raise yaml.YAMLError("YAML anchors and aliases are not accepted in a card")
    return yaml.load(text, Loader=loader)  # noqa: S506 (a safe loader)


def _jsonable(value: Any) -> Any:
    """YAML gives dates and non-string keys; the snapshot is stored as JSON."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [_jsonable(v) for v in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


def find_parents(repo: HfRepo) -> list[ParentRef]:
    """Declared parents, deduplicated case-insensitively, first source kept.

    Looked for in ``config.json`` ``_name_or_path``, ``adapter_config.json``
    ``base_model_name_or_path``, the card's ``base_model`` (a string or a list), and the Hub's
    ``base_model:`` tags (which mirror the card when the front matter was not readable).
    """
    found: list[ParentRef] = []
    seen: set[str] = set()

    def add(candidate: object, source: str) -> None:
        name = _clean_hub_id(candidate)
        if name is None or _is_self(name, repo.repo_id) or name.lower() in seen:
            return
        seen.add(name.lower())
        found.append(ParentRef(name=name, source=source))  # type: ignore[arg-type]

    if isinstance(repo.config, dict):
        add(repo.config.get("_name_or_path"), "config_json")
    adapter = repo.extra_json.get("adapter_config.json")
    if isinstance(adapter, dict):
        add(adapter.get("base_model_name_or_path"), "adapter_config")
    base = repo.card_data.get("base_model") if isinstance(repo.card_data, dict) else None
    for value in base if isinstance(base, list) else [base]:
        add(value, "model_card")
    for tag in repo.tags:
        if isinstance(tag, str) and tag.startswith("base_model:") and tag.count(":") == 1:
            add(tag.split(":", 1)[1], "model_card")
    return found


def linked_dataset_urls(repo: HfRepo) -> list[str]:
    """URLs of the datasets a card names: ``datasets:`` metadata, ``dataset:`` tags, links."""
    ids: list[str] = []
    declared = repo.card_data.get("datasets") if isinstance(repo.card_data, dict) else None
    ids.extend(v for v in (declared if isinstance(declared, list) else [declared]) if v)
    ids.extend(
        t.split(":", 1)[1] for t in repo.tags if isinstance(t, str) and t.startswith("dataset:")
    )
    urls = [f"{HF_BASE}/datasets/{i}" for i in _dedupe(_clean_dataset_id(v) for v in ids)]
    return _dedupe_urls(urls + dataset_urls_in_text(repo.card_text))


def dataset_urls_in_text(text: str) -> list[str]:
    """Hugging Face dataset links written in a card or README, as canonical URLs."""
    ids = (_clean_dataset_id(m.group(1)) for m in _HF_DATASET_LINK.finditer(text or ""))
    return [f"{HF_BASE}/datasets/{i}" for i in _dedupe(ids)]


def linked_code_urls(text: str) -> list[str]:
    """GitHub repositories linked from a card: ``https://github.com/OWNER/REPO``, deduplicated.

    Badges, release assets, images and site pages (``github.com/features`` …) are skipped.
    """
    urls: list[str] = []
    for match in _GITHUB_LINK.finditer(text or ""):
        owner, repo, rest = match.group(1), match.group(2), match.group(3) or ""
        start = match.start()
        if start > 0 and text[start - 1] not in "/ \t\n([<'\"":
            continue  # e.g. raw.githubusercontent.com or gist.github.com
        repo = repo.rstrip(".,;:")
        if repo.endswith(".git"):
            repo = repo[: -len(".git")]
        if not repo or repo in (".", "..") or owner.lower() in GITHUB_RESERVED:
            continue
        lowered = rest.lower().split("?", 1)[0]
        if any(h in lowered for h in _BADGE_HINTS) or lowered.endswith(_IMAGE_SUFFIXES):
            continue
        if repo.lower().endswith(_IMAGE_SUFFIXES):
            continue
        urls.append(f"https://github.com/{owner}/{repo}")
    return _dedupe_urls(urls)


def _clean_hub_id(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    name = value.strip()
    for prefix in ("https://huggingface.co/", "http://huggingface.co/", "hf.co/"):
        if name.startswith(prefix):
            name = name[len(prefix) :]
    name = name.strip("/")
    # Local paths (``/content/out``, ``./ckpt``, ``C:\\x``, ``~/m``) are not hub ids.
    if not name or name.startswith((".", "~")) or "\\" in name or ":" in name:
        return None
    return name if _HUB_ID.match(name) and ".." not in name else None


def _clean_dataset_id(value: object) -> str | None:
    name = _clean_hub_id(value)
    if name is None or name.lower() in _NOT_DATASETS:
        return None
    return name


def _is_self(name: str, repo_id: str) -> bool:
    if name.lower() == repo_id.lower():
        return True
    # A legacy id (``bert-base-uncased``) names the repository it now lives under.
    return "/" not in name and name.lower() == repo_id.rsplit("/", 1)[-1].lower()


def _dedupe(values: Iterable[str | None]) -> list[str]:
    out: list[str] = []
    seen: set[str] = set()
    for value in values:
        if value and value.lower() not in seen:
            seen.add(value.lower())
            out.append(value)
    return out


def _dedupe_urls(urls: Iterable[str]) -> list[str]:
    return _dedupe(u.rstrip("/") for u in urls)
