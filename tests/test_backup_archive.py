"""Restoring a hostile or damaged backup archive: every one is refused with a plain reason, nothing outside the
staging directory is written, and the data it would have replaced is left exactly as it was.

``parley restore`` is a command an operator runs on a file, not a route, so these rows live here rather than in
the attack suite (``tests/attacks/`` attacks a running server)."""

from __future__ import annotations

import asyncio
import dataclasses
import io
import json
import os
import shutil
import tarfile
from collections.abc import Callable
from pathlib import Path

import pytest

from parley.config import Settings
from parley.core.files.base import ORIGINAL, TEXT, FileKind, FileStatus, StoredFile, blob_key
from parley.core.files.local_blobs import LocalFileBlobs
from parley.core.store.backups import backup_for
from parley.core.store.base import Stores
from parley.core.store.registry import open_stores
from parley.errors import InvalidInput
from tests.conftest import FAST_ARGON2

Member = tuple[tarfile.TarInfo, bytes]


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings(data_dir=tmp_path / "data", local_model=False, argon2=FAST_ARGON2)


@pytest.fixture
def good(settings, tmp_path) -> list[Member]:
    """The members of a sound backup of one user with one document; then the data is changed, so a restore that
    went through would show."""
    asyncio.run(_one_document(settings))
    target = tmp_path / "good.parley"
    backup_for("sqlite").backup(settings, target)
    with tarfile.open(target) as archive:
        members = [(member, _read(archive, member)) for member in archive.getmembers()]
    asyncio.run(_another_user(settings))
    return members


async def _one_document(settings: Settings) -> None:
    async with open_stores("sqlite", settings) as stores:
        user = await stores.users.create_user("ada", "hash")
        await stored_document(stores, settings, user.id)


async def stored_document(stores: Stores, settings: Settings, user_id: str) -> StoredFile:
    """A ready document as processing leaves it, its original and text on this machine's disk."""
    file = await stores.files.create_file(user_id, "notes.txt", 5)
    blobs = LocalFileBlobs(settings.files_dir)
    await blobs.put(blob_key(user_id, file.id, ORIGINAL), b"notes")
    await blobs.put(blob_key(user_id, file.id, TEXT), b'{"text": "notes", "page_starts": []}')
    file = dataclasses.replace(file, status=FileStatus.READY, kind=FileKind.DOCUMENT)
    await stores.files.save_file(file)
    return file


async def _another_user(settings: Settings) -> None:
    async with open_stores("sqlite", settings) as stores:
        await stores.users.create_user("bea", "hash")


def _read(archive: tarfile.TarFile, member: tarfile.TarInfo) -> bytes:
    file = archive.extractfile(member)
    assert file is not None
    return file.read()


def _write(path: Path, members: list[Member]) -> Path:
    with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as archive:
        for info, data in members:
            archive.addfile(info, io.BytesIO(data) if info.isfile() else None)
    return path


def _member(name: str, data: bytes = b"", **fields: object) -> Member:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    for field, value in fields.items():
        setattr(info, field, value)
    if info.type != tarfile.REGTYPE:
        info.size = 0
    return info, data


def _blob(members: list[Member]) -> str:
    """The name of the document's original in the archive, ``files/<user>/<file>/original``."""
    [name] = [info.name for info, _ in members if info.name.endswith("/original")]
    return name


def _replace(name: str, new: Callable[[Member], list[Member]]) -> Callable[[list[Member]], list[Member]]:
    return lambda members: [out for member in members for out in (new(member) if member[0].name == name else [member])]


def _before_summary(*extra: Member) -> Callable[[list[Member]], list[Member]]:
    return lambda members: [*members[:-1], *extra, members[-1]]


def _manifest(**fields: object) -> Callable[[list[Member]], list[Member]]:
    body = json.dumps({"format": "parley-backup", "version": 1, **fields}).encode()
    return _replace("manifest.json", lambda _: [_member("manifest.json", body)])


def _at_blob(make: Callable[[str], Member]) -> Callable[[list[Member]], list[Member]]:
    return lambda members: _replace(_blob(members), lambda _: [make(_blob(members))])(members)


