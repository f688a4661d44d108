"""Login throttling per username and per client address.

Every attempt is counted before its password is checked, each count one atomic step in the store, so a
burst of parallel guesses is held to the limit as a sequence is: no guess can pass a check made before
the others were recorded. Counts are kept in fixed windows and a block lifts when its window ends (a few
minutes at most), so an attacker cannot lock anyone out for long. While a key is blocked the password is
not even checked, so a blocked attempt reveals nothing. A successful login clears the username's count.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from parley.config import ThrottleRule
from parley.core.store.base import ThrottleStore
from parley.errors import LoginThrottled


@dataclass(frozen=True)
class Attempt:
    """An attempt the throttle let through to the password check."""

    counted_on: tuple[str, ...]  # the counts a right password clears

    def refusal(self) -> LoginThrottled | None:
        """The error for a wrong password, when it is not the usual 401."""
        return None


class LoginThrottle:
    def __init__(
        self,
        store: ThrottleStore,
        *,
        per_user: ThrottleRule,
        per_address: ThrottleRule,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._per_user = per_user
        self._per_address = per_address
        self._clock = clock

    async def attempt(self, username: str, address: str | None) -> Attempt:
        """Count one login attempt; raise LoginThrottled when its password must not be checked."""
        now = self._clock()
        name = username.casefold()
        user_key = f"user:{name}"
        if not address:
            user_over, user_wait = await self._count(user_key, self._per_user, now)
            if user_over:
                raise LoginThrottled(retry_after=user_wait)
            return Attempt(counted_on=(user_key,))
        # Independent counts, taken at once: on DynamoDB each is a round trip.
        (user_over, user_wait), (address_over, address_wait) = await asyncio.gather(
            self._count(user_key, self._per_user, now), self._count(f"addr:{address}", self._per_address, now)
        )
        if user_over or address_over:
            raise LoginThrottled(retry_after=max(user_wait if user_over else 0, address_wait if address_over else 0))
        return Attempt(counted_on=(user_key,))

    async def succeeded(self, attempt: Attempt) -> None:
        """The password was right: this username starts again (the address's count stands)."""
        for key in attempt.counted_on:
            await self._store.clear(key)

    async def _count(self, key: str, rule: ThrottleRule, now: float) -> tuple[bool, int]:
        """Whether ``key`` is past ``rule`` once this attempt is counted, and the seconds until its window ends."""
        count, window_ends = await self._store.hit(key, now, rule.window_seconds)
        return count > rule.limit, max(1, math.ceil(window_ends - now))
