"""Garbage-collector settings for a serving process (issue 10's read profile).

With CPython's defaults (a young collection every 700 allocations, full collections as the heap
grows) a server process of the registry spent about a fifth of its CPU in the collector while
reading records, and each full collection stopped every connection for its duration: over
30 000 reads of a 10 000-artifact registry there were 5 full collections of up to 1.8 s on the
busy development machine, the read benchmark's tail. ``settle_heap`` runs once when the app
is built, before serving: it collects, then *freezes* what exists (imports, the app, the
registry: never garbage, never scanned again), and makes young collections rarer. The same
30 000 reads then ran no full collection at all and 0.6 s of collection in all.

What the process builds *after* start-up and keeps (the search index, built in a background
thread; the read cache's rendered records) is long-lived too, but unfrozen: a full collection
scans all of it, ~0.2 s for a warm 10 000-artifact cache (2026-12-07, measured with a
``gc.callbacks`` probe during the read benchmark: a gen-2 collection in a measured round made
its p99 ~200 ms against ~70 ms in a round without one). ``freeze_settled`` moves what exists at
that moment into the permanent generation too; it is called after the index build and each
time the read cache has grown by ``SETTLE_EVERY`` records. Frozen objects are still freed by
reference counting (cache entries replaced after a write, a rebuilt index); only garbage in
reference cycles that happens to be alive at the moment of a freeze (an in-flight request's
exception and its frames, say) is kept, a bounded amount per freeze, and freezes are bounded by
the cache's growth (at most ``MAX_ENTRIES / SETTLE_EVERY`` per cache generation).
"""

from __future__ import annotations

import gc

YOUNG_THRESHOLD = 10_000  # allocations between young collections (CPython: 700)
OLDER_THRESHOLDS = (20, 100)  # young/middle collections before an older one (CPython: 10, 10)
SETTLE_EVERY = 2_000  # records added to the read cache between two freezes
_serving = False  # settle_heap ran: this is a serving process (never a test process)


def settle_heap() -> None:
    global _serving
    _serving = True
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_THRESHOLD, *OLDER_THRESHOLDS)


def freeze_settled() -> None:
    """Move every object tracked now into the permanent generation (never scanned again), so
    long-lived data built while serving does not lengthen full collections. Only in a process
    that ``settle_heap`` prepared for serving (an app built inside a test run leaves the test
    process's heap alone)."""
    if _serving and gc.isenabled():
        gc.freeze()
