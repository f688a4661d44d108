"""Upgrading a SQLite database made before API keys: ``0012_api_keys`` is applied after a backup, and users kept."""

from __future__ import annotations

import sqlite3

from parley.config import Settings
from parley.core.auth.api_keys import ApiKeys
from parley.core.store.registry import open_stores
from parley.core.store.sqlite import migrations


async def test_a_database_from_before_api_keys_gets_them(tmp_path, monkeypatch):
    settings = Settings(data_dir=tmp_path / "data")
    before = [entry for entry in migrations.MIGRATIONS if entry[0] < "0012_api_keys"]
    with monkeypatch.context() as patched:
        patched.setattr(migrations, "MIGRATIONS", before)
        async with open_stores("sqlite", settings):
            pass
    conn = sqlite3.connect(settings.database_path)
    # The user as a release before API keys wrote it (today's store code writes columns added since).
    with conn:
        conn.execute(
            "INSERT INTO users (id, username, password_hash, is_admin, disabled, token_version, created_at)"
            " VALUES ('u-alice', 'alice', 'hash', 0, 0, 0, 1.0)"
        )
    assert conn.execute("SELECT name FROM sqlite_master WHERE name = 'api_keys'").fetchone() is None
    conn.close()

    async with open_stores("sqlite", settings) as stores:
        alice = await stores.users.get_user_by_name("alice")
        assert alice is not None
        made = await ApiKeys(stores.api_keys, stores.users).create(alice, "laptop")
        assert (await ApiKeys(stores.api_keys, stores.users).authenticate(made.text)).user.id == alice.id
    assert list(settings.database_path.parent.glob("*.before-0012_api_keys.bak"))
