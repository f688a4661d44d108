"""``parley backup`` / ``parley restore``, for the store backends that keep their data in a file (SQLite).

A backend registers how it is backed up under its name, as it registers itself; one that does not (DynamoDB,
which has point-in-time recovery on AWS) is told apart by the registry, not by its name.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from parley.config import Settings
from parley.errors import ConfigError


@dataclass(frozen=True)
class BackupSummary:
    path: Path
    size_bytes: int
    users: int
    conversations: int
    messages: int
    files: int = 0  # attached files whose content is in the backup (or was restored)
    file_bytes: int = 0  # the bytes of that content
    missing: tuple[str, ...] = ()  # ids of files that have a record but not their content (see the backend)


class StoreBackup(Protocol):
    def backup(self, settings: Settings, target: Path) -> BackupSummary:
        """A consistent copy of the store into the new file ``target``, safe while a server runs."""

    def restore(self, settings: Settings, source: Path) -> tuple[BackupSummary, tuple[Path, ...]]:
        """Put the backup ``source`` back; returns what was restored and where the data it replaced was kept
        (nothing when there was none)."""


_BACKUPS: dict[str, Callable[[], StoreBackup]] = {}


def store_backup(name: str) -> Callable[[Callable[[], StoreBackup]], Callable[[], StoreBackup]]:
    def register(factory: Callable[[], StoreBackup]) -> Callable[[], StoreBackup]:
        _BACKUPS[name] = factory
        return factory

    return register


def backup_for(name: str) -> StoreBackup:
    from parley.core.store import sqlite  # noqa: F401  (registers the built-in backend's backup)

    try:
        return _BACKUPS[name]()
    except KeyError:
        raise ConfigError(
            f"The {name} store is not backed up with parley backup: use its own backups (on AWS, the table's "
            "point-in-time recovery, which the stack turns on)."
        ) from None
