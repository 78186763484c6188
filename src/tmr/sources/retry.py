"""Bounded retries with exponential backoff for upstream calls.

Only :class:`UpstreamUnavailable` (connection failures, timeouts, 5xx) is retried, unless it says
``retryable=False`` (an exhausted rate limit): a missing or gated repository will not appear by
asking again. The number of attempts and the total sleep are
small and fixed so that a dead upstream fails a registration in seconds, not minutes.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TypeVar

from tmr.errors import UpstreamUnavailable

T = TypeVar("T")
log = logging.getLogger(__name__)

ATTEMPTS = 3
BASE_DELAY_SECONDS = 0.3
MAX_DELAY_SECONDS = 2.0


def with_retries(call: Callable[[], T], what: str, attempts: int = ATTEMPTS) -> T:
    """Run ``call``; on :class:`UpstreamUnavailable` retry up to ``attempts`` times in all."""
    delay = BASE_DELAY_SECONDS
    for attempt in range(1, attempts + 1):
        try:
            return call()
        except UpstreamUnavailable as exc:
            if attempt == attempts or exc.details.get("retryable") is False:
                raise
            log.warning("%s failed (attempt %d/%d): %s", what, attempt, attempts, exc.message)
            time.sleep(delay)
            delay = min(delay * 2, MAX_DELAY_SECONDS)
    raise AssertionError("unreachable")  # pragma: no cover
