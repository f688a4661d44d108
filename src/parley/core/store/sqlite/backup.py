"""Backing up and restoring the SQLite store.

A backup is a consistent copy taken while the server runs: SQLite's online backup API reads one snapshot (in WAL
mode writers go on meanwhile) into a single, self-contained, private file. A restore checks the file is a Parley
database this version can open, keeps the database it replaces beside it, and needs the server stopped (see
``file_lock``): a running server would go on from its own view of the old data.
"""

from __future__ import annotations

import contextlib
import sqlite3
import time
from pathlib import Path

from parley.config import Settings
from parley.core.private_files import private_directory, private_file
from parley.core.store.backups import BackupSummary, store_backup
from parley.core.store.sqlite.file_lock import FileLock
from parley.core.store.sqlite.migrations import MIGRATIONS, apply_migrations
from parley.errors import Conflict, InvalidInput, NotFound

SQLITE_MAGIC = b"SQLite format 3\x00"
_COMPANIONS = ("-wal", "-shm")


@store_backup("sqlite")
class SqliteBackup:
    def backup(self, settings: Settings, target: Path) -> BackupSummary:
        return backup(settings.database_path, target)

    def restore(self, settings: Settings, source: Path) -> tuple[BackupSummary, Path | None]:
        return restore(source, settings.database_path)


def backup(db_path: Path, target: Path) -> BackupSummary:
    """Copy the database at ``db_path`` into the new file ``target`` (never overwritten)."""
    if not db_path.is_file():
        raise NotFound(f"There is no database at {db_path} to back up.")
    if target.exists():
        raise Conflict(f"{target} already exists; choose a new file name.")
    private_directory(target.parent)
    private_file(target)
    try:
        with contextlib.closing(sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)) as source:
            source.execute("PRAGMA busy_timeout=5000")
            with contextlib.closing(sqlite3.connect(target)) as copy:
                source.backup(copy)  # all pages in one step: one read snapshot, so the copy is consistent
                copy.execute("PRAGMA journal_mode=DELETE")  # one self-contained file, no -wal beside it
        return _summary(target)
    except BaseException:
        target.unlink(missing_ok=True)
        raise


def restore(source: Path, db_path: Path) -> tuple[BackupSummary, Path | None]:
    """Replace the database at ``db_path`` with the backup ``source``; returns what was restored and where the
    replaced database was kept (None when there was none). DatabaseInUse while a server has it open."""
    _check_backup(source)
    lock = FileLock(db_path)
    private_directory(db_path.parent)
    lock.take_alone()
    try:
        kept = _keep_current(db_path)
        private_file(db_path)
        with (
            contextlib.closing(sqlite3.connect(f"file:{source}?mode=ro", uri=True)) as backup_file,
            contextlib.closing(sqlite3.connect(db_path, isolation_level=None)) as restored,
        ):
            backup_file.backup(restored)
            restored.execute("PRAGMA journal_mode=WAL")
            apply_migrations(restored, db_path)  # a backup from an older version is brought up to date now
        return _summary(db_path), kept
    finally:
        lock.release()


def _check_backup(source: Path) -> None:
    if not source.is_file():
        raise NotFound(f"There is no file at {source}.")
    with source.open("rb") as file:
        if file.read(len(SQLITE_MAGIC)) != SQLITE_MAGIC:
            raise InvalidInput(f"{source} is not a Parley backup (not an SQLite database).")
    known = {name for name, _ in MIGRATIONS}
    try:
        with contextlib.closing(sqlite3.connect(f"file:{source}?mode=ro", uri=True)) as db:
            if db.execute("PRAGMA quick_check").fetchone()[0] != "ok":
                raise InvalidInput(f"{source} is damaged (SQLite's check failed).")
            applied = {row[0] for row in db.execute("SELECT name FROM schema_migrations")}
    except sqlite3.DatabaseError as error:
        raise InvalidInput(f"{source} is not a Parley backup ({error}).") from error
    if not applied:
        raise InvalidInput(f"{source} is not a Parley backup (it has no schema).")
    if applied - known:
        raise InvalidInput(f"{source} was made by a newer version of Parley; upgrade Parley to restore it.")


def _keep_current(db_path: Path) -> Path | None:
    """Move the database being replaced (with its WAL, folded in) aside, as private as it was."""
    if not db_path.exists():
        return None
    kept = db_path.with_name(f"{db_path.name}.{time.strftime('%Y%m%d-%H%M%S')}.before-restore.bak")
    private_file(kept)
    with contextlib.closing(sqlite3.connect(db_path)) as current, contextlib.closing(sqlite3.connect(kept)) as copy:
        current.backup(copy)
        copy.execute("PRAGMA journal_mode=DELETE")
    for path in (db_path, *(db_path.with_name(db_path.name + suffix) for suffix in _COMPANIONS)):
        path.unlink(missing_ok=True)
    return kept


def _summary(path: Path) -> BackupSummary:
    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:

        def count(table: str) -> int:
            return int(db.execute(f"SELECT count(*) FROM {table}").fetchone()[0])  # noqa: S608 - fixed names

        return BackupSummary(path, path.stat().st_size, count("users"), count("conversations"), count("messages"))
