"""The SQLite store: migrations with a backup, owner scoping, pagination at scale, no lost writes."""

from __future__ import annotations

import asyncio
import sqlite3

import pytest

from parley.core.store.base import MessageStatus, SessionRef
from parley.core.store.parts import text_parts
from parley.core.store.registry import open_stores
from parley.core.store.sqlite import migrations
from parley.errors import Conflict, InvalidInput


async def test_new_database_is_migrated_in_wal_mode(settings):
    async with open_stores("sqlite", settings):
        pass
    conn = sqlite3.connect(settings.database_path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    applied = [row[0] for row in conn.execute("SELECT name FROM schema_migrations ORDER BY name")]
    assert applied == [name for name, _ in migrations.MIGRATIONS]
    conn.close()
    assert list(settings.data_dir.glob("*.bak")) == []  # nothing to back up on a new file


async def test_a_pending_migration_backs_up_the_file_first(settings, monkeypatch):
    async with open_stores("sqlite", settings) as stores:
        await stores.users.create_user("alice", "hash")
    extra = ("0999_test_extra", "CREATE TABLE extra_for_test (id INTEGER PRIMARY KEY);")
    monkeypatch.setattr(migrations, "MIGRATIONS", [*migrations.MIGRATIONS, extra])
    async with open_stores("sqlite", settings) as stores:
        assert (await stores.users.get_user_by_name("alice")) is not None
    backups = list(settings.data_dir.glob("parley.db.*.before-0999_test_extra.bak"))
    assert len(backups) == 1
    copy = sqlite3.connect(backups[0])
    assert copy.execute("SELECT username FROM users").fetchall() == [("alice",)]
    assert copy.execute("SELECT name FROM sqlite_master WHERE name = 'extra_for_test'").fetchone() is None
    copy.close()


async def test_a_failing_migration_changes_nothing(settings, monkeypatch):
    async with open_stores("sqlite", settings):
        pass
    broken = ("0998_broken", "CREATE TABLE half_done (id INTEGER); THIS IS NOT SQL;")
    monkeypatch.setattr(migrations, "MIGRATIONS", [*migrations.MIGRATIONS, broken])
    with pytest.raises(sqlite3.OperationalError):
        async with open_stores("sqlite", settings):
            pass
    conn = sqlite3.connect(settings.database_path)
    assert conn.execute("SELECT name FROM sqlite_master WHERE name = 'half_done'").fetchone() is None
    assert conn.execute("SELECT 1 FROM schema_migrations WHERE name = '0998_broken'").fetchone() is None
    conn.close()


async def test_usernames_are_unique_ignoring_case(runtime):
    await runtime.stores.users.create_user("Alice", "hash")
    with pytest.raises(Conflict):
        await runtime.stores.users.create_user("alice", "hash")


async def test_listing_thousands_of_conversations_uses_the_index(runtime, settings):
    store = runtime.stores.conversations
    user = await runtime.stores.users.create_user("alice", "hash")
    for i in range(1200):
        await store.create_conversation(user.id, f"c{i}", "m")
    page = await store.list_conversations(user.id, 50, None)
    total = len(page.items)
    while page.next_cursor:
        page = await store.list_conversations(user.id, 50, page.next_cursor)
        total += len(page.items)
    assert total == 1200
    conn = sqlite3.connect(settings.database_path)
    plan = " ".join(
        row[3]
        for row in conn.execute(
            "EXPLAIN QUERY PLAN SELECT id FROM conversations WHERE user_id = ?"
            " ORDER BY updated_at DESC, id DESC LIMIT 51",
            (user.id,),
        )
    )
    conn.close()
    assert "conversations_by_user_recent" in plan and "TEMP B-TREE" not in plan


async def test_bad_cursor_is_invalid_input(runtime):
    with pytest.raises(InvalidInput):
        await runtime.stores.conversations.list_conversations("u", 10, "%%%")


async def test_concurrent_appends_lose_nothing(runtime):
    user = await runtime.stores.users.create_user("alice", "hash")
    conversation = await runtime.stores.conversations.create_conversation(user.id, "t", "m")

    async def writer(tab: int) -> None:
        for i in range(25):
            await runtime.stores.messages.append(
                user.id,
                conversation.id,
                parent_id=None,
                role="user",
                parts=text_parts(f"{tab}-{i}"),
                status=MessageStatus.COMPLETE,
            )

    await asyncio.gather(writer(1), writer(2))
    messages = await runtime.stores.messages.all_messages(user.id, conversation.id)
    assert len(messages) == 50
    assert [m.seq for m in messages] == list(range(1, 51))


async def test_a_ticket_is_taken_once_and_expires(runtime):
    tickets = runtime.stores.tickets
    user = await runtime.stores.users.create_user("alice", "hash")
    session = SessionRef(user.id, "jti-1", 0)
    await tickets.put_ticket("h1", session, expires_at=100.0)
    assert await tickets.take_ticket("h1", now=50.0) == session
    assert await tickets.take_ticket("h1", now=50.0) is None
    await tickets.put_ticket("h2", session, expires_at=100.0)
    assert await tickets.take_ticket("h2", now=150.0) is None


async def test_a_ticket_from_before_sessions_were_recorded_is_refused(runtime, settings):
    user = await runtime.stores.users.create_user("alice", "hash")
    conn = sqlite3.connect(settings.database_path)
    with conn:
        conn.execute("INSERT INTO ws_tickets (ticket_hash, user_id, expires_at) VALUES ('h0', ?, 100.0)", (user.id,))
    conn.close()
    assert await runtime.stores.tickets.take_ticket("h0", now=50.0) is None


async def test_deleting_a_user_deletes_their_conversations(runtime):
    user = await runtime.stores.users.create_user("alice", "hash")
    conversation = await runtime.stores.conversations.create_conversation(user.id, "t", "m")
    assert await runtime.stores.users.delete_user(user.id)
    assert await runtime.stores.conversations.get_conversation(user.id, conversation.id) is None
