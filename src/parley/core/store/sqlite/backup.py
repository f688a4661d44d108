"""Backing up and restoring the local home: the SQLite store, and the attached files' bytes under the data directory.

A backup is one private file (drawn in ``backup_archive``) taken while the server runs. The database is copied
first, with SQLite's online backup API: one read snapshot, while writers go on (WAL mode). Then the bytes of every
file that copy has a record of are added from ``Settings.files_dir``. A blob never changes once written
(``LocalFileBlobs`` writes a temporary file and renames it into place), so what is read is the blob the copy's record
refers to. A file uploaded after the snapshot is not needed (the copy has no record of it); a file deleted meanwhile
has a record and no content: it is listed as missing, and a restore marks it failed.

A restore needs the server stopped (``file_lock``: a running server would go on from its own view of the old data).
It unpacks and checks the whole backup in a staging directory in the data directory first, so a backup that is
damaged, hostile or not Parley's replaces nothing; then the database and the files directory it replaces are moved
aside, and the unpacked ones take their place. A bare SQLite file, as versions before this one made, restores the
database alone and leaves the files directory as it is. Either way, a file whose record says it can be used but
whose content is not there is marked failed, with a reason its owner can act on, rather than shown ready and broken.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from parley.config import Settings
from parley.core.files.base import IMAGE, ORIGINAL, TEXT, FileKind, FileStatus
from parley.core.private_files import private_directory, private_file
from parley.core.store.backups import BackupSummary, store_backup
from parley.core.store.sqlite.backup_archive import (
    BLOB_NAMES,
    DATABASE,
    FILES,
    ArchiveWriter,
    Contents,
    blob_member,
    is_archive,
    read_archive,
)
from parley.core.store.sqlite.file_lock import FileLock
from parley.core.store.sqlite.migrations import MIGRATIONS, apply_migrations
from parley.errors import Conflict, InvalidInput, NotFound, TooLarge

SQLITE_MAGIC = b"SQLite format 3\x00"
_COMPANIONS = ("-wal", "-shm")
LOST_CONTENT = "This file's content was not in the backup that was restored. Upload it again."


@store_backup("sqlite")
class SqliteBackup:
    def backup(self, settings: Settings, target: Path) -> BackupSummary:
        return backup(settings, target)

    def restore(self, settings: Settings, source: Path) -> tuple[BackupSummary, tuple[Path, ...]]:
        return restore(settings, source)


@dataclass(frozen=True)
class _FileRecord:
    user_id: str
    file_id: str
    status: str
    kind: str | None

    def needs(self) -> set[str]:
        """The blobs without which the file cannot be used as its record says."""
        if self.status == FileStatus.READY:
            return {IMAGE} if self.kind == FileKind.IMAGE else {ORIGINAL, TEXT}
        if self.status == FileStatus.PROCESSING:
            return {ORIGINAL}  # a server started on the restored data processes it again
        return set()

    def blob_path(self, files_dir: Path, name: str) -> Path:
        blob_member(self.user_id, self.file_id, name)  # ValueError for ids no blob can have (never a path)
        return files_dir / self.user_id / self.file_id / name


def backup(settings: Settings, target: Path) -> BackupSummary:
    """Copy the database and the files it has records of into the new file ``target`` (never overwritten)."""
    db_path = settings.database_path
    if not db_path.is_file():
        raise NotFound(f"There is no database at {db_path} to back up.")
    if target.exists():
        raise Conflict(f"{target} already exists; choose a new file name.")
    private_directory(target.parent)
    private_file(target)
    try:
        with _database_copy(db_path, target.parent) as copy:
            with target.open("wb") as out:
                archive = ArchiveWriter(out)
                archive.add_database(copy)
                contents = _add_files(archive, settings.files_dir, _file_records(copy))
                archive.close(contents)
            return _summary(copy, contents, shown_as=target)
    except BaseException:
        target.unlink(missing_ok=True)
        raise


@contextlib.contextmanager
def _database_copy(db_path: Path, directory: Path) -> Iterator[Path]:
    """A consistent copy of the database, in a private temporary file in ``directory``, for as long as needed."""
    fd, name = tempfile.mkstemp(prefix=".parley-backup-", suffix=".db.partial", dir=directory)  # 0600
    os.close(fd)
    copy_path = Path(name)
    try:
        with contextlib.closing(sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)) as source:
            source.execute("PRAGMA busy_timeout=5000")
            with contextlib.closing(sqlite3.connect(copy_path)) as copy:
                source.backup(copy)  # all pages in one step: one read snapshot, so the copy is consistent
                copy.execute("PRAGMA journal_mode=DELETE")  # one self-contained file, no -wal beside it
        yield copy_path
    finally:
        copy_path.unlink(missing_ok=True)


def _add_files(archive: ArchiveWriter, files_dir: Path, records: list[_FileRecord]) -> Contents:
    files = file_bytes = 0
    missing = []
    for record in records:
        added: dict[str, int] = {}
        for name in BLOB_NAMES:
            try:
                path = record.blob_path(files_dir, name)
            except ValueError:  # ids no blob can have: nothing of this file is on disk
                break
            size = archive.add_blob(record.user_id, record.file_id, name, path)
            if size is not None:
                added[name] = size
        if added:
            files += 1
            file_bytes += sum(added.values())
        if not record.needs() <= added.keys():
            missing.append(record.file_id)
    return Contents(files, file_bytes, tuple(missing))


def restore(settings: Settings, source: Path) -> tuple[BackupSummary, tuple[Path, ...]]:
    """Replace the data with the backup ``source``; returns what was restored and where the data it replaced was
    kept (nothing when there was none). DatabaseInUse while a server has the database open."""
    if not source.is_file():
        raise NotFound(f"There is no file at {source}.")
    archive = is_archive(source)
    if not archive and not _is_database(source):
        raise InvalidInput(
            f"{source} is not a Parley backup (neither an archive made by parley backup nor an SQLite database; "
            "if it was compressed, decompress it first)."
        )
    if not archive:
        _check_database(source, shown_as=source)  # a bare database, as versions before this one made
    db_path = settings.database_path
    lock = FileLock(db_path)
    private_directory(db_path.parent)
    lock.take_alone()
    try:
        stamp = time.strftime("%Y%m%d-%H%M%S")
        kept = _restore_archive(settings, source, stamp) if archive else _restore_database(source, db_path, stamp)
        contents = _settle_files(db_path, settings.files_dir)
        return _summary(db_path, contents, shown_as=db_path), kept
    finally:
        lock.release()


def _restore_archive(settings: Settings, source: Path, stamp: str) -> tuple[Path, ...]:
    db_path, files_dir = settings.database_path, settings.files_dir
    _check_room(source, db_path)
    staging = Path(tempfile.mkdtemp(prefix=".restore-", dir=db_path.parent))  # 0700, on the data's file system
    try:
        read_archive(source, staging, lambda database: _files_of(database, shown_as=source))
        # The files directory first: a rename, and the step that can fail on a strange layout (a mount point),
        # before the database is touched.
        kept_files = _move_aside(files_dir, stamp)
        kept = (_keep_current(db_path, stamp), kept_files)
        os.replace(staging / DATABASE, db_path)
        with contextlib.closing(sqlite3.connect(db_path, isolation_level=None)) as restored:
            _bring_up_to_date(restored, db_path)
        if (staging / FILES).is_dir():
            os.replace(staging / FILES, files_dir)
        return tuple(path for path in kept if path is not None)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _restore_database(source: Path, db_path: Path, stamp: str) -> tuple[Path, ...]:
    kept = _keep_current(db_path, stamp)
    private_file(db_path)
    with (
        contextlib.closing(sqlite3.connect(f"file:{source}?mode=ro", uri=True)) as backup_file,
        contextlib.closing(sqlite3.connect(db_path, isolation_level=None)) as restored,
    ):
        backup_file.backup(restored)
        _bring_up_to_date(restored, db_path)
    return () if kept is None else (kept,)


def _bring_up_to_date(restored: sqlite3.Connection, db_path: Path) -> None:
    restored.execute("PRAGMA journal_mode=WAL")
    apply_migrations(restored, db_path)  # a backup from an older version is brought up to date now


def _check_room(source: Path, db_path: Path) -> None:
    """Room to unpack the backup beside the data, and to keep a copy of the database it replaces."""
    needed = source.stat().st_size + sum(
        path.stat().st_size
        for path in (db_path, *(db_path.with_name(db_path.name + suffix) for suffix in _COMPANIONS))
        if path.exists()
    )
    free = shutil.disk_usage(db_path.parent).free
    if free < needed:
        raise TooLarge(f"Restoring {source} needs {needed:,} free bytes in {db_path.parent}; {free:,} are free.")


def _is_database(path: Path) -> bool:
    with path.open("rb") as file:
        return file.read(len(SQLITE_MAGIC)) == SQLITE_MAGIC


def _check_database(path: Path, *, shown_as: Path) -> None:
    """``path`` is a sound Parley database this version can open; errors name the backup ``shown_as``."""
    if not _is_database(path):
        raise InvalidInput(f"{shown_as} is not a Parley backup (its database is not an SQLite database).")
    known = {name for name, _ in MIGRATIONS}
    try:
        with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
            if db.execute("PRAGMA quick_check").fetchone()[0] != "ok":
                raise InvalidInput(f"{shown_as} is damaged (SQLite's check failed).")
            applied = {row[0] for row in db.execute("SELECT name FROM schema_migrations")}
    except sqlite3.DatabaseError as error:
        raise InvalidInput(f"{shown_as} is not a Parley backup ({error}).") from error
    if not applied:
        raise InvalidInput(f"{shown_as} is not a Parley backup (it has no schema).")
    if applied - known:
        raise InvalidInput(f"{shown_as} was made by a newer version of Parley; upgrade Parley to restore it.")


def _files_of(database: Path, *, shown_as: Path) -> set[tuple[str, str]]:
    """Check an archive's database; the (user id, file id) of its files, whose content the archive may hold."""
    _check_database(database, shown_as=shown_as)
    return {(record.user_id, record.file_id) for record in _file_records(database)}


