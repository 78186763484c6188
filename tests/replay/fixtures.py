"""pytest fixtures for the upstream replays (registered from tests/conftest.py as a plugin).

``hf_replay`` and ``github_replay`` start one replay server each per test session and yield its
base URL; ``upstream_env`` points a test's environment at both (``HF_ENDPOINT``,
``GITHUB_API_URL``), allows their loopback addresses, gives ``huggingface_hub`` a fresh cache in
the test's tmp folder, and returns the :class:`Settings` read from that environment.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.replay.github_api import GitHubReplay
from tests.replay.hf_hub import HfHubReplay
from tmr.config import Settings, load_settings

UPSTREAM_DATA = Path(__file__).resolve().parent.parent / "data" / "upstream"


@pytest.fixture(scope="session")
def hf_replay_server() -> Iterator[HfHubReplay]:
    """The Hub replay server object (request log, CDN host) for tests that need more than a URL."""
    with HfHubReplay(UPSTREAM_DATA) as server:
        assert isinstance(server, HfHubReplay)
        yield server


@pytest.fixture(scope="session")
def hf_replay(hf_replay_server: HfHubReplay) -> str:
    """Base URL of the Hugging Face Hub replay (use as HF_ENDPOINT)."""
    return hf_replay_server.url


@pytest.fixture(scope="session")
def github_replay_server() -> Iterator[GitHubReplay]:
    with GitHubReplay(UPSTREAM_DATA) as server:
        assert isinstance(server, GitHubReplay)
        yield server


@pytest.fixture(scope="session")
def github_replay(github_replay_server: GitHubReplay) -> str:
    """Base URL of the GitHub REST API replay (use as GITHUB_API_URL)."""
    return github_replay_server.url


@pytest.fixture
def upstream_env(
    hf_replay: str, github_replay: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Settings:
    """Environment pointing at both replays; returns the Settings read from it."""
    monkeypatch.setenv("HF_ENDPOINT", hf_replay)
    monkeypatch.setenv("GITHUB_API_URL", github_replay)
    monkeypatch.setenv("TMR_ALLOW_PRIVATE_UPSTREAM", "1")
    monkeypatch.setenv("HF_HUB_DISABLE_TELEMETRY", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf-home" / "hub"))
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.delenv("GITHUB_TOKEN", raising=False)
    monkeypatch.setenv("TMR_UPSTREAM_TIMEOUT", "10")
    return load_settings()
