"""Build Snapshot objects straight from the recorded upstream data in tests/data/upstream.

No network and no ``tmr.sources``: this reads ``api.json``, ``files.json``, ``files/*`` of Hugging
Face records and the ``github/*.json`` files of GitHub records, so metric tests and the
calibration test run on real recorded data. Links found in a model card (GitHub repositories,
Hugging Face datasets) are followed when a record exists, the way the registry's sources link
them at registration.
"""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import Any

from tmr.domain.snapshot import (
    GitHubContributor,
    GitHubPull,
    GitHubPullFile,
    GitHubRepo,
    HfRepo,
    ParentRef,
    RepoFile,
    Snapshot,
)

UPSTREAM = Path(__file__).resolve().parents[1] / "data" / "upstream"
_GITHUB_URL = re.compile(r"github\.com/([\w.-]+)/([\w.-]+?)(?:\.git)?(?=[/)\s\]#?\"']|$)")
_HF_DATASET_URL = re.compile(r"huggingface\.co/datasets/([\w.-]+/[\w.-]+)")
_HF_MODEL_URL = re.compile(r"huggingface\.co/([\w.-]+/[\w.-]+?)(?:/tree/[\w.-]+)?/?$")


def _json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else None


@cache
def _aliases() -> dict[str, str]:
    manifest = _json(UPSTREAM / "manifest.json")
    table: dict[str, str] = {}
    for record in manifest["repos"]:
        for alias in record.get("aliases") or []:
            table[alias] = record["id"]
    return table


def canonical(repo_id: str) -> str:
    return _aliases().get(repo_id, repo_id)


def has_hf(kind: str, repo_id: str) -> bool:
    return (UPSTREAM / "hf" / kind / canonical(repo_id) / "api.json").exists()


def has_github(full_name: str) -> bool:
    return (UPSTREAM / "github" / full_name / "repo.json").exists()


def _parents(config: dict[str, Any] | None, card_data: dict[str, Any]) -> list[ParentRef]:
    parents: list[ParentRef] = []
    base = card_data.get("base_model")
    for name in [base] if isinstance(base, str) else base or []:
        parents.append(ParentRef(name=str(name), source="model_card"))
    name_or_path = (config or {}).get("_name_or_path")
    if (
        isinstance(name_or_path, str)
        and "/" in name_or_path
        and not name_or_path.startswith(".")
        and all(p.name != name_or_path for p in parents)
    ):
        parents.append(ParentRef(name=name_or_path, source="config_json"))
    return parents


def load_hf(kind: str, repo_id: str) -> Snapshot:
    """A model (kind 'models') or dataset (kind 'datasets') snapshot from its recorded files."""
    repo_id = canonical(repo_id)
    folder = UPSTREAM / "hf" / kind / repo_id
    api = _json(folder / "api.json")
    entries = _json(folder / "files.json") or []
    readme = folder / "files" / "README.md"
    config = _json(folder / "files" / "config.json")
    card_data = api.get("cardData") or {}
    license_tag = next(
        (t.split(":", 1)[1] for t in api.get("tags", []) if t.startswith("license:")), None
    )
    hf = HfRepo(
        repo_id=repo_id,
        repo_type="dataset" if kind == "datasets" else "model",
        sha=api.get("sha"),
        card_text=readme.read_text(encoding="utf-8") if readme.exists() else "",
        card_data=card_data,
        config=config,
        tags=api.get("tags", []),
        license=license_tag,
        pipeline_tag=api.get("pipeline_tag"),
        library_name=api.get("library_name"),
        downloads=api.get("downloads", 0),
        likes=api.get("likes", 0),
        last_modified=api.get("lastModified"),
        created_at=api.get("createdAt"),
        gated=bool(api.get("gated")),
        files=[
            RepoFile(
                path=e["path"],
                size=e.get("size", 0),
                sha256=e.get("sha256"),
                lfs=bool(e.get("lfs")),
            )
            for e in entries
        ],
    )
    prefix = "datasets/" if kind == "datasets" else ""
    return Snapshot(
        source="huggingface",
        url=f"https://huggingface.co/{prefix}{repo_id}",
        hf=hf,
        parents=_parents(config, card_data) if kind == "models" else [],
    )


