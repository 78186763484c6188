"""A per-user request rate limit: a token bucket per account, off unless configured (issue 7).

``TMR_USER_RATE_LIMIT`` requests per second per user (0, the default, turns it off: benchmarks
drive thousands of requests a second through one account), with bursts of up to
``TMR_USER_RATE_BURST`` requests (default: one second's worth). An exhausted bucket answers 429
with ``Retry-After``. The buckets live in each process's memory, so with N replicas behind a
balancer a user gets up to N times the rate; the token budget (1000 calls) is the hard cap
shared by all replicas.
"""

from __future__ import annotations

import math
import threading
import time

from tmr.errors import RateLimited


class UserRateLimiter:
    def __init__(self, rate: float, burst: int = 0) -> None:
        self.rate = rate
        self.burst = float(burst or max(1, math.ceil(rate)))
        self._buckets: dict[str, tuple[float, float]] = {}  # user -> (tokens, last refill)
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return self.rate > 0

    def admit(self, user: str) -> None:
        """Take one request from ``user``'s bucket, or raise RateLimited."""
        if not self.enabled:
            return
        now = time.monotonic()
        with self._lock:
            tokens, last = self._buckets.get(user, (self.burst, now))
            tokens = min(self.burst, tokens + (now - last) * self.rate)
            if tokens < 1.0:
                self._buckets[user] = (tokens, now)
                wait = max(1, math.ceil((1.0 - tokens) / self.rate))
                raise RateLimited(
                    f"more than {self.rate:g} requests per second for this user: retry in {wait} s",
                    retry_after=wait,
                )
            self._buckets[user] = (tokens - 1.0, now)
            if len(self._buckets) > 100_000:  # forget idle users rather than grow without bound
                self._buckets = {u: b for u, b in self._buckets.items() if now - b[1] < 60}
