"""One SQLite file: writes from one dedicated thread, reads also from a few reader threads, so the event loop
never waits on disk and a read never queues behind writes."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

from parley.core.private_files import make_private, private_directory, private_file
from parley.core.store.sqlite.file_lock import FileLock
from parley.core.store.sqlite.migrations import apply_migrations

T = TypeVar("T")


# Reader threads: enough that the reads of a burst of requests (each checks its session and reads its
# conversation before the model is called) run while the writer commits; more only contend for the GIL.
READERS = 2


class Database:
    """Runs functions against a single connection on a single worker thread; read-only ones may run on reader
    connections instead (``read``).

    One writer thread serializes every transaction, so read-modify-write sequences inside one
    ``run`` call cannot interleave: no lost updates, no ``database is locked``. In WAL mode a reader sees the
    last committed state and neither waits for the writer nor blocks it.
    """

    def __init__(self, path: Path, *, readers: int = READERS) -> None:
        self.path = path
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="parley-sqlite")
        self._conn: sqlite3.Connection | None = None
        self._lock = FileLock(path)
        self._readers = ThreadPoolExecutor(max_workers=readers, thread_name_prefix="parley-sqlite-read")
        self._reader_local = threading.local()  # each reader thread's own connection
        self._reader_conns: list[sqlite3.Connection] = []
        self._reader_conns_lock = threading.Lock()

    async def open(self) -> list[str]:
        """Connect and bring the schema up to date; returns the migrations applied."""
        await self._submit(self._connect)
        return await self._submit(lambda: apply_migrations(self.connection, self.path))

    def _connect(self) -> None:
        private_directory(self.path.parent)
        # SQLite gives the -wal and -shm files it creates the database file's mode: create that one private first.
        private_file(self.path)
        self._lock.share()  # held while open, so that a restore cannot replace the file under this process
        for companion in ("-wal", "-shm"):
            make_private(self.path.with_name(self.path.name + companion))
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute("PRAGMA busy_timeout=5000")
        self._conn = conn

    @property
    def connection(self) -> sqlite3.Connection:
        if self._conn is None:
            raise RuntimeError("database is not open")
        return self._conn

    async def run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``fn(conn)`` inside one transaction on the database thread."""
        return await self._submit(lambda: self._in_transaction(fn))

    async def read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``fn(conn)``, which only reads, on a reader connection: one snapshot of what is committed (so
        everything written before this call is seen), without waiting for the writer thread."""
        if self._conn is None:
            raise RuntimeError("database is not open")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._readers, lambda: self._in_read_transaction(fn))

    def _in_read_transaction(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        conn = getattr(self._reader_local, "conn", None)
        if conn is None:
            conn = self._reader_local.conn = self._connect_reader()
        conn.execute("BEGIN")  # deferred: a read transaction, one snapshot for all of fn's queries
        try:
            return fn(conn)
        finally:
            conn.execute("COMMIT")

    def _connect_reader(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA query_only=ON")  # a reader that tried to write would be a bug: refuse it
        conn.execute("PRAGMA busy_timeout=5000")
        with self._reader_conns_lock:
            self._reader_conns.append(conn)
        return conn

    def _in_transaction(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        conn = self.connection
        conn.execute("BEGIN IMMEDIATE")
        try:
            result = fn(conn)
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
        return result

    async def _submit(self, fn: Callable[[], T]) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, fn)

    async def close(self) -> None:
        if self._conn is not None:
            conn, self._conn = self._conn, None
            await asyncio.get_running_loop().run_in_executor(self._executor, conn.close)
        self._executor.shutdown(wait=True)
        self._readers.shutdown(wait=True)
        with self._reader_conns_lock:
            readers, self._reader_conns = self._reader_conns, []
        for reader in readers:
            reader.close()
        self._lock.release()
