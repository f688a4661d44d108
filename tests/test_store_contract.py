"""One behaviour, two backends: the same store tests run against SQLite and against DynamoDB (moto)."""

from __future__ import annotations

import asyncio
import time

import pytest

from parley.config import Settings
from parley.core.store.base import MessageStatus, Registration, SessionRef
from parley.core.store.registry import open_stores
from parley.errors import Conflict, InvalidInput


@pytest.fixture(params=["sqlite", "dynamodb"])
def store_settings(request, tmp_path):
    if request.param == "sqlite":
        return Settings(data_dir=tmp_path / "data")
    return Settings(
        data_dir=tmp_path / "data",
        store="dynamodb",
        dynamodb_table=request.getfixturevalue("dynamodb_table"),
        aws_endpoint_url=request.getfixturevalue("moto_server"),
    )


@pytest.fixture
async def stores(store_settings):
    async with open_stores(store_settings.store, store_settings) as opened:
        yield opened


@pytest.fixture
async def other_stores(store_settings, stores):
    """The same data opened a second time: another process (a second Lambda container) using the store."""
    async with open_stores(store_settings.store, store_settings) as opened:
        yield opened


@pytest.fixture
async def user(stores):
    return await stores.users.create_user("Alice", "hash-1")


async def test_users(stores, user):
    assert (await stores.users.get_user_by_name("alice")).id == user.id
    assert (await stores.users.get_user(user.id)).username == "Alice"
    with pytest.raises(Conflict):
        await stores.users.create_user("ALICE", "hash-2")
    await stores.users.create_user("bob", "hash-3")
    assert [u.username for u in await stores.users.list_users()] == ["Alice", "bob"]
    assert await stores.users.count_users() == 2
    await stores.users.set_password_hash(user.id, "hash-new", revoke_tokens=True)
    changed = await stores.users.get_user(user.id)
    assert (changed.password_hash, changed.token_version) == ("hash-new", 1)
    await stores.users.set_disabled(user.id, True)
    disabled = await stores.users.get_user(user.id)
    assert disabled.disabled and disabled.token_version == 2


async def test_deleting_a_user_takes_their_data(stores, user):
    conversation = await stores.conversations.create_conversation(user.id, "t", "m")
    await stores.conversations.add_message(
        user.id, conversation.id, role="user", content="x", status=MessageStatus.COMPLETE
    )
    assert await stores.users.delete_user(user.id)
    assert await stores.users.get_user(user.id) is None
    assert await stores.users.get_user_by_name("Alice") is None
    assert await stores.conversations.get_conversation(user.id, conversation.id) is None
    assert await stores.users.delete_user(user.id) is False
    await stores.users.create_user("alice", "again")  # the name is free again


async def test_conversations_are_owner_scoped_and_listed_newest_first(stores, user):
    other = await stores.users.create_user("mallory", "h")
    created = []
    for i in range(7):
        created.append(await stores.conversations.create_conversation(user.id, f"Chat {i}", "m"))
    await stores.conversations.add_message(
        user.id, created[2].id, role="user", content="bump", status=MessageStatus.COMPLETE
    )
    expected = [created[2].id] + [c.id for c in reversed(created) if c.id != created[2].id]
    seen, cursor = [], None
    while True:
        page = await stores.conversations.list_conversations(user.id, 3, cursor)
        seen += [c.id for c in page.items]
        cursor = page.next_cursor
        if cursor is None:
            break
    assert seen == expected
    assert await stores.conversations.get_conversation(other.id, created[0].id) is None
    assert await stores.conversations.rename_conversation(other.id, created[0].id, "mine") is None
    assert await stores.conversations.delete_conversation(other.id, created[0].id) is False
    assert await stores.conversations.list_messages(other.id, created[2].id) is None
    assert (
        await stores.conversations.add_message(
            other.id, created[2].id, role="user", content="x", status=MessageStatus.COMPLETE
        )
        is None
    )
    assert (await stores.conversations.list_conversations(other.id, 10, None)).items == []


async def test_title_search_and_rename(stores, user):
    for title in ("Trip to Lisbon", "Pasta", "lisbon trams", "Taxes"):
        await stores.conversations.create_conversation(user.id, title, "m")
    found = await stores.conversations.list_conversations(user.id, 10, None, title_contains="LISBON")
    assert sorted(c.title for c in found.items) == ["Trip to Lisbon", "lisbon trams"]
    first = found.items[0]
    renamed = await stores.conversations.rename_conversation(user.id, first.id, "Porto")
    assert renamed.title == "Porto"
    assert len((await stores.conversations.list_conversations(user.id, 10, None, title_contains="lisbon")).items) == 1


