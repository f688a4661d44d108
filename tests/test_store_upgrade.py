"""Upgrading loses nothing: data written by the release before messages became a tree reads whole afterwards.

Each backend's earlier data is written here the way that release wrote it (its SQL and its DynamoDB items,
copied below as fixtures of the old format), then opened with this version.
"""

from __future__ import annotations

import dataclasses
import sqlite3
import time
import uuid
from dataclasses import dataclass
from typing import Any

import pytest

from parley.aws.dynamodb import dynamo_stores, keys
from parley.aws.dynamodb.table import Table
from parley.config import Settings
from parley.core.chat.service import ChatRequest
from parley.core.store.base import MessageStatus
from parley.core.store.parts import text_parts
from parley.core.store.registry import open_stores
from parley.core.store.sqlite import migrations
from parley.runtime import open_runtime
from tests.conftest import FAST_ARGON2

LAST_RELEASED_MIGRATION = "0005_generation_leases"
BIG = "Ünïcödé 'quoted' \"text\"; DROP TABLE messages; -- " * 6000  # about 300 KB: split on DynamoDB


@dataclass(frozen=True)
class Written:
    """A message as the earlier release stored it."""

    conversation_id: str
    id: str
    seq: int
    role: str
    content: str
    status: str
    model: str | None = None
    finish_reason: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    client_msgid: str | None = None
    at: float = 0.0
    saved_at: float = 0.0


# Each conversation's turns: (role, content, status, finish_reason, usage).
CONVERSATIONS: dict[str, list[tuple[str, str, str, str | None, tuple[int, int] | None]]] = {
    "Long talk": [
        ("user", "first question", "complete", None, None),
        ("assistant", "first answer", "complete", "stop", (3, 2)),
        ("user", "tell me everything", "complete", None, None),
        ("assistant", BIG, "complete", "length", (5, 4000)),
        ("user", "and then?", "complete", None, None),
        ("assistant", "half an ans", "interrupted", "stream_interrupted", None),
        ("user", "again", "complete", None, None),
        ("assistant", "", "error", "provider_unavailable", None),
        ("user", "stop early", "complete", None, None),
        ("assistant", "stopped he", "stopped", "stopped", (2, 3)),
    ],
    "Still running": [
        ("user", "slow one", "complete", None, None),
        ("assistant", "so far", "streaming", None, None),
    ],
    "Nothing yet": [],
}


def check_upgraded(conversations, messages, written: list[Written], titles: dict[str, str], leaves: dict[str, str]):
    """Every message of ``written`` is there, unchanged, each under the one before it, in one branch per
    conversation whose current leaf is its last message."""
    by_conversation: dict[str, list[Written]] = {}
    for message in written:
        by_conversation.setdefault(message.conversation_id, []).append(message)
    for conversation_id, title in titles.items():
        expected = by_conversation.get(conversation_id, [])
        assert conversations[conversation_id].title == title
        assert conversations[conversation_id].current_leaf_id in (leaves.get(conversation_id), None)
        found = messages[conversation_id]
        assert [
            (
                m.id,
                m.seq,
                m.role,
                m.content,
                m.status.value,
                m.model,
                m.finish_reason,
                m.prompt_tokens,
                m.completion_tokens,
                m.client_msgid,
            )
            for m in found
        ] == [
            (
                w.id,
                w.seq,
                w.role,
                w.content,
                w.status,
                w.model,
                w.finish_reason,
                w.prompt_tokens,
                w.completion_tokens,
                w.client_msgid,
            )
            for w in expected
        ]
        assert [m.parent_id for m in found] == [None, *[w.id for w in expected]][: len(expected)]
        assert [(m.created_at, m.updated_at) for m in found] == [(w.at, w.saved_at) for w in expected]


# --- SQLite: the release's schema (its migrations as shipped) and its SQL ---------------------------------------


