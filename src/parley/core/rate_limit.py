"""A per-user request rate limit: a token bucket per user, refilled continuously.

It lives in the memory of one process (the local server). Bursts up to ``burst`` requests pass; beyond
that, requests are refused until the bucket refills, with the wait to tell the client.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from parley.errors import RateLimited


@dataclass
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    def __init__(
        self, per_minute: int, burst: int | None = None, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._rate = per_minute / 60.0
        self._burst = float(burst if burst is not None else max(1, per_minute // 2))
        self._clock = clock
        self._buckets: dict[str, _Bucket] = {}

    def check(self, key: str) -> None:
        """Take one request from ``key``'s bucket; RateLimited when it is empty."""
        now = self._clock()
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) > 10_000:
                self._forget_idle(now)
            bucket = self._buckets[key] = _Bucket(self._burst, now)
        bucket.tokens = min(self._burst, bucket.tokens + (now - bucket.updated) * self._rate)
        bucket.updated = now
        if bucket.tokens < 1:
            raise RateLimited(retry_after=math.ceil((1 - bucket.tokens) / self._rate))
        bucket.tokens -= 1

    def _forget_idle(self, now: float) -> None:
        # A bucket that has refilled completely holds no information.
        full_after = self._burst / self._rate
        self._buckets = {k: b for k, b in self._buckets.items() if now - b.updated < full_after}
