"""The linked-artifact cache at its edges: an entry past its lifetime is fetched again, the
oldest entries go past the bound, and a link whose fetch fails unexpectedly is skipped without
sinking the registration."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from tmr.config import load_settings
from tmr.domain.snapshot import Snapshot, WebPage
from tmr.sources import linked

SETTINGS = load_settings()
OWNER = "https://huggingface.co/acme/model"


@pytest.fixture(autouse=True)
def _fresh_cache() -> Iterator[None]:
    linked.clear_cache()
    yield
    linked.clear_cache()


class Upstream:
    def __init__(self) -> None:
        self.asked: list[str] = []

    def __call__(self, url: str, settings) -> Snapshot:  # type: ignore[no-untyped-def]
        self.asked.append(url)
        if "explode" in url:
            raise KeyError("a bug in a source")
        return Snapshot(source="web", url=url, page=WebPage(url=url, host="www.kaggle.com"))


def kaggle(name: str) -> str:
    return f"https://www.kaggle.com/datasets/acme/{name}"


def test_an_expired_entry_is_fetched_again(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = [1000.0]
    monkeypatch.setattr(time, "monotonic", lambda: clock[0])
    upstream = Upstream()
    for _ in range(2):
        linked.fetch_linked(OWNER, [([kaggle("a")], 1)], SETTINGS, upstream)
    assert upstream.asked == [kaggle("a")]  # the second from the cache
    clock[0] += linked.TTL_SECONDS + 1
    linked.fetch_linked(OWNER, [([kaggle("a")], 1)], SETTINGS, upstream)
    assert upstream.asked == [kaggle("a")] * 2


def test_the_oldest_entries_go_past_the_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(linked, "MAX_ENTRIES", 2)
    upstream = Upstream()
    for name in ("a", "b", "c", "a"):
        linked.fetch_linked(OWNER, [([kaggle(name)], 1)], SETTINGS, upstream)
    assert upstream.asked == [kaggle("a"), kaggle("b"), kaggle("c"), kaggle("a")]  # a was out


def test_an_unexpected_failure_skips_the_link(caplog: pytest.LogCaptureFixture) -> None:
    upstream = Upstream()
    with caplog.at_level("ERROR", logger="tmr.sources"):
        got = linked.fetch_linked(
            OWNER, [([kaggle("explode"), kaggle("b")], 1)], SETTINGS, upstream
        )
    assert [s.url for s in got] == [kaggle("b")]  # the next candidate stood in
    assert f"linked {kaggle('explode')} of {OWNER} failed unexpectedly" in [
        r.getMessage() for r in caplog.records
    ]
