"""Login throttling per username and per client address.

Every attempt is counted before its password is checked, each count one atomic step in the store, so a
burst of parallel guesses is held to the limit as a sequence is: no guess can pass a check made before
the others were recorded. Counts are kept in fixed windows and a block lifts when its window ends (a few
minutes at most), so nobody can lock anyone out for long.

- A username past its limit is refused (429) without checking the password, right or wrong: that is what
  stops guessing one account. A successful login clears its count.
- An address past its limit (an IPv6 client by its /64, which one host or one site holds whole) is not a
  wall: a user behind it (a NAT, a proxy) who shares it with a guesser still logs in with the right
  password, and a wrong one is refused (429). So that a blocked address cannot go on spraying guesses over
  many accounts, it gets only ``BLOCKED_ADDRESS_CHECKS`` checks per username a window. A successful login
  takes its attempt back, so however often the people behind one address log in, only failures fill it.
"""

from __future__ import annotations

import asyncio
import ipaddress
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from parley.config import ThrottleRule
from parley.core.store.base import ThrottleStore
from parley.errors import LoginThrottled

# Checks a blocked address gets per username and window: enough to type one's password, too few to guess it.
BLOCKED_ADDRESS_CHECKS = 3
IPV6_PREFIX = 64


def address_key(address: str) -> str:
    """What an address is counted as: an IPv4 address itself, an IPv6 address its /64 (a host is routinely
    handed a whole /64, so counting /128s would give it 2**64 buckets). Anything else (a test client's
    name) is counted as it is."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, IPV6_PREFIX), strict=False))
    return str(ip)


@dataclass(frozen=True)
class Attempt:
    """An attempt the throttle let through to the password check."""

    cleared_by_success: tuple[str, ...]  # the username's counts: a right password starts them again
    refunded_by_success: tuple[str, ...] = ()  # the address's: a right password is not held against it
    address_blocked_for: int | None = None  # seconds left of the address's block, when it is past its limit

    def refusal(self) -> LoginThrottled | None:
        """The error for a wrong password: 429 from a blocked address, None for the usual 401."""
        if self.address_blocked_for is None:
            return None
        return LoginThrottled(retry_after=self.address_blocked_for)


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
        self._blocked_address_checks = ThrottleRule(BLOCKED_ADDRESS_CHECKS, per_address.window_seconds)
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
            return Attempt(cleared_by_success=(user_key,))
        addr = address_key(address)
        address_counts = f"addr:{addr}"
        # Independent counts, taken at once: on DynamoDB each is a round trip.
        (user_over, user_wait), (address_over, address_wait) = await asyncio.gather(
            self._count(user_key, self._per_user, now), self._count(address_counts, self._per_address, now)
        )
        if user_over:
            raise LoginThrottled(retry_after=user_wait)
        if not address_over:
            return Attempt(cleared_by_success=(user_key,), refunded_by_success=(address_counts,))
        # Only a name tried from a blocked address is counted here, so most logins write two keys, not three.
        pair_key = f"addr-user:{addr}:{name}"
        pair_over, pair_wait = await self._count(pair_key, self._blocked_address_checks, now)
        if pair_over:
            # Once the address's window ends, the name is checked as usual again.
            raise LoginThrottled(retry_after=min(pair_wait, address_wait))
        return Attempt(
            cleared_by_success=(user_key, pair_key),
            refunded_by_success=(address_counts,),
            address_blocked_for=address_wait,
        )

    async def succeeded(self, attempt: Attempt) -> None:
        """The password was right: the username starts again, and the address gets this attempt back (not
        all of them: logging in to one's own account must not wipe out one's guesses at others)."""
        now = self._clock()
        for key in attempt.cleared_by_success:
            await self._store.clear(key)
        for key in attempt.refunded_by_success:
            await self._store.refund(key, now)

    async def _count(self, key: str, rule: ThrottleRule, now: float) -> tuple[bool, int]:
        """Whether ``key`` is past ``rule`` once this attempt is counted, and the seconds until its window ends."""
        count, window_ends = await self._store.hit(key, now, rule.window_seconds)
        return count > rule.limit, max(1, math.ceil(window_ends - now))