class ReleaseSqliteWriter:
    """How the release wrote conversations and messages (copied from its SqliteConversationStore)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self.written: list[Written] = []
        self.owner_of: dict[str, str] = {}

    def user(self, name: str) -> str:
        user_id = uuid.uuid4().hex
        self.conn.execute(
            "INSERT INTO users (id, username, password_hash, is_admin, disabled, token_version, created_at)"
            " VALUES (?, ?, 'hash', 0, 0, 0, ?)",
            (user_id, name, time.time()),
        )
        return user_id

    def conversation(self, user_id: str, title: str) -> str:
        conversation_id, now = uuid.uuid4().hex, time.time()
        self.conn.execute(
            "INSERT INTO conversations (id, user_id, title, model, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)",
            (conversation_id, user_id, title, "m", now, now),
        )
        self.owner_of[conversation_id] = user_id
        return conversation_id

    def add_message(self, conversation_id: str, role: str, content: str, status: str, msgid: str | None) -> str:
        now = time.time()
        seq = self.conn.execute(
            "SELECT COALESCE(MAX(seq), 0) + 1 FROM messages WHERE conversation_id = ?", (conversation_id,)
        ).fetchone()[0]
        message_id = uuid.uuid4().hex
        model = "m" if role == "assistant" else None
        self.conn.execute(
            "INSERT INTO messages (id, conversation_id, seq, role, content, status, model, client_msgid,"
            " created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (message_id, conversation_id, seq, role, content, status, model, msgid, now, now),
        )
        self.conn.execute("UPDATE conversations SET updated_at = ? WHERE id = ?", (now, conversation_id))
        self.written.append(
            Written(conversation_id, message_id, seq, role, content, status, model, None, None, None, msgid, now, now)
        )
        return message_id

    def update_message(self, message_id: str, content: str, status: str, finish_reason, usage) -> None:
        prompt_tokens, completion_tokens = usage or (None, None)
        now = time.time()
        self.conn.execute(
            "UPDATE messages SET content = ?, status = ?, finish_reason = COALESCE(?, finish_reason),"
            " prompt_tokens = COALESCE(?, prompt_tokens), completion_tokens = COALESCE(?, completion_tokens),"
            " updated_at = ? WHERE id = ?",
            (content, status, finish_reason, prompt_tokens, completion_tokens, now, message_id),
        )
        saved_as(self.written, message_id, content, status, finish_reason, prompt_tokens, completion_tokens, now)


def saved_as(written, message_id, content, status, finish_reason, prompt_tokens, completion_tokens, saved_at):
    """Record in ``written`` what a release's save of ``message_id`` left in its store."""
    index = next(i for i, w in enumerate(written) if w.id == message_id)
    written[index] = dataclasses.replace(
        written[index],
        content=content,
        status=status,
        finish_reason=finish_reason,
        prompt_tokens=prompt_tokens,
        completion_tokens=completion_tokens,
        saved_at=saved_at,
    )


def write_release_data(writer: ReleaseSqliteWriter) -> tuple[dict[str, str], dict[str, str]]:
    """Two users' conversations, written turn by turn as the release did; returns titles and last messages."""
    titles: dict[str, str] = {}
    leaves: dict[str, str] = {}
    writer.owners = {"alice": writer.user("alice"), "bob": writer.user("bob")}
    for owner in writer.owners.values():
        for title, turns in CONVERSATIONS.items():
            conversation_id = writer.conversation(owner, title)
            titles[conversation_id] = title
            for number, (role, content, status, finish_reason, usage) in enumerate(turns):
                if role == "user":
                    leaves[conversation_id] = writer.add_message(
                        conversation_id, role, content, status, f"msg-{number}"
                    )
                else:  # an answer: saved empty while streaming, then as it ended
                    answer = writer.add_message(conversation_id, role, "", "streaming", None)
                    if status != "streaming" or content:
                        writer.update_message(answer, content, status, finish_reason, usage)
                    leaves[conversation_id] = answer
    return titles, leaves


def release_sqlite(path) -> tuple[ReleaseSqliteWriter, dict[str, str], dict[str, str]]:
    names = [name for name, _ in migrations.MIGRATIONS]
    released = migrations.MIGRATIONS[: names.index(LAST_RELEASED_MIGRATION) + 1]
    path.parent.mkdir(parents=True)
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA foreign_keys=ON")
    saved = migrations.MIGRATIONS
    migrations.MIGRATIONS = released
    try:
        migrations.apply_migrations(conn, path)
    finally:
        migrations.MIGRATIONS = saved
    writer = ReleaseSqliteWriter(conn)
    conn.execute("BEGIN")
    titles, leaves = write_release_data(writer)
    conn.execute("COMMIT")
    conn.close()
    return writer, titles, leaves


