"""``parley backup PATH`` and ``parley restore PATH``: a consistent copy of the data while the server runs, and
putting one back while it is stopped."""

from __future__ import annotations

import argparse
from pathlib import Path

from parley.cli.support import Subcommands
from parley.config import Settings
from parley.core.store.backups import BackupSummary, backup_for


def add_commands(commands: Subcommands, common: argparse.ArgumentParser) -> None:
    backup = commands.add_parser(
        "backup", parents=[common], help="copy the data into a new file (safe while the server runs)"
    )
    backup.add_argument("path", type=Path, help="the backup file to create (the database and the attached files)")
    backup.set_defaults(run=_backup)
    restore = commands.add_parser("restore", parents=[common], help="put a backup back (stop the server first)")
    restore.add_argument("path", type=Path, help="a file made by parley backup")
    restore.set_defaults(run=_restore)


def _backup(args: argparse.Namespace, settings: Settings) -> int:
    summary = backup_for(settings.store).backup(settings, args.path)
    print(f"Backed up {_counts(summary)} to {summary.path} ({summary.size_bytes:,} bytes).")
    if summary.missing:
        print(
            f"The content of {_files(len(summary.missing))} was gone before it could be copied (deleted meanwhile, "
            f"or lost from the disk); a restore marks them failed: {_ids(summary.missing)}."
        )
    return 0


def _restore(args: argparse.Namespace, settings: Settings) -> int:
    summary, kept = backup_for(settings.store).restore(settings, args.path)
    print(f"Restored {_counts(summary)} from {args.path}.")
    if kept:
        print(f"The data it replaced is kept in {' and '.join(str(path) for path in kept)}.")
    if summary.missing:
        print(
            f"The content of {_files(len(summary.missing))} was not in the backup: they are marked failed, so their "
            f"owners see why and can upload them again: {_ids(summary.missing)}."
        )
    return 0


def _counts(summary: BackupSummary) -> str:
    return (
        f"{summary.users} users, {summary.conversations} conversations, {summary.messages} messages and "
        f"{_files(summary.files)} ({summary.file_bytes:,} bytes)"
    )


def _files(count: int) -> str:
    return "1 attached file" if count == 1 else f"{count} attached files"


def _ids(ids: tuple[str, ...], shown: int = 10) -> str:
    more = len(ids) - shown
    return ", ".join(ids[:shown]) + (f" and {more} more" if more > 0 else "")
