"""Small pieces the API relies on: the per-user rate limit, hub-key candidates for lineage, the
download-link signer (key file, refusals) and the web interface's static files."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tmr import web
from tmr.errors import Forbidden, RateLimited
from tmr.services.keys import key_candidates, parent_key, upload_key
from tmr.services.request_limit import UserRateLimiter
from tmr.services.signing import UrlSigner, load_or_create_key


def test_the_rate_limit_refuses_past_the_burst_and_refills_at_the_rate(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = [100.0]
    monkeypatch.setattr(time, "monotonic", lambda: clock[0])
    limiter = UserRateLimiter(rate=2, burst=3)
    for _ in range(3):
        limiter.admit("alice")
    with pytest.raises(RateLimited) as caught:
        limiter.admit("alice")
    assert caught.value.message == "more than 2 requests per second for this user: retry in 1 s"
    assert caught.value.status_code == 429
    assert caught.value.details == {"retry_after_seconds": 1}
    limiter.admit("bob")  # every user has a bucket of their own
    clock[0] += 0.5  # one token back at 2 per second
    limiter.admit("alice")
    with pytest.raises(RateLimited):
        limiter.admit("alice")


def test_a_slow_rate_says_how_long_to_wait_and_zero_turns_it_off() -> None:
    slow = UserRateLimiter(rate=0.1)
    assert slow.burst == 1.0
    slow.admit("carol")
    with pytest.raises(RateLimited, match="retry in 10 s$"):
        slow.admit("carol")
    off = UserRateLimiter(rate=0)
    assert not off.enabled
    for _ in range(1000):
        off.admit("dave")


def test_key_candidates_add_the_bare_name_for_legacy_hub_ids() -> None:
    assert key_candidates(" Google-BERT/bert-base-uncased ") == [
        "google-bert/bert-base-uncased",
        "bert-base-uncased",
    ]
    assert key_candidates("datasets/Stanford/IMDB") == ["datasets/stanford/imdb", "datasets/imdb"]
    assert key_candidates("gpt2") == ["gpt2"]
    assert parent_key("  ") is None
    assert parent_key("https://huggingface.co/acme/Base") == "acme/base"
    assert parent_key("../checkpoints/base") is None
    assert parent_key("a/b/c") is None
    assert upload_key(" Our-Base ") == "upload/our-base"


def test_the_signing_key_is_created_once_and_must_be_long_enough(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "signing.key"
    first = load_or_create_key(path)
    assert len(first) >= 32 and path.stat().st_mode & 0o777 == 0o600
    assert load_or_create_key(path) == first  # kept across restarts
    assert list(path.parent.iterdir()) == [path]  # no temporary file left
    path.write_bytes(b"short")
    with pytest.raises(ValueError, match="^the signing key file holds fewer than 32 characters$"):
        load_or_create_key(path)


def test_signed_links_are_stable_in_a_window_and_refused_when_altered_or_late() -> None:
    signer = UrlSigner(b"k" * 32, ttl_seconds=60)
    now = 1_000_000.0
    query = signer.query("123", "file:model.bin", "alice", now=now)
    assert query == signer.query("123", "file:model.bin", "alice", now=now + 1)  # memoised
    assert "part=" not in query  # a single file's link names the file in its path
    fields = dict(p.split("=", 1) for p in query.split("&"))
    expires, signature = fields["expires"], fields["signature"]
    with pytest.raises(Forbidden, match="^the signed download link is incomplete"):
        signer.verify("123", "file:model.bin", "alice", None, signature)
    with pytest.raises(Forbidden, match="^the download link's signature does not match"):
        signer.verify("124", "file:model.bin", "alice", expires, signature)
    with pytest.raises(Forbidden, match="^the download link has expired"):
        signer.verify("123", "file:model.bin", "alice", expires, signature)  # 1970 is long gone
    fresh = dict(p.split("=", 1) for p in signer.query("123", "all", "alice").split("&"))
    grant = signer.verify("123", "all", "alice", fresh["expires"], fresh["signature"])
    assert (grant.artifact_id, grant.part, grant.user) == ("123", "all", "alice")


def test_the_web_interface_is_served_with_revalidation() -> None:
    app = FastAPI()
    web.mount(app)
    with TestClient(app) as client:
        page = client.get("/")
        assert page.status_code == 200 and "<html" in page.text.lower()
        assert page.headers["cache-control"] == "no-cache"
        css = client.get("/static/app.css", headers={"Accept-Encoding": "gzip"})
        assert css.status_code == 200
        assert css.headers["cache-control"] == "no-cache"
        assert css.content == (web.STATIC / "app.css").read_bytes()
        if len(css.content) >= 1024:
            assert css.headers["content-encoding"] == "gzip"  # text is compressed


# --- request activity kept in memory (a registry without a shared database) ---------------


def test_activity_in_memory_keeps_a_window_and_drops_what_is_too_old() -> None:
    from tmr.domain.activity import RequestRecord
    from tmr.services.activity import ActivityLog

    log = ActivityLog(None, max_age_seconds=600)
    assert not log.shared
    now = time.time()
    for age, route in ((900, "/ancient"), (300, "/old"), (10, "/new")):
        log.record(RequestRecord(now - age, "GET", route, 200, 1.5, None, "127.0.0.1"))
    log.flush()  # nothing to write: no database
    assert [r.route for r in log.window(1)] == ["/new"]  # minutes
    assert [r.route for r in log.window(10)] == ["/old", "/new"]  # /ancient fell out at once
    assert {r.replica for r in log.window(10)} == {log.replica}
    log.close()


def test_a_failed_activity_write_is_logged_not_raised(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from tmr.domain.activity import RequestRecord
    from tmr.services.activity import ActivityLog
    from tmr.storage.db.engine import Database

    db = Database(f"sqlite:///{tmp_path / 'not-migrated.db'}")  # no activity table
    log = ActivityLog(db, flush_seconds=60)
    log.record(RequestRecord(time.time(), "GET", "/x", 200, 1.0, None, None))
    with caplog.at_level("WARNING", logger="tmr.activity"):
        log.close()  # writes what is pending: the table is missing
    assert "could not write request activity" in [r.getMessage() for r in caplog.records]
    db.dispose()