async def read_everything(stores, owners: dict[str, str], titles: dict[str, str]):
    conversations, messages = {}, {}
    for user_id in owners.values():
        page = await stores.conversations.list_conversations(user_id, 100, None)
        for conversation in page.items:
            conversations[conversation.id] = conversation
            messages[conversation.id] = await stores.messages.all_messages(user_id, conversation.id)
    assert set(conversations) == set(titles)
    return conversations, messages


async def test_a_sqlite_database_of_the_last_release_keeps_every_message(tmp_path):
    settings = Settings(data_dir=tmp_path / "data", local_model=False, argon2=FAST_ARGON2)
    writer, titles, leaves = release_sqlite(settings.database_path)

    async with open_stores("sqlite", settings) as stores:
        conversations, messages = await read_everything(stores, writer.owners, titles)
        check_upgraded(conversations, messages, writer.written, titles, leaves)
        for conversation_id, leaf in leaves.items():
            assert conversations[conversation_id].current_leaf_id == leaf
            owner = conversations[conversation_id].user_id
            assert [m.id for m in await stores.messages.path(owner, conversation_id)] == [
                m.id for m in messages[conversation_id]
            ]
        empty = next(c for c in conversations.values() if c.title == "Nothing yet")
        assert empty.current_leaf_id is None and await stores.messages.path(empty.user_id, empty.id) == []

    backups = list(settings.data_dir.glob("parley.db.*.before-0006_*.bak"))
    assert len(backups) == 1
    copy = sqlite3.connect(backups[0])
    assert copy.execute("SELECT COUNT(*) FROM messages").fetchone()[0] == len(writer.written)
    assert copy.execute("SELECT 1 FROM messages WHERE content = ?", (BIG,)).fetchone() == (1,)
    copy.close()


async def test_an_upgraded_sqlite_database_finds_what_was_said_before(tmp_path):
    settings = Settings(data_dir=tmp_path / "data", local_model=False, argon2=FAST_ARGON2)
    writer, _, _ = release_sqlite(settings.database_path)

    async with open_stores("sqlite", settings) as stores:
        for owner in writer.owners.values():

            async def found(query: str, owner: str = owner) -> list[tuple[str | None, str]]:
                page = await stores.search.search(owner, query, 50, None)
                return sorted((hit.role, hit.snippet) for hit in page.items)

            assert await found("everything") == [("user", "tell me everything")]
            assert await found("he") == [("assistant", "stopped he")]  # a stopped answer is final
            assert await found("interrupted ans") == []
            assert await found("half ans") == [("assistant", "half an ans")]
            assert await found("far") == []  # still streaming when the release stopped: not final
            assert await found("talk") == [(None, "Long talk")]
            assert len(await found("ünïcödé")) == 1  # the 300 KB answer
            hits = (await stores.search.search(owner, "question", 50, None)).items
            assert {writer.owner_of[hit.conversation_id] for hit in hits} == {owner}


