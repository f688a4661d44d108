"""A per-user request rate limit: a token bucket per user, refilled continuously.

Bursts up to ``burst`` requests pass; beyond that, requests are refused until the bucket refills, with
the wait to tell the client. The buckets live in the store (``RequestRateStore``), so every process that
shares a store shares one budget: one DynamoDB item for all Lambda containers, this process's memory for
the single-process SQLite server.

A bucket is kept as one number, the time at which it will be full again (the "theoretical arrival time"
of the GCRA algorithm): a request passes while that time is at most ``(burst - 1) * interval`` ahead.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

from parley.core.store.base import RequestRateStore
from parley.errors import RateLimited


class RateLimiter:
    def __init__(
        self,
        store: RequestRateStore,
        per_minute: int,
        burst: int | None = None,
        *,
        clock: Callable[[], float] = time.time,  # wall time: processes on other machines share the buckets
    ) -> None:
        self._store = store
        self._interval = 60.0 / per_minute
        self._burst = burst if burst is not None else max(1, per_minute // 2)
        self._clock = clock

    async def check(self, key: str) -> None:
        """Take one request from ``key``'s bucket; RateLimited when it is empty."""
        wait = await self._store.take(key, self._clock(), self._interval, self._burst)
        if wait > 0:
            raise RateLimited(retry_after=math.ceil(wait))


def take_from_bucket(full_at: float | None, now: float, interval: float, burst: int) -> tuple[float, float]:
    """One request against a bucket that is full again at ``full_at`` (None: full now).

    Returns (the new ``full_at``, 0) when the request is taken, else (``full_at`` unchanged, the wait)."""
    full_at = now if full_at is None else max(full_at, now)
    wait = full_at - now - (burst - 1) * interval
    if wait > 0:
        return full_at, wait
    return full_at + interval, 0.0


class MemoryRequestRateStore:
    """Buckets in this process's memory: right for a store that one process owns (SQLite)."""

    _FORGET_ABOVE = 10_000

    def __init__(self) -> None:
        self._full_at: dict[str, float] = {}

    async def take(self, key: str, now: float, interval: float, burst: int) -> float:
        if key not in self._full_at and len(self._full_at) > self._FORGET_ABOVE:
            # A bucket that has refilled completely holds no information.
            self._full_at = {k: t for k, t in self._full_at.items() if t > now}
        full_at, wait = take_from_bucket(self._full_at.get(key), now, interval, burst)
        self._full_at[key] = full_at
        return wait
