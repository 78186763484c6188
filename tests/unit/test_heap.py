"""A serving process freezes what exists once the app is built and collects less often."""

from __future__ import annotations

import gc

from tmr.api.heap import OLDER_THRESHOLDS, YOUNG_THRESHOLD, settle_heap


def test_settle_heap_freezes_the_built_app_and_raises_the_thresholds() -> None:
    before = gc.get_threshold()
    try:
        settle_heap()
        assert gc.get_freeze_count() > 0
        assert gc.get_threshold() == (YOUNG_THRESHOLD, *OLDER_THRESHOLDS)
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)
