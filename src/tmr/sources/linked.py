"""Fetch the datasets and code repositories a model links to: concurrently, and cached a while.

:func:`fetch_linked` tries each kind's links in order and keeps the first ``limit`` that can be
fetched, trying at most twice as many (a card may list many dead links). The candidates are
fetched in waves, all at once: first as many of each kind as are needed, then, only when some
failed, the next ones, so no more links are fetched than one at a time would (bar a repository
that appears twice). A failure is logged and skipped: a linked fetch must never sink the primary.

Many models link the same code repository or dataset, so linked snapshots are kept in a small
in-process cache for :data:`TTL_SECONDS` (bounded to :data:`MAX_ENTRIES`, oldest out first), keyed
by the upstream (endpoint and token) and the canonical repository, revision and folder. A link
that does not exist upstream is remembered for :data:`MISSING_TTL_SECONDS`; other failures are
not remembered. The primary repository of a registration never goes through this cache, so an
update always sees the upstream's current content. Each hit is a deep copy.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from tmr.config import Settings
from tmr.domain.snapshot import Snapshot
from tmr.errors import TmrError, UpstreamNotFound
from tmr.sources.urls import parse_source_url

log = logging.getLogger("tmr.sources")

TTL_SECONDS = 600.0
MISSING_TTL_SECONDS = 60.0
MAX_ENTRIES = 256

Fetch = Callable[[str, Settings], Snapshot]
_Key = tuple[str, ...]

# key -> (expiry on the monotonic clock, the snapshot or the message saying it does not exist)
_cache: OrderedDict[_Key, tuple[float, Snapshot | str]] = OrderedDict()
_lock = threading.Lock()


def fetch_linked(
    owner_url: str, groups: list[tuple[list[str], int]], settings: Settings, fetch: Fetch
) -> list[Snapshot]:
    """For each ``(urls, limit)`` group in turn, the first ``limit`` of ``urls`` that could be
    fetched (trying at most ``2 * limit``), in the order of ``urls``."""
    pending = [list(urls[: 2 * limit]) for urls, limit in groups]
    found: list[dict[int, Snapshot]] = [{} for _ in groups]
    tried = [0 for _ in groups]
    with ThreadPoolExecutor(max_workers=max(1, sum(limit for _, limit in groups))) as pool:
        while True:
            wave: list[tuple[int, int, str]] = []
            for g, (_, limit) in enumerate(groups):
                need = limit - len(found[g])
                while need > 0 and tried[g] < len(pending[g]):
                    wave.append((g, tried[g], pending[g][tried[g]]))
                    tried[g] += 1
                    need -= 1
            if not wave:
                break
            results = pool.map(lambda item: _fetch_one(owner_url, item[2], settings, fetch), wave)
            for (g, index, _), snapshot in zip(wave, results, strict=True):
                if snapshot is not None:
                    found[g][index] = snapshot
    return [found[g][i] for g in range(len(groups)) for i in sorted(found[g])]


def clear_cache() -> None:
    """Forget every cached linked snapshot (tests, and operators who want a fresh view)."""
    with _lock:
        _cache.clear()


def _fetch_one(owner_url: str, link: str, settings: Settings, fetch: Fetch) -> Snapshot | None:
    try:
        return _cached_fetch(link, settings, fetch)
    except TmrError as exc:
        log.warning("linked %s of %s skipped: %s", link, owner_url, exc.message)
    except Exception:  # a linked fetch must never sink the primary one
        log.exception("linked %s of %s failed unexpectedly", link, owner_url)
    return None


def _cached_fetch(link: str, settings: Settings, fetch: Fetch) -> Snapshot:
    key = _key(link, settings)
    now = time.monotonic()
    with _lock:
        entry = _cache.get(key)
        if entry is not None and entry[0] <= now:
            del _cache[key]
            entry = None
    if entry is not None:
        value = entry[1]
        if isinstance(value, str):
            raise UpstreamNotFound(value)
        return value.model_copy(update={"url": link}, deep=True)
    try:
        snapshot = fetch(link, settings)
    except UpstreamNotFound as exc:
        _remember(key, now + MISSING_TTL_SECONDS, exc.message)
        raise
    _remember(key, now + TTL_SECONDS, snapshot.model_copy(deep=True))
    return snapshot


def _remember(key: _Key, expires: float, value: Snapshot | str) -> None:
    with _lock:
        _cache[key] = (expires, value)
        _cache.move_to_end(key)
        while len(_cache) > MAX_ENTRIES:
            _cache.popitem(last=False)


def _key(link: str, settings: Settings) -> _Key:
    """The upstream asked and what it is asked for (case-insensitive, as the Hub and GitHub are)."""
    ref = parse_source_url(link, settings)
    if ref.is_huggingface:
        upstream = (settings.hf_endpoint.rstrip("/"), settings.hf_token or "")
    elif ref.kind == "github":
        upstream = (settings.github_api_url.rstrip("/"), settings.github_token or "")
    else:
        upstream = ("web", "")
    return (
        *upstream,
        ref.kind,
        (ref.repo_id or ref.url).lower(),
        ref.revision or "",
        ref.subdir or "",
    )
