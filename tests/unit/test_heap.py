"""A serving process freezes what exists once the app is built and collects less often; what
it builds while serving and keeps is frozen as it settles; a test process is left alone."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from tmr.api import heap
from tmr.api.heap import OLDER_THRESHOLDS, YOUNG_THRESHOLD, freeze_settled, settle_heap


@pytest.fixture
def restored() -> Iterator[None]:
    before = gc.get_threshold()
    try:
        yield
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)
        heap._serving = False


def test_settle_heap_freezes_the_built_app_and_raises_the_thresholds(restored: None) -> None:
    settle_heap()
    assert gc.get_freeze_count() > 0
    assert gc.get_threshold() == (YOUNG_THRESHOLD, *OLDER_THRESHOLDS)


def test_what_a_serving_process_keeps_is_frozen_as_it_settles(restored: None) -> None:
    settle_heap()
    frozen = gc.get_freeze_count()
    kept = [[i] for i in range(5_000)]  # built while serving, and kept (lists are tracked)
    freeze_settled()
    assert gc.get_freeze_count() >= frozen + len(kept)


def test_a_process_that_is_not_serving_is_never_frozen(restored: None) -> None:
    assert gc.get_freeze_count() == 0
    kept = [[i] for i in range(100)]
    freeze_settled()
    assert gc.get_freeze_count() == 0 and kept