async def test_a_bad_cursor_is_invalid_input(stores, user):
    with pytest.raises(InvalidInput):
        await stores.conversations.list_conversations(user.id, 10, "not-a-cursor")


async def test_messages_keep_order_and_large_content(stores, user):
    conversation = await stores.conversations.create_conversation(user.id, "t", "m")
    big = "é" * 150_000 + "z" * 130_001  # over 400 KB in UTF-8: split across items on DynamoDB
    await stores.conversations.add_message(
        user.id, conversation.id, role="user", content="q", status=MessageStatus.COMPLETE
    )
    answer = await stores.conversations.add_message(
        user.id, conversation.id, role="assistant", content="", status=MessageStatus.STREAMING, model="m"
    )
    await stores.conversations.update_message(answer.id, content=big[:1000], status=MessageStatus.STREAMING)
    await stores.conversations.update_message(
        answer.id,
        content=big,
        status=MessageStatus.COMPLETE,
        finish_reason="stop",
        prompt_tokens=3,
        completion_tokens=9,
    )
    messages = await stores.conversations.list_messages(user.id, conversation.id)
    assert [m.role for m in messages] == ["user", "assistant"]
    assert messages[1].content == big
    assert (messages[1].status, messages[1].finish_reason, messages[1].completion_tokens) == (
        MessageStatus.COMPLETE,
        "stop",
        9,
    )
    await stores.conversations.update_message(answer.id, content="short now", status=MessageStatus.COMPLETE)
    assert (await stores.conversations.list_messages(user.id, conversation.id))[1].content == "short now"
    recent = await stores.conversations.recent_messages(conversation.id, 1)
    assert [m.content for m in recent] == ["short now"]


async def test_recent_messages_and_truncate(stores, user):
    conversation = await stores.conversations.create_conversation(user.id, "t", "m")
    added = []
    for i in range(6):
        added.append(
            await stores.conversations.add_message(
                user.id,
                conversation.id,
                role="user" if i % 2 == 0 else "assistant",
                content=f"m{i}",
                status=MessageStatus.COMPLETE,
            )
        )
    assert [m.content for m in await stores.conversations.recent_messages(conversation.id, 3)] == ["m3", "m4", "m5"]
    assert await stores.conversations.truncate_from("someone-else", conversation.id, added[2].id) is None
    removed = await stores.conversations.truncate_from(user.id, conversation.id, added[2].id)
    assert removed.content == "m2"
    assert [m.content for m in await stores.conversations.list_messages(user.id, conversation.id)] == ["m0", "m1"]
    again = await stores.conversations.add_message(
        user.id, conversation.id, role="user", content="new", status=MessageStatus.COMPLETE
    )
    assert again.id not in {m.id for m in added[:2]}


async def test_two_tabs_appending_at_once_lose_nothing(stores, user):
    conversation = await stores.conversations.create_conversation(user.id, "t", "m")

    async def tab(name: str) -> None:
        for i in range(10):
            await stores.conversations.add_message(
                user.id, conversation.id, role="user", content=f"{name}{i}", status=MessageStatus.COMPLETE
            )

    await asyncio.gather(tab("a"), tab("b"))
    messages = await stores.conversations.list_messages(user.id, conversation.id)
    assert len(messages) == 20
    assert len({m.seq for m in messages}) == 20
    assert sorted(m.content for m in messages) == sorted([f"a{i}" for i in range(10)] + [f"b{i}" for i in range(10)])


async def test_deleting_a_conversation_removes_its_messages(stores, user):
    conversation = await stores.conversations.create_conversation(user.id, "t", "m")
    await stores.conversations.add_message(
        user.id, conversation.id, role="user", content="x", status=MessageStatus.COMPLETE
    )
    assert await stores.conversations.delete_conversation(user.id, conversation.id)
    assert await stores.conversations.list_messages(user.id, conversation.id) is None
    assert await stores.conversations.recent_messages(conversation.id, 10) == []


