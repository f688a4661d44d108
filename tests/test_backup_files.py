"""A backup carries the attached files' bytes with their records, and a restore puts them back: a document and an
image uploaded before the backup are served byte for byte by a server started on a fresh data directory, and a chat
attaching them reaches the (fake) model; a file whose content was gone is marked failed, not shown ready. A bare
SQLite backup, as the previous version made, still restores. Hostile archives: ``test_backup_archive.py``."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import dataclasses
import os
import sqlite3
import stat
import tarfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest

from parley.cli.main import main
from parley.config import Settings
from parley.core.files.base import FileKind, FileStatus
from parley.core.store.backups import backup_for
from parley.core.store.registry import open_stores
from parley.core.store.sqlite.backup import LOST_CONTENT
from parley.runtime import Runtime, open_runtime
from parley.server.app import create_app
from parley.testing import sample_files
from parley.testing.fake_openai import FakeOpenAI, Script
from tests.conftest import FAST_ARGON2, PASSWORD, Account
from tests.test_backup_archive import stored_document
from tests.test_routes_files import ready

FACT = "The budget was approved: 42,000 euros."


@pytest.fixture
async def fake():
    async with FakeOpenAI(
        api_key="sk-fake-key", vision_models=("gpt-4o",), script=Script(tokens=("Noted", "."))
    ) as upstream:
        yield upstream


def settings_in(data_dir: Path, fake: FakeOpenAI) -> Settings:
    return Settings(
        data_dir=data_dir,
        local_model=False,
        argon2=FAST_ARGON2,
        openai_base_url=fake.base_url,
        openai_api_key="sk-fake-key",
        save_interval_seconds=0.05,
        first_token_timeout=5,
        token_idle_timeout=5,
    )


@asynccontextmanager
async def server(settings: Settings) -> AsyncIterator[tuple[Runtime, httpx.AsyncClient]]:
    async with open_runtime(settings, env={}) as runtime:
        transport = httpx.ASGITransport(app=create_app(settings, runtime))
        async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as client:
            yield runtime, client


async def login(client: httpx.AsyncClient, name: str) -> dict[str, str]:
    response = await client.post("/api/login", json={"username": name, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return Account(name, response.json()["token"]).headers


async def upload(client: httpx.AsyncClient, headers: dict[str, str], content: bytes, name: str) -> dict:
    response = await client.post("/api/files", headers=headers, files={"file": (name, content)})
    assert response.status_code == 201, response.text
    file = await ready(client, SimpleNamespace(headers=headers), response.json()["id"])
    assert file["status"] == "ready", file
    return file


async def content(client: httpx.AsyncClient, headers: dict[str, str], file_id: str) -> bytes:
    response = await client.get(f"/api/files/{file_id}/content", headers=headers)
    assert response.status_code == 200, response.text
    return response.content


async def lost_file(runtime: Runtime, user_id: str) -> str:
    """A file ready on record whose bytes are gone (deleted between the database's copy and the files' walk)."""
    made = await runtime.stores.files.create_file(user_id, "gone.txt", 10)
    await runtime.stores.files.save_file(
        dataclasses.replace(made, status=FileStatus.READY, kind=FileKind.DOCUMENT, media_type="text/plain")
    )
    return made.id


def blob_sizes(files_dir: Path) -> dict[str, int]:
    return {str(path.relative_to(files_dir)): path.stat().st_size for path in files_dir.rglob("*") if path.is_file()}


async def test_a_backup_carries_the_files_and_a_fresh_data_directory_serves_them_after_a_restore(tmp_path, fake):
    here = settings_in(tmp_path / "here", fake)
    target = tmp_path / "backups" / "nightly.parley"
    async with server(here) as (runtime, client):
        user = await runtime.auth.create_user("alice", PASSWORD)
        headers = await login(client, "alice")
        pdf = sample_files.pdf(f"Minutes of the meeting. {FACT}")
        doc = await upload(client, headers, pdf, "minutes.pdf")
        image = await upload(client, headers, sample_files.png(4, 4), "cat.png")
        gone = await lost_file(runtime, user.id)
        asked = await client.post(
            "/api/chat", headers=headers, json={"prompt": "Approved?", "attachments": [doc["id"]]}
        )
        assert asked.status_code == 200, asked.text
        shown = await content(client, headers, image["id"])
        on_disk = blob_sizes(here.files_dir)

        summary = await asyncio.to_thread(backup_for("sqlite").backup, here, target)  # while the server runs

        with pytest.raises(Exception, match="Stop it first"):
            backup_for("sqlite").restore(here, target)

    assert stat.S_IMODE(os.stat(target).st_mode) == 0o600
    assert os.listdir(target.parent) == [target.name]
    assert (summary.files, summary.file_bytes, summary.missing) == (2, sum(on_disk.values()), (gone,))
    with tarfile.open(target) as archive:
        names = archive.getnames()
    assert names[:2] == ["manifest.json", "parley.db"] and names[-1] == "summary.json"
    assert sorted(names[2:-1]) == sorted(f"files/{key}" for key in on_disk)
    assert sorted(on_disk) == sorted(
        f"{user.id}/{file_id}/{name}"
        for file_id, names in ((doc["id"], ("original", "text.json")), (image["id"], ("original", "image")))
        for name in names
    )

    there = settings_in(tmp_path / "there", fake)  # another machine: nothing there yet
    restored, kept = await asyncio.to_thread(backup_for("sqlite").restore, there, target)
    assert kept == ()
    assert (restored.users, restored.files, restored.file_bytes) == (1, 2, summary.file_bytes)
    assert restored.missing == (gone,)
    assert blob_sizes(there.files_dir) == on_disk
    for path in [there.files_dir, *there.files_dir.rglob("*")]:
        assert stat.S_IMODE(path.stat().st_mode) == (0o700 if path.is_dir() else 0o600), path
    assert not [name for name in os.listdir(there.data_dir) if name.startswith(".restore-")]

    async with server(there) as (runtime, client):
        headers = await login(client, "alice")  # the account came back; sessions did not (a new signing secret)
        assert await content(client, headers, doc["id"]) == pdf
        assert await content(client, headers, image["id"]) == shown
        failed = (await client.get(f"/api/files/{gone}", headers=headers)).json()
        assert (failed["status"], failed["error"], failed["size"]) == ("error", LOST_CONTENT, 0)

        conversation_id = asked.json()["conversation_id"]
        old = (await client.get(f"/api/conversations/{conversation_id}", headers=headers)).json()["messages"][0]
        assert [attached["file_id"] for attached in old["attachments"]] == [doc["id"]]

        again = await client.post(
            "/api/chat", headers=headers, json={"prompt": "What was approved?", "attachments": [doc["id"]]}
        )
        assert again.status_code == 200, again.text
        system = fake.chat_requests[-1].body["messages"][0]
        assert system["role"] == "system" and FACT in system["content"] and doc["id"] in system["content"]

        seen = await client.post(
            "/api/chat",
            headers=headers,
            json={"prompt": "What is it?", "attachments": [image["id"]], "params": {"model": "gpt-4o"}},
        )
        assert seen.status_code == 200, seen.text
        assert base64.b64encode(shown).decode() in str(fake.chat_requests[-1].body["messages"])

        refused = await client.post("/api/chat", headers=headers, json={"prompt": "And?", "attachments": [gone]})
        assert refused.status_code == 400 and LOST_CONTENT in refused.json()["error"]["message"]


async def test_a_restore_in_place_keeps_the_database_and_the_files_it_replaces(tmp_path, fake):
    settings = settings_in(tmp_path / "data", fake)
    target = tmp_path / "before.parley"
    async with server(settings) as (runtime, client):
        await runtime.auth.create_user("alice", PASSWORD)
        headers = await login(client, "alice")
        kept_file = await upload(client, headers, b"Kept in the backup.\n", "kept.txt")
        await asyncio.to_thread(backup_for("sqlite").backup, settings, target)
        later = await upload(client, headers, b"Uploaded after the backup.\n", "later.txt")
        before_restore = blob_sizes(settings.files_dir)

    restored, kept = await asyncio.to_thread(backup_for("sqlite").restore, settings, target)
    kept_db, kept_files = kept
    assert kept_db.name.startswith("parley.db.") and kept_db.name.endswith(".before-restore.bak")
    assert kept_files.parent == settings.data_dir and kept_files.name.startswith("files.")
    assert blob_sizes(kept_files) == before_restore  # the replaced files, whole, where the output says
    assert restored.files == 1 and restored.missing == ()
    assert not any(later["id"] in key for key in blob_sizes(settings.files_dir))

    async with server(settings) as (_, client):
        headers = await login(client, "alice")
        assert await content(client, headers, kept_file["id"]) == b"Kept in the backup.\n"
        assert (await client.get(f"/api/files/{later['id']}", headers=headers)).status_code == 404


async def test_a_bare_database_made_by_the_previous_version_still_restores(tmp_path, fake):
    settings = settings_in(tmp_path / "data", fake)
    async with server(settings) as (runtime, client):
        await runtime.auth.create_user("alice", PASSWORD)
        headers = await login(client, "alice")
        kept_file = await upload(client, headers, b"Still on this disk.\n", "kept.txt")
        deleted = await upload(client, headers, b"Deleted since.\n", "deleted.txt")
    old_backup = tmp_path / "old.db"
    with (
        contextlib.closing(sqlite3.connect(settings.database_path)) as db,
        contextlib.closing(sqlite3.connect(old_backup)) as copy,
    ):
        db.backup(copy)  # what ``parley backup`` wrote before it carried files: the database alone
    async with server(settings) as (runtime, client):
        headers = await login(client, "alice")
        assert (await client.delete(f"/api/files/{deleted['id']}", headers=headers)).status_code == 204
    files_before = blob_sizes(settings.files_dir)

    restored, kept = await asyncio.to_thread(backup_for("sqlite").restore, settings, old_backup)
    [kept_db] = kept  # the files directory was left as it is, not moved aside
    assert kept_db.exists() and blob_sizes(settings.files_dir) == files_before
    assert (restored.users, restored.files, restored.missing) == (1, 1, (deleted["id"],))

    async with server(settings) as (_, client):
        headers = await login(client, "alice")
        assert await content(client, headers, kept_file["id"]) == b"Still on this disk.\n"
        failed = (await client.get(f"/api/files/{deleted['id']}", headers=headers)).json()
        assert (failed["status"], failed["error"]) == ("error", LOST_CONTENT)


def test_the_commands_tell_the_files_and_where_the_replaced_data_is_kept(tmp_path, monkeypatch, capsys):
    settings = Settings(data_dir=tmp_path / "data", local_model=False, argon2=FAST_ARGON2)
    monkeypatch.setenv("PARLEY_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("PARLEY_LOCAL_MODEL", "off")
    gone = asyncio.run(_a_document_and_a_lost_file(settings))
    target = tmp_path / "nightly.parley"

    assert main(["backup", str(target)]) == 0
    out = capsys.readouterr().out
    assert "Backed up 1 users, 0 conversations, 0 messages and 1 attached file (41 bytes)" in out
    assert "The content of 1 attached file was gone before it could be copied" in out
    assert f"a restore marks them failed: {gone}." in out

    assert main(["restore", str(target)]) == 0
    out = capsys.readouterr().out
    assert "Restored 1 users, 0 conversations, 0 messages and 1 attached file (41 bytes)" in out
    assert "The data it replaced is kept in " in out and ".before-restore.bak and " in out
    assert (
        f"was not in the backup: they are marked failed, so their owners see why and can upload them again: {gone}."
        in out
    )


async def _a_document_and_a_lost_file(settings: Settings) -> str:
    async with open_stores("sqlite", settings) as stores:
        user = await stores.users.create_user("ada", "hash")
        await stored_document(stores, settings, user.id)
        gone = await stores.files.create_file(user.id, "gone.txt", 5)  # processing, and its original is not there
        await stores.files.save_file(dataclasses.replace(gone, status=FileStatus.PROCESSING))
        return gone.id
