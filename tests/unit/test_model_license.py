"""The license a model declares, as the license check reads it from a stored snapshot."""

from __future__ import annotations

from tmr.domain.snapshot import GitHubRepo, HfRepo, Snapshot
from tmr.services.license_check import model_license


def _hf(license_id: str | None = None, card_data: dict[str, object] | None = None) -> Snapshot:
    repo = HfRepo(repo_id="acme/m", license=license_id, card_data=card_data or {})
    return Snapshot(source="huggingface", url="https://huggingface.co/acme/m", hf=repo)


def test_the_hub_s_license_field_wins_over_the_card() -> None:
    assert model_license(_hf("apache-2.0", {"license": "mit"})) == "apache-2.0"
    assert model_license(_hf(None, {"license": "mit"})) == "mit"


def test_a_card_listing_licenses_names_its_first_and_an_empty_one_none() -> None:
    assert model_license(_hf(None, {"license": ["cc-by-nc-4.0", "mit"]})) == "cc-by-nc-4.0"
    assert model_license(_hf(None, {"license": []})) is None
    assert model_license(_hf()) is None


def test_a_github_model_declares_its_repository_s_license_and_others_none() -> None:
    github = GitHubRepo(owner="acme", name="m", license_spdx="BSD-3-Clause")
    assert model_license(Snapshot(source="github", url="https://github.com/acme/m",
                                  github=github)) == "BSD-3-Clause"  # fmt: skip
    assert model_license(Snapshot(source="github", url="https://github.com/acme/m",
                                  github=GitHubRepo(owner="acme", name="m"))) is None  # fmt: skip
    assert model_license(Snapshot(source="web", url="https://example.com/m")) is None
