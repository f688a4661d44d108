"""The API key store's contract, on SQLite and on DynamoDB (moto): the fixtures are the store contract's."""

from __future__ import annotations

import dataclasses

import pytest

from parley.core.store.base import ApiKey
from parley.errors import Conflict
from tests.test_store_contract import user  # noqa: F401 - a fixture (other_stores is in conftest)


def a_key(user_id: str, name: str = "laptop", **fields: object) -> ApiKey:
    number = abs(hash((user_id, name, tuple(fields.items())))) % 10**9
    defaults: dict[str, object] = {
        "id": f"id-{name}-{number}",
        "user_id": user_id,
        "name": name,
        "prefix": "parley_abcd",
        "key_hash": f"{number:064d}",
        "created_at": 1000.0,
    }
    return ApiKey(**{**defaults, **fields})  # type: ignore[arg-type]


async def test_a_key_is_found_by_its_hash_and_listed_by_its_owner(stores, user):  # noqa: F811
    key = a_key(user.id, expires_at=5000.0, save_conversations=True)
    await stores.api_keys.create_key(key)
    assert await stores.api_keys.key_by_hash(key.key_hash) == key
    assert await stores.api_keys.key_by_hash("0" * 64) is None
    assert await stores.api_keys.list_keys(user.id) == [key]
    other = await stores.users.create_user("bob", "h")
    assert await stores.api_keys.list_keys(other.id) == []


async def test_names_are_unique_among_live_keys_and_freed_by_revoking(stores, user):  # noqa: F811
    first = a_key(user.id, "Laptop")
    await stores.api_keys.create_key(first)
    with pytest.raises(Conflict):
        await stores.api_keys.create_key(a_key(user.id, "laptop", key_hash="1" * 64, id="other"))
    bob = await stores.users.create_user("bob", "h")
    await stores.api_keys.create_key(a_key(bob.id, "laptop"))  # another user's names are their own

    revoked = await stores.api_keys.revoke_key(user.id, first.id)
    assert revoked == dataclasses.replace(first, revoked=True)
    assert (await stores.api_keys.key_by_hash(first.key_hash)).revoked
    assert await stores.api_keys.revoke_key(user.id, first.id) is None  # once
    again = a_key(user.id, "laptop", key_hash="2" * 64, id="again", created_at=2000.0)
    await stores.api_keys.create_key(again)
    assert [(k.id, k.revoked) for k in await stores.api_keys.list_keys(user.id)] == [(first.id, True), ("again", False)]


async def test_only_the_owner_revokes(stores, user):  # noqa: F811
    key = a_key(user.id)
    await stores.api_keys.create_key(key)
    bob = await stores.users.create_user("bob", "h")
    assert await stores.api_keys.revoke_key(bob.id, key.id) is None
    assert await stores.api_keys.revoke_key(user.id, "no-such-key") is None
    assert not (await stores.api_keys.key_by_hash(key.key_hash)).revoked


async def test_a_use_is_recorded_at_most_once_an_interval(stores, other_stores, user):  # noqa: F811
    key = a_key(user.id)
    await stores.api_keys.create_key(key)
    await stores.api_keys.touch_key(key, 2000.0, unless_since=1940.0)
    await other_stores.api_keys.touch_key(key, 2010.0, unless_since=1950.0)  # within the minute: not written
    assert (await stores.api_keys.key_by_hash(key.key_hash)).last_used_at == 2000.0
    assert (await stores.api_keys.list_keys(user.id))[0].last_used_at == 2000.0
    await stores.api_keys.touch_key(key, 2061.0, unless_since=2001.0)
    assert (await other_stores.api_keys.key_by_hash(key.key_hash)).last_used_at == 2061.0
    assert (await stores.api_keys.list_keys(user.id))[0].last_used_at == 2061.0


async def test_removing_a_user_removes_their_keys(stores, user):  # noqa: F811
    key = a_key(user.id)
    await stores.api_keys.create_key(key)
    bob = await stores.users.create_user("bob", "h")
    kept = a_key(bob.id, key_hash="9" * 64)
    await stores.api_keys.create_key(kept)
    assert await stores.users.delete_user(user.id)
    assert await stores.api_keys.key_by_hash(key.key_hash) is None
    assert await stores.api_keys.list_keys(user.id) == []
    assert await stores.api_keys.key_by_hash(kept.key_hash) == kept