async def test_an_upgraded_sqlite_conversation_goes_on_as_a_tree(tmp_path, provider):
    from parley.core.providers.registry import ModelRegistry

    settings = Settings(data_dir=tmp_path / "data", local_model=False, argon2=FAST_ARGON2)
    writer, titles, _ = release_sqlite(settings.database_path)
    registry = ModelRegistry()
    registry.add_provider(provider, await provider.list_models())
    async with open_runtime(settings, models=registry) as runtime:
        alice = await runtime.stores.users.get_user(writer.owners["alice"])
        conversation_id = pick(writer, titles, "Long talk", alice.id)
        old = await runtime.stores.messages.all_messages(alice.id, conversation_id)
        generation = await runtime.chat.start(alice, ChatRequest(prompt="one more", conversation_id=conversation_id))
        await generation.wait()
        # Edit the first question: a new first message beside it; the old branch stays whole.
        first = old[0]
        generation = await runtime.chat.start(
            alice, ChatRequest(prompt="first, edited", conversation_id=conversation_id, edit_message_id=first.id)
        )
        await generation.wait()
        everything = await runtime.stores.messages.all_messages(alice.id, conversation_id)
        assert [m.content for m in everything[: len(old)]] == [m.content for m in old]
        branch = await runtime.chat.history(alice.id, conversation_id)
        assert [m.content for m in branch.messages] == ["first, edited", "Hello there!"]
        assert branch.sibling_ids[branch.messages[0].id] == (first.id, branch.messages[0].id)
        back = await runtime.chat.switch_branch(alice.id, conversation_id, first.id)
        assert [m.content for m in back.messages] == [*(m.content for m in old), "one more", "Hello there!"]
        # The usage tables came with the upgrade (0013_usage): both answers were counted.
        report = await runtime.usage.report(None, None, alice)
        assert report.requests == 2 and report.completion_tokens == 6


def pick(writer, titles: dict[str, str], title: str, owner: str) -> str:
    return next(c for c, t in titles.items() if t == title and writer.owner_of[c] == owner)


# --- DynamoDB: the release's items, written as its DynamoConversationStore wrote them ------------------------------

RELEASE_PART_BYTES = 100_000


def release_split(content: str) -> list[str]:
    data = content.encode("utf-8")
    parts: list[str] = []
    start = 0
    while start < len(data):
        end = min(start + RELEASE_PART_BYTES, len(data))
        while end < len(data) and (data[end] & 0xC0) == 0x80:
            end -= 1
        parts.append(data[start:end].decode("utf-8"))
        start = end
    return parts or [""]


class ReleaseDynamoWriter:
    """How the release wrote conversations and messages on DynamoDB (its keys and items, copied)."""

    def __init__(self, table: Table) -> None:
        self.table = table
        self.written: list[Written] = []
        self.owner_of: dict[str, str] = {}

    async def conversation(self, user_id: str, title: str) -> str:
        conversation_id, now = uuid.uuid4().hex, time.time()
        await self.table.put(
            {
                "pk": f"USER#{user_id}",
                "sk": f"CONV#{conversation_id}",
                "gsi1pk": f"CONVS#{user_id}",
                "gsi1sk": keys.recency(now, conversation_id),
                "conversation_id": conversation_id,
                "user_id": user_id,
                "title": title,
                "title_lc": title.casefold(),
                "model": "m",
                "created_at": now,
                "updated_at": now,
                "next_seq": 0,
            },
            condition="attribute_not_exists(pk)",
        )
        self.owner_of[conversation_id] = user_id
        return conversation_id

    async def add_message(self, user_id, conversation_id, role, content, status, msgid) -> str:
        now = time.time()
        updated = await self.table.update(
            f"USER#{user_id}",
            f"CONV#{conversation_id}",
            "SET updated_at = :now, gsi1sk = :recency ADD next_seq :one",
            values={":now": now, ":recency": keys.recency(now, conversation_id), ":one": 1},
            condition="attribute_exists(pk)",
            returns="UPDATED_NEW",
        )
        seq = int(updated["next_seq"])
        model = "m" if role == "assistant" else None
        parts = release_split(content)
        await self.table.put(
            {
                "pk": f"CONV#{conversation_id}",
                "sk": f"MSG#{seq:010d}",
                "conversation_id": conversation_id,
                "seq": seq,
                "role": role,
                "content": parts[0],
                "parts": len(parts),
                "status": status,
                "model": model,
                "client_msgid": msgid,
                "created_at": now,
                "updated_at": now,
            }
        )
        await self._write_parts(conversation_id, seq, parts)
        message_id = f"{conversation_id}.{seq}"
        self.written.append(
            Written(conversation_id, message_id, seq, role, content, status, model, None, None, None, msgid, now, now)
        )
        return message_id

    async def _write_parts(self, conversation_id: str, seq: int, parts: list[str]) -> None:
        for number, text in enumerate(parts[1:], start=1):
            await self.table.put(
                {
                    "pk": f"CONV#{conversation_id}",
                    "sk": f"MSG#{seq:010d}#{number:04d}",
                    "seq": seq,
                    "part": number,
                    "content": text,
                }
            )

    async def update_message(self, message_id, content, status, finish_reason, usage) -> None:
        conversation_id, _, seq_text = message_id.rpartition(".")
        seq = int(seq_text)
        prompt_tokens, completion_tokens = usage or (None, None)
        parts = release_split(content)
        expression = "SET content = :c, parts = :n, #status = :s, updated_at = :now"
        now = time.time()
        values: dict[str, Any] = {":c": parts[0], ":n": len(parts), ":s": status, ":now": now}
        for name, value in (
            ("finish_reason", finish_reason),
            ("prompt_tokens", prompt_tokens),
            ("completion_tokens", completion_tokens),
        ):
            if value is not None:
                expression += f", {name} = :{name}"
                values[f":{name}"] = value
        await self.table.update(
            f"CONV#{conversation_id}",
            f"MSG#{seq:010d}",
            expression,
            values=values,
            names={"#status": "status"},
            condition="attribute_exists(pk)",
        )
        await self._write_parts(conversation_id, seq, parts)
        saved_as(self.written, message_id, content, status, finish_reason, prompt_tokens, completion_tokens, now)


