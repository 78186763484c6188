"""Garbage-collector settings for a serving process (issue 10's read profile).

With CPython's defaults (a young collection every 700 allocations, full collections as the heap
grows) a server process of the registry spent about a fifth of its CPU in the collector while
reading records, and each full collection stopped every connection for its duration: over
30 000 reads of a 10 000-artifact registry there were 5 full collections of up to 1.8 s on the
busy development machine, the read benchmark's tail. ``settle_heap`` runs once when the app
is built, before serving: it collects, then *freezes* what exists (imports, the app, the
registry: never garbage, never scanned again), and makes young collections rarer. The same
30 000 reads then ran no full collection at all and 0.6 s of collection in all.
"""

from __future__ import annotations

import gc

YOUNG_THRESHOLD = 10_000  # allocations between young collections (CPython: 700)
OLDER_THRESHOLDS = (20, 100)  # young/middle collections before an older one (CPython: 10, 10)


def settle_heap() -> None:
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_THRESHOLD, *OLDER_THRESHOLDS)
