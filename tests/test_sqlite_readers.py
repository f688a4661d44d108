"""Reads on reader connections: they see every committed write, never wait for the writer, and cannot write."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time

import pytest

from parley.core.store.sqlite.database import Database


@pytest.fixture
async def db(tmp_path):
    database = Database(tmp_path / "parley.db")
    await database.open()
    await database.run(lambda conn: conn.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT)"))
    yield database
    await database.close()


def count(conn: sqlite3.Connection) -> int:
    return int(conn.execute("SELECT COUNT(*) FROM notes").fetchone()[0])


async def test_a_read_sees_every_write_committed_before_it(db):
    for n in range(1, 21):
        await db.run(lambda conn, n=n: conn.execute("INSERT INTO notes (text) VALUES (?)", (f"note {n}",)))
        assert await db.read(count) == n  # read your writes, whichever reader thread answers


async def test_a_read_does_not_wait_for_a_long_write(db):
    writing, release = threading.Event(), threading.Event()

    def slow_write(conn: sqlite3.Connection) -> None:
        conn.execute("INSERT INTO notes (text) VALUES ('not yet')")
        writing.set()
        release.wait(5)  # the write transaction stays open until the read has answered

    write = asyncio.create_task(db.run(slow_write))
    await asyncio.to_thread(writing.wait, 5)
    started = time.monotonic()
    assert await db.read(count) == 0  # the committed state: the open transaction's row is not seen
    assert time.monotonic() - started < 2  # it did not queue behind the writer
    release.set()
    await write
    assert await db.read(count) == 1


async def test_a_reader_cannot_write(db):
    with pytest.raises(sqlite3.OperationalError, match="readonly"):
        await db.read(lambda conn: conn.execute("INSERT INTO notes (text) VALUES ('sneaky')"))
    assert await db.read(count) == 0


async def test_reads_after_close_are_refused(tmp_path):
    database = Database(tmp_path / "parley.db")
    await database.open()
    assert await database.read(lambda conn: conn.execute("SELECT 1").fetchone()[0]) == 1
    await database.close()
    with pytest.raises(RuntimeError):
        await database.read(lambda conn: conn.execute("SELECT 1").fetchone()[0])