@pytest.fixture
async def release_dynamo(moto_server, dynamodb_table):
    import boto3

    client = boto3.client("dynamodb", endpoint_url=moto_server)
    stores = dynamo_stores(client, dynamodb_table)
    writer = ReleaseDynamoWriter(Table(client, dynamodb_table))
    # Users are written as they were: the store of this version writes them the same way.
    writer.owners = {name: (await stores.users.create_user(name, "hash")).id for name in ("alice", "bob")}
    titles: dict[str, str] = {}
    leaves: dict[str, str] = {}
    for owner in writer.owners.values():
        for title, turns in CONVERSATIONS.items():
            conversation_id = await writer.conversation(owner, title)
            titles[conversation_id] = title
            for number, (role, content, status, finish_reason, usage) in enumerate(turns):
                if role == "user":
                    leaves[conversation_id] = await writer.add_message(
                        owner, conversation_id, role, content, status, f"msg-{number}"
                    )
                else:
                    answer = await writer.add_message(owner, conversation_id, role, "", "streaming", None)
                    if status != "streaming" or content:
                        await writer.update_message(answer, content, status, finish_reason, usage)
                    leaves[conversation_id] = answer
    return stores, writer, titles, leaves


async def test_dynamodb_items_of_the_last_release_read_whole(release_dynamo):
    stores, writer, titles, leaves = release_dynamo
    conversations, messages = await read_everything(stores, writer.owners, titles)
    check_upgraded(conversations, messages, writer.written, titles, leaves)
    for conversation_id, conversation in conversations.items():
        path = await stores.messages.path(conversation.user_id, conversation_id)
        assert [m.id for m in path] == [m.id for m in messages[conversation_id]]


async def test_an_earlier_dynamodb_conversation_goes_on_as_a_tree(release_dynamo):
    stores, writer, titles, leaves = release_dynamo
    alice, bob = writer.owners["alice"], writer.owners["bob"]
    conversation_id = pick(writer, titles, "Still running", alice)
    running = leaves[conversation_id]
    # Settling an answer left streaming by the release: owner-scoped, in place, nothing else changes.
    assert not await stores.messages.update(bob, conversation_id, running, parts=text_parts("x"), status=ERROR)
    assert await stores.messages.update(
        alice, conversation_id, running, parts=text_parts("so far"), status=INTERRUPTED, finish_reason="abandoned"
    )
    question, answer = await stores.messages.all_messages(alice, conversation_id)
    assert (answer.id, answer.content, answer.status, answer.finish_reason) == (
        running,
        "so far",
        INTERRUPTED,
        "abandoned",
    )
    # New messages go under the release's, and an edit of its first question is a new first message.
    follow = await stores.messages.append(
        alice, conversation_id, parent_id=running, role="user", parts=text_parts("go on"), status=COMPLETE
    )
    assert [m.id for m in await stores.messages.path(alice, conversation_id)] == [question.id, running, follow.id]
    edited = await stores.messages.append(
        alice, conversation_id, parent_id=None, role="user", parts=text_parts("slow one, edited"), status=COMPLETE
    )
    assert [m.id for m in await stores.messages.children(alice, conversation_id, None)] == [question.id, edited.id]
    assert await stores.messages.set_current_leaf(alice, conversation_id, running)
    assert not await stores.messages.set_current_leaf(bob, conversation_id, running)
    assert [m.id for m in await stores.messages.path(alice, conversation_id)] == [question.id, running]
    # Deleting the conversation takes the release's items with the new ones.
    assert await stores.conversations.delete_conversation(alice, conversation_id)
    assert await writer.table.query_all("pk = :p", {":p": keys.messages(conversation_id)}) == []


