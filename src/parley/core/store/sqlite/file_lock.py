"""Who is using a database file: every process that opens it holds a shared lock on ``<db>.lock``, and a restore,
which replaces the file, needs the lock exclusively. The kernel drops a lock when its process dies, so a crashed
server never leaves the data directory locked."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from parley.core.private_files import FILE_MODE
from parley.errors import Conflict


class DatabaseInUse(Conflict):
    code = "database_in_use"
    default_message = "A Parley server is using this data directory. Stop it first, then try again."


def lock_path(db_path: Path) -> Path:
    return db_path.with_name(db_path.name + ".lock")


class FileLock:
    def __init__(self, db_path: Path) -> None:
        self._path = lock_path(db_path)
        self._fd: int | None = None

    def share(self) -> None:
        """Hold the lock with other users of the file (blocks only while a restore runs)."""
        self._take(fcntl.LOCK_SH)

    def take_alone(self) -> None:
        """Hold the lock alone, at once; DatabaseInUse when anyone else holds it."""
        try:
            self._take(fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self.release()
            raise DatabaseInUse() from None

    def _take(self, operation: int) -> None:
        if self._fd is None:
            self._fd = os.open(self._path, os.O_RDWR | os.O_CREAT, FILE_MODE)
        fcntl.flock(self._fd, operation)

    def release(self) -> None:
        if self._fd is not None:
            fd, self._fd = self._fd, None
            os.close(fd)  # closing the descriptor releases the lock
