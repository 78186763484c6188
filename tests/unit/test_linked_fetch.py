"""Linked datasets and code: order, limits, fallbacks, and the short-lived cache."""

from __future__ import annotations

import pytest

from tmr.config import load_settings
from tmr.domain.snapshot import Snapshot, WebPage
from tmr.errors import UpstreamNotFound, UpstreamUnavailable
from tmr.sources import linked

OWNER = "https://huggingface.co/acme/model"


@pytest.fixture(autouse=True)
def _fresh_cache():  # type: ignore[no-untyped-def]
    linked.clear_cache()
    yield
    linked.clear_cache()


class FakeUpstream:
    def __init__(self, missing=(), broken=()):  # type: ignore[no-untyped-def]
        self.calls: list[str] = []
        self.missing, self.broken = set(missing), set(broken)

    def __call__(self, url: str, settings) -> Snapshot:  # type: ignore[no-untyped-def]
        self.calls.append(url)
        if url in self.missing:
            raise UpstreamNotFound(f"{url} does not exist")
        if url in self.broken:
            raise UpstreamUnavailable(f"{url} timed out")
        return Snapshot(source="web", url=url, page=WebPage(url=url, host="example"))


def ds(name: str) -> str:
    return f"https://huggingface.co/datasets/acme/{name}"


def gh(name: str) -> str:
    return f"https://github.com/acme/{name}"


def test_keeps_order_and_limits_and_falls_back_past_dead_links():
    upstream = FakeUpstream(missing={ds("a")}, broken={gh("x")})
    settings = load_settings()
    got = linked.fetch_linked(OWNER, [([ds("a"), ds("b"), ds("c"), ds("d")], 2),
                                      ([gh("x"), gh("y"), gh("z")], 1)], settings, upstream)
    assert [s.url for s in got] == [ds("b"), ds("c"), gh("y")]
    assert ds("d") not in upstream.calls and gh("z") not in upstream.calls


def test_tries_at_most_twice_the_limit():
    dead = [ds(f"d{i}") for i in range(10)]
    upstream = FakeUpstream(missing=set(dead))
    assert linked.fetch_linked(OWNER, [(dead, 2)], load_settings(), upstream) == []
    assert len(upstream.calls) == 4


def test_a_cached_snapshot_is_not_fetched_again_and_is_a_copy():
    upstream = FakeUpstream()
    settings = load_settings()
    first = linked.fetch_linked(OWNER, [([gh("y")], 1)], settings, upstream)[0]
    first.linked_code_urls.append("mutated")
    second = linked.fetch_linked(OWNER, [([gh("Y")], 1)], settings, upstream)[0]
    assert upstream.calls == [gh("y")]
    assert second.linked_code_urls == []
    assert second.url == gh("Y")  # the link as this card spelled it


def test_missing_links_are_remembered_briefly_other_failures_not_at_all(monkeypatch):
    clock = [1000.0]
    monkeypatch.setattr(linked.time, "monotonic", lambda: clock[0])
    upstream = FakeUpstream(missing={gh("gone")}, broken={gh("flaky")})
    settings = load_settings()
    for _ in range(2):
        linked.fetch_linked(OWNER, [([gh("gone"), gh("flaky")], 2)], settings, upstream)
    assert upstream.calls.count(gh("gone")) == 1
    assert upstream.calls.count(gh("flaky")) == 2
    clock[0] += linked.MISSING_TTL_SECONDS + 1
    linked.fetch_linked(OWNER, [([gh("gone")], 1)], settings, upstream)
    assert upstream.calls.count(gh("gone")) == 2


def test_entries_expire_and_the_cache_is_per_upstream(monkeypatch):
    clock = [0.0]
    monkeypatch.setattr(linked.time, "monotonic", lambda: clock[0])
    upstream = FakeUpstream()
    linked.fetch_linked(OWNER, [([gh("y")], 1)], load_settings(), upstream)
    other = load_settings(github_api_url="https://github.example.com/api/v3")
    linked.fetch_linked(OWNER, [([gh("y")], 1)], other, upstream)
    assert len(upstream.calls) == 2
    clock[0] += linked.TTL_SECONDS + 1
    linked.fetch_linked(OWNER, [([gh("y")], 1)], load_settings(), upstream)
    assert len(upstream.calls) == 3
