"""Login throttling per username and per client address.

Failures are counted in fixed windows; once a key reaches its limit, attempts are refused until
the window ends (a few minutes at most), so an attacker cannot lock a user out for long. While a
key is blocked the password is not even checked, so a blocked attempt reveals nothing.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

from parley.config import ThrottleRule
from parley.core.store.base import ThrottleStore
from parley.errors import LoginThrottled


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
        self._rules = {"user": per_user, "addr": per_address}
        self._clock = clock

    def _keys(self, username: str, address: str | None) -> list[tuple[str, ThrottleRule]]:
        keys = [(f"user:{username.casefold()}", self._rules["user"])]
        if address:
            keys.append((f"addr:{address}", self._rules["addr"]))
        return keys

    async def check(self, username: str, address: str | None) -> None:
        """Raise LoginThrottled when either the username or the address is over its limit."""
        now = self._clock()
        wait = 0.0
        for key, rule in self._keys(username, address):
            failures, window_ends = await self._store.peek(key, now)
            if failures >= rule.limit:
                wait = max(wait, window_ends - now)
        if wait > 0:
            raise LoginThrottled(retry_after=math.ceil(wait))

    async def record_failure(self, username: str, address: str | None) -> None:
        now = self._clock()
        for key, rule in self._keys(username, address):
            await self._store.hit(key, now, rule.window_seconds)

    async def record_success(self, username: str) -> None:
        await self._store.clear(f"user:{username.casefold()}")
