"""File records on both stores (SQLite, and DynamoDB on moto): created uploading, saved as processing learns, listed
newest first, totalled for the limits, deleted with their owner; another user's file is missing."""

from __future__ import annotations

import asyncio
import dataclasses

from parley.core.files.base import FileKind, FileStatus


async def test_a_file_is_created_uploading_and_saved_as_processing_learns(stores):
    alice = await stores.users.create_user("alice", "hash")
    file = await stores.files.create_file(alice.id, "report.pdf", 1234)
    assert len(file.id) == 32 and int(file.id, 16) >= 0
    assert (file.user_id, file.name, file.size, file.status) == (alice.id, "report.pdf", 1234, FileStatus.UPLOADING)
    assert (file.media_type, file.kind, file.error, file.width, file.height) == ("", None, None, None, None)
    assert await stores.files.get_file(alice.id, file.id) == file

    ready = dataclasses.replace(
        file,
        size=1300,
        status=FileStatus.READY,
        media_type="application/pdf",
        kind=FileKind.DOCUMENT,
        text_chars=5000,
        passages=6,
        text_truncated=True,
        updated_at=file.updated_at + 5,
    )
    await stores.files.save_file(ready)
    assert await stores.files.get_file(alice.id, file.id) == ready

    image = dataclasses.replace(
        ready, status=FileStatus.ERROR, kind=FileKind.IMAGE, media_type="image/png", width=640, height=480,
        error="Too many pixels.", text_chars=0, passages=0, text_truncated=False,
    )  # fmt: skip
    await stores.files.save_file(image)
    assert await stores.files.get_file(alice.id, file.id) == image


async def test_files_are_listed_newest_first_per_user(stores):
    alice = await stores.users.create_user("alice", "hash")
    bob = await stores.users.create_user("bob", "hash")
    made = []
    for n in range(3):
        made.append(await stores.files.create_file(alice.id, f"f{n}", 100 * (n + 1)))
        await asyncio.sleep(0.01)
    await stores.files.create_file(bob.id, "bob's", 7)
    assert [f.id for f in await stores.files.list_files(alice.id)] == [f.id for f in reversed(made)]
    assert [f.size for f in await stores.files.list_files(alice.id)] == [300, 200, 100]
    assert [f.size for f in await stores.files.list_files(bob.id)] == [7]
    assert await stores.files.list_files("nobody") == []


async def test_another_users_file_is_missing(stores):
    alice = await stores.users.create_user("alice", "hash")
    bob = await stores.users.create_user("bob", "hash")
    file = await stores.files.create_file(alice.id, "mine", 1)
    assert await stores.files.get_file(bob.id, file.id) is None
    assert await stores.files.delete_file(bob.id, file.id) is False
    await stores.files.save_file(dataclasses.replace(file, user_id=bob.id, status=FileStatus.READY))
    assert (await stores.files.get_file(alice.id, file.id)).status is FileStatus.UPLOADING
    assert await stores.files.get_file(bob.id, file.id) is None


async def test_a_deleted_file_stays_deleted_even_when_its_processing_saves_it(stores):
    alice = await stores.users.create_user("alice", "hash")
    file = await stores.files.create_file(alice.id, "gone", 1)
    assert await stores.files.delete_file(alice.id, file.id) is True
    assert await stores.files.delete_file(alice.id, file.id) is False
    await stores.files.save_file(dataclasses.replace(file, status=FileStatus.READY))
    assert await stores.files.get_file(alice.id, file.id) is None
    assert await stores.files.list_files(alice.id) == []


async def test_deleting_a_user_deletes_their_file_records(stores):
    alice = await stores.users.create_user("alice", "hash")
    bob = await stores.users.create_user("bob", "hash")
    await stores.files.create_file(alice.id, "a", 1)
    kept = await stores.files.create_file(bob.id, "b", 2)
    assert await stores.users.delete_user(alice.id)
    assert await stores.files.list_files(alice.id) == []
    assert await stores.files.list_files(bob.id) == [kept]
