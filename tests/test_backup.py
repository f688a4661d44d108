"""``parley backup`` and ``parley restore`` on the SQLite store: a consistent copy while the store is being written,
a restore that refuses what it cannot use and a running server, and keeps what it replaces."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import stat
import tarfile
from pathlib import Path

import pytest

from parley.cli.main import main
from parley.config import Settings
from parley.core.store.backups import backup_for
from parley.core.store.base import MessageStatus, Stores
from parley.core.store.parts import text_parts
from parley.core.store.registry import open_stores
from parley.core.store.sqlite.file_lock import DatabaseInUse
from parley.errors import ConfigError, Conflict, InvalidInput
from tests.conftest import FAST_ARGON2


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings(data_dir=tmp_path / "data", local_model=False, argon2=FAST_ARGON2)


async def add_conversation(stores: Stores, user_id: str, title: str, replies: int) -> None:
    conversation = await stores.conversations.create_conversation(user_id, title, "fake-model")
    parent = None
    for n in range(replies):
        message = await stores.messages.append(
            user_id,
            conversation.id,
            parent_id=parent,
            role="user" if n % 2 == 0 else "assistant",
            parts=text_parts(f"{title} message {n}"),
            status=MessageStatus.COMPLETE,
        )
        assert message is not None
        parent = message.id


def database_in(backup: Path, directory: Path) -> Path:
    """The database a backup holds, unpacked into ``directory`` to be looked at."""
    with tarfile.open(backup) as archive:
        member = archive.extractfile("parley.db")
        assert member is not None
        (directory / "parley.db").write_bytes(member.read())
    return directory / "parley.db"


async def titles(settings: Settings) -> list[str]:
    async with open_stores("sqlite", settings) as stores:
        [user] = await stores.users.list_users()
        page = await stores.conversations.list_conversations(user.id, limit=100, cursor=None)
        return sorted(conversation.title for conversation in page.items)


async def test_a_backup_taken_while_the_store_is_written_is_consistent_and_restores(settings, tmp_path):
    target = tmp_path / "backups" / "parley-backup.db"
    async with open_stores("sqlite", settings) as stores:
        user = await stores.users.create_user("ada", "hash")
        await add_conversation(stores, user.id, "before", 4)

        writing = asyncio.create_task(add_conversation(stores, user.id, "during", 200))
        await asyncio.sleep(0.01)
        summary = await asyncio.to_thread(backup_for("sqlite").backup, settings, target)
        await writing
        await add_conversation(stores, user.id, "after", 2)

        with pytest.raises(DatabaseInUse, match="Stop it first"):
            backup_for("sqlite").restore(settings, target)

    assert stat.S_IMODE(os.stat(target).st_mode) == 0o600
    assert os.listdir(target.parent) == [target.name]  # one self-contained file; the database's copy is gone
    with tarfile.open(target) as archive:
        assert archive.getnames() == ["manifest.json", "parley.db", "summary.json"]  # no files: none uploaded
    with sqlite3.connect(database_in(target, tmp_path)) as copy:
        assert copy.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        # A snapshot: every conversation in it has all the messages it had at that moment, none torn.
        counts = dict(
            copy.execute(
                "SELECT c.title, count(m.id) FROM conversations c LEFT JOIN messages m ON m.conversation_id = c.id "
                "GROUP BY c.id"
            ).fetchall()
        )
    assert counts["before"] == 4 and "after" not in counts
    assert summary.users == 1 and summary.conversations == len(counts)
    assert (summary.files, summary.file_bytes, summary.missing) == (0, 0, ())

    restored, kept = backup_for("sqlite").restore(settings, target)
    assert restored.conversations == summary.conversations and restored.messages == summary.messages
    assert await titles(settings) == sorted(counts)
    [kept_db] = kept  # there was no files directory to keep
    assert "after" in dict(sqlite3.connect(kept_db).execute("SELECT title, 1 FROM conversations"))
    assert stat.S_IMODE(os.stat(kept_db).st_mode) == 0o600


def test_a_backup_never_overwrites_a_file(settings, tmp_path):
    asyncio.run(_create_store(settings))
    existing = tmp_path / "taken.db"
    existing.write_bytes(b"keep me")
    with pytest.raises(Conflict, match="already exists"):
        backup_for("sqlite").backup(settings, existing)
    assert existing.read_bytes() == b"keep me"


async def _create_store(settings: Settings) -> None:
    async with open_stores("sqlite", settings) as stores:
        await stores.users.create_user("ada", "hash")


@pytest.mark.parametrize(
    ("make", "error"),
    [
        (lambda path: path.write_bytes(b"PK\x03\x04 a zip, not a database"), "not a Parley backup"),
        (lambda path: sqlite3.connect(path).execute("CREATE TABLE notes (x)"), "not a Parley backup"),
        (lambda path: _database_from_the_future(path), "newer version of Parley"),
    ],
    ids=["not-sqlite", "not-parley", "newer-version"],
)
def test_restore_refuses_what_it_cannot_use_and_changes_nothing(settings, tmp_path, make, error):
    asyncio.run(_create_store(settings))
    before = settings.database_path.read_bytes()
    bad = tmp_path / "bad.db"
    make(bad)
    with pytest.raises(InvalidInput, match=error):
        backup_for("sqlite").restore(settings, bad)
    assert settings.database_path.read_bytes() == before


def _database_from_the_future(path):
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE schema_migrations (name TEXT PRIMARY KEY, applied_at REAL NOT NULL)")
        db.execute("INSERT INTO schema_migrations VALUES ('0001_initial', 0), ('9999_from_the_future', 0)")


def test_a_store_without_file_backups_says_what_to_use_instead():
    with pytest.raises(ConfigError, match="point-in-time recovery"):
        backup_for("dynamodb")


def test_the_commands(settings, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("PARLEY_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("PARLEY_LOCAL_MODEL", "off")
    asyncio.run(_create_store(settings))
    target = tmp_path / "nightly.db"
    assert main(["backup", str(target)]) == 0
    assert "Backed up 1 users, 0 conversations, 0 messages and 0 attached files (0 bytes)" in capsys.readouterr().out
    assert main(["backup", str(target)]) == 1
    assert "already exists" in capsys.readouterr().err
    assert main(["restore", str(target)]) == 0
    out = capsys.readouterr().out
    assert "Restored 1 users" in out and "before-restore.bak" in out
    assert main(["restore", str(tmp_path / "missing.db")]) == 1
    assert "no file" in capsys.readouterr().err
