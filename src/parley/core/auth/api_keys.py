"""API keys: made, listed and revoked by their owner, and checked on every request that presents one.

A key is ``parley_`` + 43 base62 characters of randomness (256 bits) + a 6-character base62 CRC32 of them, like
GitHub's ``ghp_`` tokens: secret scanners can match the prefix, and a mistyped key is refused before any lookup.
Only its SHA-256 is stored. A password needs a slow hash because people choose guessable ones; a 256-bit random key
cannot be guessed, so a fast hash protects it as well and costs nothing per request.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import re
import secrets
import time
import uuid
import zlib
from collections.abc import Callable
from dataclasses import dataclass

from parley.core.store.base import ApiKey, ApiKeyStore, User, UserStore
from parley.errors import InvalidApiKey, InvalidInput, NotFound

log = logging.getLogger(__name__)

KEY_PREFIX = "parley_"
_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_SECRET_BYTES = 32
_BODY_CHARS = 43  # 62**43 > 2**256
_CHECKSUM_CHARS = 6  # 62**6 > 2**32
KEY_PATTERN = re.compile(rf"^{KEY_PREFIX}[0-9A-Za-z]{{{_BODY_CHARS + _CHECKSUM_CHARS}}}$")
# What a list shows of a key: enough to tell keys apart, far too little to guess the rest.
_SHOWN_CHARS = len(KEY_PREFIX) + 4
MAX_NAME_CHARS = 64
MAX_EXPIRY_DAYS = 3650
# A busy key records its last use at most this often, so that it does not write on every request.
TOUCH_INTERVAL_SECONDS = 60.0


def _base62(number: int, width: int) -> str:
    digits = []
    for _ in range(width):
        number, digit = divmod(number, 62)
        digits.append(_ALPHABET[digit])
    return "".join(reversed(digits))


def _checksum(body: str) -> str:
    return _base62(zlib.crc32(body.encode()), _CHECKSUM_CHARS)


def new_key_text() -> str:
    body = _base62(int.from_bytes(secrets.token_bytes(_SECRET_BYTES)), _BODY_CHARS)
    return f"{KEY_PREFIX}{body}{_checksum(body)}"


def well_formed(text: str) -> bool:
    """Whether ``text`` has a key's shape and its checksum matches (a typo or a forgery fails here)."""
    if not KEY_PATTERN.fullmatch(text):
        return False
    body = text[len(KEY_PREFIX) : len(KEY_PREFIX) + _BODY_CHARS]
    return hmac.compare_digest(_checksum(body), text[-_CHECKSUM_CHARS:])


def key_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def validate_key_name(name: str) -> str:
    name = name.strip()
    if not 0 < len(name) <= MAX_NAME_CHARS or not name.isprintable():
        raise InvalidInput(f"A key's name is 1 to {MAX_NAME_CHARS} printable characters.")
    return name


@dataclass(frozen=True)
class NewApiKey:
    """A key just made: ``text`` is shown once, and never stored."""

    text: str
    key: ApiKey


@dataclass(frozen=True)
class KeyHolder:
    """Who a request with a key is from: the user, and the key that proved it."""

    user: User
    key: ApiKey


class ApiKeys:
    def __init__(
        self,
        keys: ApiKeyStore,
        users: UserStore,
        *,
        clock: Callable[[], float] = time.time,
        touch_interval: float = TOUCH_INTERVAL_SECONDS,
    ) -> None:
        self._keys = keys
        self._users = users
        self._clock = clock
        self._touch_interval = touch_interval
        self._touches: set[asyncio.Task[None]] = set()

    async def create(
        self, user: User, name: str, *, expires_in_days: int | None = None, save_conversations: bool = False
    ) -> NewApiKey:
        name = validate_key_name(name)
        if expires_in_days is not None and not 1 <= expires_in_days <= MAX_EXPIRY_DAYS:
            raise InvalidInput(f"A key expires in 1 to {MAX_EXPIRY_DAYS} days, or never.")
        now = self._clock()
        text = new_key_text()
        key = ApiKey(
            id=uuid.uuid4().hex,
            user_id=user.id,
            name=name,
            prefix=text[:_SHOWN_CHARS],
            key_hash=key_hash(text),
            created_at=now,
            expires_at=now + expires_in_days * 86400 if expires_in_days is not None else None,
            save_conversations=save_conversations,
        )
        await self._keys.create_key(key)
        log.info("api key %s created for user %s", key.id, user.username)
        return NewApiKey(text=text, key=key)

    async def list_keys(self, user_id: str) -> list[ApiKey]:
        return await self._keys.list_keys(user_id)

    async def revoke(self, user_id: str, key_id: str) -> ApiKey:
        """NotFound for a key that is not the user's (or is revoked already), as for a missing one."""
        revoked = await self._keys.revoke_key(user_id, key_id)
        if revoked is None:
            raise NotFound("No such API key.")
        log.info("api key %s revoked", key_id)
        return revoked

    async def revoke_by_name(self, user_id: str, name: str) -> ApiKey:
        wanted = name.strip().casefold()
        for key in await self._keys.list_keys(user_id):
            if not key.revoked and key.name.casefold() == wanted:
                return await self.revoke(user_id, key.id)
        raise NotFound(f"No key named {name!r}.")

    async def authenticate(self, presented: str | None) -> KeyHolder:
        """The holder of a key; InvalidApiKey when it is missing, garbled, unknown, revoked or expired, or its user
        is disabled or removed. Two reads (the key, its user), no cache: a revoked key is refused at once."""
        if not presented or not well_formed(presented):
            raise InvalidApiKey()
        digest = key_hash(presented)
        key = await self._keys.key_by_hash(digest)
        # The lookup is by hash, so a timing difference could only tell about hashes, not keys; compared again in
        # constant time all the same, in case a store ever matches loosely.
        if key is None or not hmac.compare_digest(key.key_hash, digest):
            raise InvalidApiKey()
        now = self._clock()
        if key.revoked:
            raise InvalidApiKey("This API key has been revoked.")
        if key.expires_at is not None and key.expires_at <= now:
            raise InvalidApiKey("This API key has expired.")
        user = await self._users.get_user(key.user_id)
        if user is None or user.disabled:
            raise InvalidApiKey("This API key's account is disabled.")
        if key.last_used_at is None or key.last_used_at <= now - self._touch_interval:
            self._touch_later(key, now)
        return KeyHolder(user=user, key=key)

    def _touch_later(self, key: ApiKey, now: float) -> None:
        """Record the use off the request's path: the answer does not wait for the write."""
        task = asyncio.create_task(self._touch(key, now), name=f"api-key-touch-{key.id}")
        self._touches.add(task)
        task.add_done_callback(self._touches.discard)

    async def _touch(self, key: ApiKey, now: float) -> None:
        try:
            await self._keys.touch_key(key, now, unless_since=now - self._touch_interval)
        except Exception as exc:  # a lost "last used" is not worth failing anything for
            log.warning("could not record the use of api key %s: %s", key.id, exc)

    async def aclose(self) -> None:
        """Wait for the uses still being recorded."""
        if self._touches:
            await asyncio.gather(*self._touches, return_exceptions=True)