def _file_records(db_path: Path) -> list[_FileRecord]:
    with contextlib.closing(sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)) as db:
        if db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'files'").fetchone() is None:
            return []  # a database from before attached files
        rows = db.execute("SELECT user_id, id, status, kind FROM files ORDER BY user_id, id").fetchall()
    return [_FileRecord(*row) for row in rows]


def _settle_files(db_path: Path, files_dir: Path) -> Contents:
    """What the restored data holds of its files; a file whose record says it can be used and whose content is not
    there is marked failed (its size 0 when its original is gone: it takes none of its owner's space)."""
    files = file_bytes = 0
    lost: list[tuple[_FileRecord, bool]] = []
    for record in _file_records(db_path):
        sizes: dict[str, int] = {}
        for name in BLOB_NAMES:
            with contextlib.suppress(FileNotFoundError, ValueError):
                sizes[name] = record.blob_path(files_dir, name).stat().st_size
        if sizes:
            files += 1
            file_bytes += sum(sizes.values())
        if not record.needs() <= sizes.keys():
            lost.append((record, ORIGINAL in sizes))
    if lost:
        with contextlib.closing(sqlite3.connect(db_path)) as db, db:
            db.executemany(
                "UPDATE files SET status = ?, error = ?, size = CASE WHEN ? THEN size ELSE 0 END, updated_at = ? "
                "WHERE user_id = ? AND id = ?",
                [
                    (FileStatus.ERROR.value, LOST_CONTENT, has_original, time.time(), record.user_id, record.file_id)
                    for record, has_original in lost
                ],
            )
    return Contents(files, file_bytes, tuple(record.file_id for record, _ in lost))


