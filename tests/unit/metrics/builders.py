"""Small hand-built snapshots for table-driven metric tests."""

from __future__ import annotations

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
    WebPage,
)
from tmr.metrics.inputs import RatingInput


def model(
    card: str = "",
    card_data: dict[str, Any] | None = None,
    files: dict[str, int] | None = None,
    linked: list[Snapshot] | None = None,
    parents: list[str] | None = None,
    **hf: Any,
) -> Snapshot:
    repo = HfRepo(
        repo_id=hf.pop("repo_id", "acme/tiny-model"),
        card_text=card,
        card_data=card_data or {},
        files=[RepoFile(path=p, size=s) for p, s in (files or {}).items()],
        **hf,
    )
    return Snapshot(
        source="huggingface",
        url=f"https://huggingface.co/{repo.repo_id}",
        hf=repo,
        linked=linked or [],
        parents=[ParentRef(name=p, source="model_card") for p in parents or []],
    )


def dataset(
    card: str = "",
    card_data: dict[str, Any] | None = None,
    downloads: int = 0,
    likes: int = 0,
    repo_id: str = "acme/data",
) -> Snapshot:
    repo = HfRepo(
        repo_id=repo_id,
        repo_type="dataset",
        card_text=card,
        card_data=card_data or {},
        downloads=downloads,
        likes=likes,
    )
    return Snapshot(source="huggingface", url=f"https://huggingface.co/datasets/{repo_id}", hf=repo)


def web_dataset(description: str | None) -> Snapshot:
    page = WebPage(
        url="https://www.kaggle.com/datasets/a/b", host="www.kaggle.com", description=description
    )
    return Snapshot(source="web", url=page.url, page=page)


def code(
    files: dict[str, int] | None = None,
    contributors: list[int] | None = None,
    pulls: list[GitHubPull] | None = None,
    readme: str = "",
    license_spdx: str | None = None,
    name: str = "acme/repo",
    truncated: bool = False,
) -> Snapshot:
    owner, repo_name = name.split("/")
    repo = GitHubRepo(
        owner=owner,
        name=repo_name,
        readme_text=readme,
        license_spdx=license_spdx,
        files=[RepoFile(path=p, size=s) for p, s in (files or {}).items()],
        contributors=[
            GitHubContributor(login=f"u{i}", contributions=c)
            for i, c in enumerate(contributors or [])
        ],
        pulls=pulls or [],
        pulls_truncated=truncated,
    )
    return Snapshot(source="github", url=f"https://github.com/{name}", github=repo)


def pull(number: int, merged: bool, reviews: int, files: dict[str, int]) -> GitHubPull:
    return GitHubPull(
        number=number,
        merged=merged,
        review_count=reviews,
        additions=sum(files.values()),
        files=[GitHubPullFile(path=p, additions=a) for p, a in files.items()],
    )


def rate_input(
    snapshot: Snapshot, parent_scores: list[float] | None = None, name: str = "tiny-model"
) -> RatingInput:
    return RatingInput(snapshot=snapshot, name=name, parent_scores=parent_scores or [])