COMPLETE, ERROR, INTERRUPTED = MessageStatus.COMPLETE, MessageStatus.ERROR, MessageStatus.INTERRUPTED


async def test_an_upgraded_sqlite_database_records_imports(tmp_path):
    settings = Settings(data_dir=tmp_path / "data", local_model=False, argon2=FAST_ARGON2)
    writer, titles, _ = release_sqlite(settings.database_path)
    async with open_stores("sqlite", settings) as stores:
        conversations, _ = await read_everything(stores, writer.owners, titles)
        owner = next(iter(writer.owners.values()))
        assert await stores.imports.record_import(owner, "parley", "src-1", next(iter(conversations)))
        job = await stores.import_jobs.create_job(owner, "a.zip", 10)
        assert [j.id for j in await stores.import_jobs.list_jobs(owner, 5)] == [job.id]
    conn = sqlite3.connect(settings.database_path)
    applied = [row[0] for row in conn.execute("SELECT name FROM schema_migrations ORDER BY name")]
    conn.close()
    assert "0010_imports" in applied


async def test_an_upgraded_sqlite_database_shares_and_its_links_go_with_their_conversation(tmp_path):
    from parley.core.shares.service import ShareService, hash_token

    settings = Settings(data_dir=tmp_path / "data", local_model=False, argon2=FAST_ARGON2)
    writer, titles, _ = release_sqlite(settings.database_path)
    async with open_stores("sqlite", settings) as stores:
        owner = writer.owners["alice"]
        conversation_id = pick(writer, titles, "Long talk", owner)
        shares = ShareService(stores.conversations, stores.messages, stores.shares)
        made = await shares.create(owner, conversation_id)
        snapshot = await stores.shares.get_snapshot(hash_token(made.token))
        path = await stores.messages.path(owner, conversation_id)
        assert [m.content for m in snapshot.messages] == [m.content for m in path if m.content]
        assert await stores.conversations.delete_conversation(owner, conversation_id)
        assert await stores.shares.get_snapshot(hash_token(made.token)) is None


async def test_accounts_made_before_sign_up_existed_are_neither_pending_nor_lose_their_login(tmp_path):
    """0014_setup_code_and_sign_up: every existing account stays active, and a setup code can be stored."""
    settings = Settings(data_dir=tmp_path / "data", local_model=False, argon2=FAST_ARGON2)
    path = settings.database_path
    names = [name for name, _ in migrations.MIGRATIONS]
    before = migrations.MIGRATIONS[: names.index("0014_setup_code_and_sign_up")]
    path.parent.mkdir(parents=True)
    conn = sqlite3.connect(path, isolation_level=None)
    saved = migrations.MIGRATIONS
    migrations.MIGRATIONS = before
    try:
        migrations.apply_migrations(conn, path)
    finally:
        migrations.MIGRATIONS = saved
    conn.execute(
        "INSERT INTO users (id, username, password_hash, is_admin, disabled, token_version, created_at)"
        " VALUES ('u1', 'old-admin', 'hash', 1, 0, 3, 1.0)"
    )
    conn.close()
    async with open_stores("sqlite", settings) as stores:
        user = await stores.users.get_user_by_name("old-admin")
        assert (user.is_admin, user.pending, user.email, user.token_version) == (True, False, None, 3)
        await stores.setup_codes.put_setup_code("code")
        assert await stores.setup_codes.create_first_admin("code", "second", "hash") is None  # one exists
