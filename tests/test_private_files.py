"""Only the user running Parley may read its data: the directory 0700; the database, its WAL and shared-memory
files, its backups and the JWT secret 0600, whatever the umask (here the most permissive one, 000)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from parley.core.auth.secret import load_or_create_secret
from parley.core.store.registry import open_stores
from parley.core.store.sqlite import migrations


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def permissive_umask():
    previous = os.umask(0o000)
    try:
        yield
    finally:
        os.umask(previous)


@pytest.mark.usefixtures("permissive_umask")
async def test_the_data_directory_the_database_and_its_wal_and_shm_are_private(settings):
    async with open_stores("sqlite", settings) as stores:
        await stores.users.create_user("alice", "hash")  # a write: the WAL and shared-memory files exist now
        files = [settings.database_path.with_name(f"parley.db{suffix}") for suffix in ("", "-wal", "-shm")]
        assert [path.exists() for path in files] == [True, True, True]
        assert mode(settings.data_dir) == 0o700
        assert {path.name: mode(path) for path in files} == {path.name: 0o600 for path in files}


@pytest.mark.usefixtures("permissive_umask")
async def test_a_backup_before_a_migration_is_private(settings, monkeypatch):
    async with open_stores("sqlite", settings):
        pass
    monkeypatch.setattr(migrations, "MIGRATIONS", [*migrations.MIGRATIONS, ("0999_test", "SELECT 1;")])
    async with open_stores("sqlite", settings):
        pass
    (backup,) = settings.data_dir.glob("parley.db.*.before-0999_test.bak")
    assert mode(backup) == 0o600
    assert [path.name for path in settings.data_dir.glob("*.bak-journal")] == []


@pytest.mark.usefixtures("permissive_umask")
def test_the_generated_jwt_secret_and_its_directory_are_private(settings):
    load_or_create_secret(settings.jwt_secret, settings.jwt_secret_path)  # the first start: no data directory yet
    assert (mode(settings.data_dir), mode(settings.jwt_secret_path)) == (0o700, 0o600)


async def test_files_an_older_version_left_readable_are_made_private(settings, caplog):
    settings.data_dir.mkdir()
    for path in (settings.database_path, settings.jwt_secret_path):
        path.touch()
        os.chmod(path, 0o644)
    settings.jwt_secret_path.write_text("k" * 64)
    load_or_create_secret(None, settings.jwt_secret_path)
    async with open_stores("sqlite", settings):
        pass
    assert (mode(settings.database_path), mode(settings.jwt_secret_path)) == (0o600, 0o600)
    assert "made private" in caplog.text


async def test_a_data_directory_that_already_exists_is_left_as_it_is(settings):
    # One the operator made (a shared volume, say) keeps its mode; the files in it are private all the same.
    settings.data_dir.mkdir()
    os.chmod(settings.data_dir, 0o750)
    async with open_stores("sqlite", settings):
        pass
    assert (mode(settings.data_dir), mode(settings.database_path)) == (0o750, 0o600)