async def test_tickets_revocations_and_throttle(stores, user):
    now = time.time()
    session = SessionRef(user.id, "j1", 3)
    await stores.tickets.put_ticket("t1", session, now + 60)
    results = await asyncio.gather(*(stores.tickets.take_ticket("t1", now) for _ in range(5)))
    assert results.count(session) == 1 and results.count(None) == 4
    await stores.tickets.put_ticket("t2", session, now - 1)
    assert await stores.tickets.take_ticket("t2", now) is None

    assert not await stores.revoked_tokens.is_revoked("j1")
    await stores.revoked_tokens.revoke("j1", now + 3600, user_id=user.id)
    assert await stores.revoked_tokens.is_revoked("j1")

    assert (await stores.throttle.hit("k", now, 60))[0] == 1
    count, ends = await stores.throttle.hit("k", now + 1, 60)
    assert count == 2 and ends == pytest.approx(now + 60)
    assert await stores.throttle.hit("k", now + 61, 60) == (1, pytest.approx(now + 121))  # a new window
    await stores.throttle.refund("k", now + 62)
    assert (await stores.throttle.hit("k", now + 63, 60))[0] == 1
    await stores.throttle.refund("k", now + 200)  # that window has ended: nothing to take back
    await stores.throttle.refund("never-counted", now)
    assert (await stores.throttle.hit("k", now + 64, 60))[0] == 2
    await stores.throttle.clear("k")
    assert (await stores.throttle.hit("k", now + 62, 60))[0] == 1


async def test_attempts_counted_at_once_by_two_processes_each_get_their_own_count(stores, other_stores):
    # What login throttling relies on: 150 attempts in flight together, half through another process (a
    # second Lambda container), are numbered 1 to 150, so exactly ``limit`` of them are within any limit.
    now = time.time()
    counts = await asyncio.gather(*((stores, other_stores)[i % 2].throttle.hit("burst", now, 60) for i in range(150)))
    assert sorted(count for count, _ in counts) == list(range(1, 151))
    assert [ends for _, ends in counts] == [pytest.approx(now + 60)] * 150


async def test_preferences(stores, user):
    assert await stores.preferences.get_preferences(user.id) is None
    await stores.preferences.put_preferences(user.id, {"theme": "dark", "temperature": 0.5})
    assert await stores.preferences.get_preferences(user.id) == {"theme": "dark", "temperature": 0.5}


async def test_connections_and_stop_signals(stores, user):
    now = time.time()
    other = await stores.users.create_user("bob", "h")
    await stores.connections.put_connection("c1", SessionRef(user.id, "j1", 0), now + 3600)
    await stores.connections.put_connection("c2", SessionRef(user.id, "j2", 3), now + 3600)
    await stores.connections.put_connection("c3", SessionRef(user.id, "j2", 0), now + 3600)
    await stores.connections.put_connection("c4", SessionRef(other.id, "j9", 0), now + 3600)
    await stores.connections.put_connection("old", SessionRef(user.id, "j2", 0), now - 1)
    # The whole session is kept, so that each message can check it still stands.
    assert await stores.connections.get_connection("c1") == SessionRef(user.id, "j1", 0)
    assert await stores.connections.get_connection("c2") == SessionRef(user.id, "j2", 3)
    assert await stores.connections.get_connection("old") is None
    assert await stores.connections.get_connection("never-opened") is None
    assert sorted(await stores.connections.user_connections(user.id)) == ["c1", "c2", "c3"]
    assert sorted(await stores.connections.user_connections(user.id, jti="j2")) == ["c2", "c3"]
    assert await stores.connections.user_connections(user.id, jti="j9") == []  # another user's session
    await stores.connections.delete_connection("c1")
    assert await stores.connections.get_connection("c1") is None
    assert sorted(await stores.connections.user_connections(user.id)) == ["c2", "c3"]
    assert await stores.connections.user_connections(user.id, jti="j1") == []

    signals = stores.stop_signals
    assert await signals.request_stop(user.id, "m1") is False
    assert await register(stores, user.id, "m1") is Registration.STARTED
    assert await register(stores, user.id, "m1") is Registration.DUPLICATE  # the same msgid again
    assert await register(stores, "someone-else", "m1") is Registration.STARTED
    assert await signals.stop_requested(user.id, "m1") is False
    assert await signals.request_stop(user.id, "m1") is True
    assert await signals.stop_requested(user.id, "m1") is True
    assert await signals.stop_requested("someone-else", "m1") is False
    await signals.finish_generation(user.id, "m1")
    assert await signals.request_stop(user.id, "m1") is False  # finished: nothing to stop
    assert await register(stores, user.id, "m1") is Registration.DUPLICATE  # still taken
    results = await asyncio.gather(*(register(stores, user.id, "race") for _ in range(5)))
    assert results.count(Registration.STARTED) == 1
    assert set(results) == {Registration.STARTED, Registration.DUPLICATE}


