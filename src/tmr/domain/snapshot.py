"""The stored, typed record of what an upstream said about an artifact when it was fetched.

A snapshot is fetched once per registration (or update) by a source in ``tmr.sources`` and stored
with the artifact as JSON. Everything downstream (search text, lineage, sizes, every metric) reads
the snapshot and never the network, so ratings are replayable and testable offline.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel, Field

SourceKind = Literal["huggingface", "github", "upload", "web"]

# What a snapshot may keep of a repository's JSON files besides config.json (issue 7): at most
# MAX_EXTRA_JSON_FILES files and MAX_EXTRA_JSON_BYTES of them in all, the files metrics read
# first. Everything else about a repository is already bounded (card ≤ 1 MiB, config ≤ 8 MiB,
# file list ≤ TMR_MAX_ZIP_ENTRIES entries).
MAX_EXTRA_JSON_FILES = 32
MAX_EXTRA_JSON_BYTES = 1 << 20
PREFERRED_EXTRA_JSON = ("adapter_config.json", "generation_config.json", "model_index.json")


def cap_extra_json(extra: dict[str, Any]) -> dict[str, Any]:
    """``extra`` cut down to the snapshot's cap, keeping the files metrics read first."""
    order = sorted(extra, key=lambda p: (p not in PREFERRED_EXTRA_JSON, p.count("/"), p))
    kept: dict[str, Any] = {}
    total = 0
    for path in order:
        size = len(json.dumps(extra[path], default=str))
        if len(kept) >= MAX_EXTRA_JSON_FILES or total + size > MAX_EXTRA_JSON_BYTES:
            continue
        kept[path] = extra[path]
        total += size
    return kept


class RepoFile(BaseModel):
    """One file of an upstream repository (or of an uploaded bundle)."""

    path: str
    size: int = 0
    sha256: str | None = None
    lfs: bool = False


class HfRepo(BaseModel):
    """A Hugging Face model or dataset repository, or an uploaded zip laid out like one."""

    repo_id: str
    repo_type: Literal["model", "dataset"] = "model"
    sha: str | None = None
    revision: str = "main"
    card_text: str = ""
    card_data: dict[str, Any] = Field(default_factory=dict)
    config: dict[str, Any] | None = None
    extra_json: dict[str, Any] = Field(default_factory=dict)
    tags: list[str] = Field(default_factory=list)
    license: str | None = None
    pipeline_tag: str | None = None
    library_name: str | None = None
    downloads: int = 0
    likes: int = 0
    last_modified: str | None = None
    created_at: str | None = None
    gated: bool = False
    git_tags: list[str] = Field(default_factory=list)
    files: list[RepoFile] = Field(default_factory=list)
    # The bytes the fetch already read (card, config, small JSON), by path: staged and stored at
    # registration instead of being downloaded a second time. Never serialised.
    staged: dict[str, bytes] = Field(default_factory=dict, exclude=True, repr=False)


class GitHubContributor(BaseModel):
    login: str
    contributions: int = 0


class GitHubPullFile(BaseModel):
    path: str
    additions: int = 0


class GitHubPull(BaseModel):
    """A pull request with what reviewedness needs: merged or not, reviews, lines added."""

    number: int
    merged: bool = False
    review_count: int = 0
    approved: bool = False
    additions: int = 0
    files: list[GitHubPullFile] = Field(default_factory=list)


class GitHubRepo(BaseModel):
    owner: str
    name: str
    default_branch: str = "main"
    head_sha: str | None = None
    subdir: str | None = None
    description: str | None = None
    license_spdx: str | None = None
    license_name: str | None = None
    license_text: str | None = None
    stars: int = 0
    forks: int = 0
    open_issues: int = 0
    archived: bool = False
    created_at: str | None = None
    pushed_at: str | None = None
    topics: list[str] = Field(default_factory=list)
    readme_text: str = ""
    languages: dict[str, int] = Field(default_factory=dict)
    contributors: list[GitHubContributor] = Field(default_factory=list)
    files: list[RepoFile] = Field(default_factory=list)
    pulls: list[GitHubPull] = Field(default_factory=list)
    pulls_truncated: bool = False
    staged: dict[str, bytes] = Field(default_factory=dict, exclude=True, repr=False)  # as HfRepo

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.name}"


class WebPage(BaseModel):
    """A dataset page on a host we cannot read structurally (Kaggle and the like)."""

    url: str
    host: str
    title: str | None = None
    description: str | None = None


class ParentRef(BaseModel):
    """A declared parent model: the hub id or path as written and where it was found."""

    name: str
    source: Literal["config_json", "model_card", "adapter_config"]


class Snapshot(BaseModel):
    """Everything fetched for one artifact, plus linked datasets and code fetched alongside it."""

    source: SourceKind
    url: str
    fetched_at: str | None = None
    hf: HfRepo | None = None
    github: GitHubRepo | None = None
    page: WebPage | None = None
    parents: list[ParentRef] = Field(default_factory=list)
    linked_dataset_urls: list[str] = Field(default_factory=list)
    linked_code_urls: list[str] = Field(default_factory=list)
    linked: list[Snapshot] = Field(default_factory=list)

    @property
    def readme(self) -> str:
        if self.hf is not None:
            return self.hf.card_text
        if self.github is not None:
            return self.github.readme_text
        if self.page is not None:
            return " ".join(filter(None, [self.page.title, self.page.description]))
        return ""

    @property
    def files(self) -> list[RepoFile]:
        if self.hf is not None:
            return self.hf.files
        if self.github is not None:
            return self.github.files
        return []

    @property
    def total_bytes(self) -> int:
        return sum(f.size for f in self.files)

    @property
    def staged(self) -> dict[str, bytes]:
        """Bytes of files the fetch already read, by path (empty for a stored snapshot)."""
        if self.hf is not None:
            return self.hf.staged
        if self.github is not None:
            return self.github.staged
        return {}

    def linked_of(self, kind: Literal["dataset", "code"]) -> list[Snapshot]:
        """Linked snapshots of one kind: HF datasets and web pages are datasets, GitHub is code."""
        if kind == "code":
            return [s for s in self.linked if s.github is not None]
        return [
            s
            for s in self.linked
            if (s.hf is not None and s.hf.repo_type == "dataset") or s.page is not None
        ]
