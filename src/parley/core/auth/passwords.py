"""argon2id hashing, always off the event loop and with bounded concurrency.

Each hash costs ~19 MiB and tens of milliseconds of CPU; a semaphore keeps a burst of logins
from starving everything else, and unknown users pay a dummy verify so timing does not tell.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from functools import cached_property

from argon2 import PasswordHasher as Argon2Hasher
from argon2 import Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from parley.config import Argon2Params


class PasswordHasher:
    def __init__(self, params: Argon2Params, concurrency: int) -> None:
        self._hasher = Argon2Hasher(
            time_cost=params.time_cost,
            memory_cost=params.memory_kib,
            parallelism=params.parallelism,
            type=Type.ID,
        )
        self._slots = asyncio.Semaphore(concurrency)

    async def hash(self, password: str) -> str:
        async with self._slots:
            return await asyncio.to_thread(self._hasher.hash, password)

    async def verify(self, password_hash: str | None, password: str) -> bool:
        """True when ``password`` matches; with no hash (unknown user) it still spends the same work."""
        async with self._slots:
            return await asyncio.to_thread(self._verify_sync, password_hash, password)

    def needs_rehash(self, password_hash: str) -> bool:
        return self._hasher.check_needs_rehash(password_hash)

    @cached_property
    def _dummy_hash(self) -> str:
        return self._hasher.hash(secrets.token_urlsafe(16))

    def _verify_sync(self, password_hash: str | None, password: str) -> bool:
        if password_hash is None:
            with contextlib.suppress(VerificationError):
                self._hasher.verify(self._dummy_hash, password)
            return False
        try:
            return self._hasher.verify(password_hash, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False