CASES: dict[str, tuple[Callable[[list[Member]], list[Member]], str]] = {
    "dot-dot member": (_before_summary(_member("files/../../escaped", b"x")), "not a Parley backup"),
    "absolute member": (_before_summary(_member("/tmp/escaped", b"x")), "not a Parley backup"),
    "pax path": (
        _before_summary(_member("files/a/b/original", b"x", pax_headers={"path": "../../escaped"})),
        "not a Parley backup",
    ),
    "symlink member": (
        _at_blob(lambda name: _member(name, type=tarfile.SYMTYPE, linkname="/etc/passwd")),
        "holds a link",
    ),
    "hardlink member": (_at_blob(lambda name: _member(name, type=tarfile.LNKTYPE, linkname="parley.db")), "a link"),
    "directory member": (_at_blob(lambda name: _member(name, type=tarfile.DIRTYPE)), "not a file"),
    "device member": (_at_blob(lambda name: _member(name, type=tarfile.CHRTYPE)), "not a file"),
    "file without a record": (
        _before_summary(_member("files/" + "0" * 32 + "/" + "1" * 32 + "/original", b"x")),
        "no record",
    ),
    "member twice": (lambda members: [*members[:-1], members[-2], members[-1]], "twice"),
    "summary that does not match": (
        _replace("summary.json", lambda _: [_member("summary.json", b'{"files": 9, "file_bytes": 1, "missing": []}')]),
        "not those its summary lists",
    ),
    "no summary": (lambda members: members[:-1], "cut short"),
    "after the summary": (lambda members: [*members, _member("files/x", b"x")], "follows"),
    "no manifest": (lambda members: members[1:], "does not start with manifest.json"),
    "another format": (_manifest(format="somebody-else"), "not a Parley backup"),
    "newer version": (_manifest(version=2), "newer version of Parley"),
    "database not sqlite": (
        _replace("parley.db", lambda _: [_member("parley.db", b"not a database at all" * 10)]),
        "its database is not an SQLite database",
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_a_hostile_or_damaged_archive_is_refused_and_nothing_is_replaced(settings, tmp_path, good, case):
    edit, error = CASES[case]
    bad = _write(tmp_path / "bad.parley", edit(good))
    _refused(settings, tmp_path, bad, error)


def test_a_member_claiming_more_bytes_than_the_archive_holds_is_refused_before_it_is_read(settings, tmp_path, good):
    huge = tarfile.TarInfo(_blob(good))
    huge.size = 2**40  # a terabyte, in a file of a few kilobytes
    bad = tmp_path / "bad.parley"
    bad.write_bytes(b"".join(_raw(info, data) for info, data in good[:2]) + _raw(huge, b"x" * 1000))
    _refused(settings, tmp_path, bad, "more than the archive holds")


def _raw(info: tarfile.TarInfo, data: bytes) -> bytes:
    """One member as tar lays it out: its header, then its data padded to whole blocks."""
    padding = -len(data) % tarfile.BLOCKSIZE
    return info.tobuf(tarfile.PAX_FORMAT) + data + bytes(padding)


@pytest.mark.parametrize("where", ["parley.db", "original"])
def test_an_archive_cut_short_is_refused(settings, tmp_path, good, where):
    whole = _write(tmp_path / "whole.parley", good)
    with tarfile.open(whole) as archive:
        [member] = [member for member in archive.getmembers() if member.name.endswith(where)]
    bad = tmp_path / "cut.parley"
    bad.write_bytes(whole.read_bytes()[: member.offset_data + 3])  # in the middle of that member's bytes
    _refused(settings, tmp_path, bad, "damaged")


def _refused(settings: Settings, tmp_path: Path, bad: Path, error: str) -> None:
    database = settings.database_path.read_bytes()
    files = sorted((str(p), p.read_bytes()) for p in settings.files_dir.rglob("*") if p.is_file())
    outside = sorted(os.listdir(tmp_path))
    with pytest.raises(InvalidInput, match=error) as refused:
        backup_for("sqlite").restore(settings, bad)
    assert str(bad) in refused.value.message  # it says which file
    assert settings.database_path.read_bytes() == database
    assert sorted((str(p), p.read_bytes()) for p in settings.files_dir.rglob("*") if p.is_file()) == files
    assert sorted(os.listdir(tmp_path)) == outside  # nothing escaped next to the data directory
    assert not list(tmp_path.rglob("escaped"))
    assert not [name for name in os.listdir(settings.data_dir) if name.startswith((".restore-", "files."))]


def test_a_restore_without_room_for_the_backup_refuses_before_it_unpacks(settings, tmp_path, good, monkeypatch):
    whole = _write(tmp_path / "whole.parley", good)
    usage = shutil.disk_usage(settings.data_dir)
    monkeypatch.setattr(shutil, "disk_usage", lambda _: usage._replace(free=whole.stat().st_size))
    _refused(settings, tmp_path, whole, "free bytes")