def _keep_current(db_path: Path, stamp: str) -> Path | None:
    """Move the database being replaced (with its WAL, folded in) aside, as private as it was."""
    if not db_path.exists():
        return None
    kept = _aside(db_path, f"{stamp}.before-restore.bak")
    private_file(kept)
    with contextlib.closing(sqlite3.connect(db_path)) as current, contextlib.closing(sqlite3.connect(kept)) as copy:
        current.backup(copy)
        copy.execute("PRAGMA journal_mode=DELETE")
    for path in (db_path, *(db_path.with_name(db_path.name + suffix) for suffix in _COMPANIONS)):
        path.unlink(missing_ok=True)
    return kept


def _move_aside(files_dir: Path, stamp: str) -> Path | None:
    """Move the files directory being replaced aside (a rename: its bytes stay where they are)."""
    if not files_dir.exists():
        return None
    kept = _aside(files_dir, f"{stamp}.before-restore")
    os.replace(files_dir, kept)
    return kept


def _aside(path: Path, suffix: str) -> Path:
    """A new name beside ``path`` (two restores in the same second keep both)."""
    kept = path.with_name(f"{path.name}.{suffix}")
    n = 1
    while kept.exists():
        n += 1
        kept = path.with_name(f"{path.name}.{suffix}.{n}")
    return kept


def _summary(db_path: Path, contents: Contents, *, shown_as: Path) -> BackupSummary:
    with contextlib.closing(sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)) as db:

        def count(table: str) -> int:
            return int(db.execute(f"SELECT count(*) FROM {table}").fetchone()[0])  # noqa: S608 - fixed names

        users, conversations, messages = count("users"), count("conversations"), count("messages")
    return BackupSummary(
        shown_as,
        shown_as.stat().st_size,
        users,
        conversations,
        messages,
        files=contents.files,
        file_bytes=contents.file_bytes,
        missing=contents.missing,
    )