async def register(stores, user_id, msgid, *, max_running=4, lease_seconds=900.0):
    now = time.time()
    return await stores.stop_signals.register_generation(
        user_id, msgid, now + 1200, max_running=max_running, lease_until=now + lease_seconds
    )


async def test_answer_slots_cap_a_user_until_an_answer_finishes(stores, user):
    for i in range(4):
        assert await register(stores, user.id, f"a{i}") is Registration.STARTED
    assert await register(stores, user.id, "a4") is Registration.AT_CAPACITY
    assert await register(stores, user.id, "a0") is Registration.DUPLICATE  # a duplicate is told as such
    assert await register(stores, "someone-else", "b0") is Registration.STARTED  # each user has their own
    await stores.stop_signals.finish_generation(user.id, "a2")
    # The refused msgid was not consumed: it starts once a slot is free, and the slot is taken again.
    assert await register(stores, user.id, "a4") is Registration.STARTED
    assert await register(stores, user.id, "a5") is Registration.AT_CAPACITY
    assert await stores.stop_signals.request_stop(user.id, "a4") is True


async def test_a_refused_answer_writes_nothing(stores, user):
    for i in range(2):
        assert await register(stores, user.id, f"r{i}", max_running=2) is Registration.STARTED
    assert await register(stores, user.id, "refused", max_running=2) is Registration.AT_CAPACITY
    assert await stores.stop_signals.request_stop(user.id, "refused") is False  # no record of it
    assert await register(stores, user.id, "refused", max_running=3) is Registration.STARTED


async def test_an_answer_that_never_finishes_frees_its_slot_when_its_lease_ends(stores, user):
    # A process that died mid-answer: its lease has already ended.
    assert await register(stores, user.id, "stuck", max_running=1, lease_seconds=-1) is Registration.STARTED
    assert await register(stores, user.id, "fresh", max_running=1) is Registration.STARTED
    assert await register(stores, user.id, "third", max_running=1) is Registration.AT_CAPACITY
    # The stuck answer reporting its end late must not free the slot that "fresh" now holds.
    await stores.stop_signals.finish_generation(user.id, "stuck")
    assert await register(stores, user.id, "third", max_running=1) is Registration.AT_CAPACITY
    await stores.stop_signals.finish_generation(user.id, "fresh")
    assert await register(stores, user.id, "third", max_running=1) is Registration.STARTED


async def test_two_processes_starting_answers_at_once_never_exceed_the_cap(stores, other_stores, user):
    msgids = [f"c{i}" for i in range(12)]
    results = await asyncio.gather(*(register((stores, other_stores)[i % 2], user.id, m) for i, m in enumerate(msgids)))
    assert results.count(Registration.STARTED) == 4
    assert results.count(Registration.AT_CAPACITY) == 8
    started = [m for m, result in zip(msgids, results, strict=True) if result is Registration.STARTED]
    await other_stores.stop_signals.finish_generation(user.id, started[0])
    assert await register(stores, user.id, "late") is Registration.STARTED  # released by the other process


async def test_request_rate_buckets(stores):
    rate = stores.request_rate
    now = time.time()
    assert [await rate.take("alice", now, 1.0, 3) for _ in range(3)] == [0, 0, 0]
    assert await rate.take("alice", now, 1.0, 3) == pytest.approx(1.0)
    assert await rate.take("bob", now, 1.0, 3) == 0  # each key has its own bucket
    assert await rate.take("alice", now + 1, 1.0, 3) == 0  # refilled by one
    assert await rate.take("alice", now + 1, 1.0, 3) == pytest.approx(1.0)
    assert await rate.take("alice", now + 10, 1.0, 3) == 0  # full again after a pause
    assert [await rate.take("alice", now + 10, 1.0, 3) for _ in range(2)] == [0, 0]
    assert await rate.take("alice", now + 10, 1.0, 3) > 0


async def test_request_rate_under_concurrent_requests(stores):
    now = time.time()
    waits = await asyncio.gather(*(stores.request_rate.take("carol", now, 6.0, 5) for _ in range(12)))
    assert waits.count(0) == 5
    assert all(wait > 0 for wait in waits if wait != 0)