def load_github(full_name: str) -> Snapshot:
    folder = UPSTREAM / "github" / full_name
    repo = _json(folder / "repo.json")
    license_info = (_json(folder / "license.json") or {}).get("license") or {}
    readme_path = (_json(folder / "readme.json") or {}).get("path", "README.md")
    readme = folder / "files" / readme_path
    tree = _json(folder / "tree.json") or {}
    reviews = _json(folder / "pull_reviews.json") or {}
    pull_files = _json(folder / "pull_files.json") or {}
    pulls = []
    for pr in _json(folder / "pulls.json") or []:
        number = str(pr["number"])
        pr_reviews = reviews.get(number) or []
        pulls.append(
            GitHubPull(
                number=pr["number"],
                merged=bool(pr.get("merged") or pr.get("merged_at")),
                review_count=len(pr_reviews),
                approved=any(r.get("state") == "APPROVED" for r in pr_reviews),
                additions=pr.get("additions") or 0,
                files=[
                    GitHubPullFile(path=f["filename"], additions=f.get("additions", 0))
                    for f in pull_files.get(number) or []
                ],
            )
        )
    owner, name = full_name.split("/")
    github = GitHubRepo(
        owner=owner,
        name=name,
        default_branch=tree.get("default_branch", "main"),
        head_sha=tree.get("head_sha"),
        description=repo.get("description"),
        license_spdx=license_info.get("spdx_id"),
        license_name=license_info.get("name"),
        stars=repo.get("stargazers_count", 0),
        forks=repo.get("forks_count", 0),
        open_issues=repo.get("open_issues_count", 0),
        archived=bool(repo.get("archived")),
        created_at=repo.get("created_at"),
        pushed_at=repo.get("pushed_at"),
        topics=repo.get("topics") or [],
        readme_text=readme.read_text(encoding="utf-8") if readme.exists() else "",
        languages=_json(folder / "languages.json") or {},
        contributors=[
            GitHubContributor(
                login=c.get("login") or c.get("name") or "anonymous",
                contributions=c.get("contributions", 0),
            )
            for c in _json(folder / "contributors.json") or []
        ],
        files=[
            RepoFile(path=e["path"], size=e.get("size") or 0)
            for e in tree.get("tree", [])
            if e.get("type") == "blob"
        ],
        pulls=pulls,
    )
    return Snapshot(source="github", url=f"https://github.com/{full_name}", github=github)


def load_url(url: str) -> Snapshot | None:
    """A snapshot for a model, dataset or GitHub URL when a record exists, else None."""
    url = url.strip()
    if m := _GITHUB_URL.search(url):
        full = f"{m.group(1)}/{m.group(2)}"
        return load_github(full) if has_github(full) else None
    if m := _HF_DATASET_URL.search(url):
        return load_hf("datasets", m.group(1)) if has_hf("datasets", m.group(1)) else None
    if m := _HF_MODEL_URL.search(url):
        return load_hf("models", m.group(1)) if has_hf("models", m.group(1)) else None
    return None


def model_snapshot(
    repo_id: str,
    code_urls: tuple[str, ...] = (),
    dataset_urls: tuple[str, ...] = (),
    follow_card_links: bool = True,
) -> Snapshot:
    """A model snapshot with its linked code and datasets (explicit ones and those in the card)."""
    snap = load_hf("models", repo_id)
    card = snap.readme
    urls = list(code_urls) + list(dataset_urls)
    if follow_card_links:
        urls += [
            f"https://github.com/{m.group(1)}/{m.group(2)}" for m in _GITHUB_URL.finditer(card)
        ]
        urls += [f"https://huggingface.co/datasets/{m}" for m in _HF_DATASET_URL.findall(card)]
    seen: set[str] = set()
    for url in urls:
        linked = load_url(url)
        if linked is not None and linked.url not in seen:
            seen.add(linked.url)
            snap.linked.append(linked)
        elif linked is None:
            target = snap.linked_code_urls if "github.com" in url else snap.linked_dataset_urls
            if url not in target:
                target.append(url)
    return snap
