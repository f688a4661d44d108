"""The file ``parley backup`` makes: one tar archive, written and read as a stream, never held in memory.

    manifest.json                      {"format": "parley-backup", "version": 1, ...}: what this file is
    parley.db                          the database, copied with SQLite's online backup
    files/<user_id>/<file_id>/<blob>   the bytes of the attached files the database has records of
    summary.json                       {"files": n, "file_bytes": n, "missing": [...]}: what came before it

The closing summary tells a whole archive from a cut one (a tar reader stops quietly at a damaged header).

A backup may come from anywhere, so reading one trusts nothing in it: every member must be a regular file with one
of the names above, in that order, once; a blob's name is made of the ids of a record in the archive's own database
(never ``..``, never an absolute path); links, directories and devices are refused; the sizes members claim must fit
in the archive itself. Members are written only by this module, to new private files under a staging directory;
tarfile's own ``extract`` is never called.
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import tarfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from parley import __version__
from parley.core.files.base import IMAGE, ORIGINAL, TEXT
from parley.core.private_files import FILE_MODE, private_directory
from parley.errors import InvalidInput

FORMAT = "parley-backup"
VERSION = 1
MANIFEST = "manifest.json"
DATABASE = "parley.db"
FILES = "files"
SUMMARY = "summary.json"
BLOB_NAMES = (ORIGINAL, TEXT, IMAGE)

_TAR_MAGIC_OFFSET = 257
_TAR_MAGIC = b"ustar"
_SMALL_MEMBER = 64 * 1024  # the manifest and the summary are a few hundred bytes
_CHUNK = 1024 * 1024
_ID_PATTERN = r"[A-Za-z0-9_-]{1,64}"  # ids as Parley makes them (uuid hex): never ".." nor empty
_ID = re.compile(rf"^{_ID_PATTERN}$")
_BLOB_MEMBER = re.compile(
    rf"^{FILES}/({_ID_PATTERN})/({_ID_PATTERN})/({'|'.join(re.escape(name) for name in BLOB_NAMES)})$"
)


@dataclass(frozen=True)
class Contents:
    """What an archive holds besides its database: attached files with content, their bytes, and the ids of files
    whose record came without (all of) their content."""

    files: int
    file_bytes: int
    missing: tuple[str, ...]


def is_archive(path: Path) -> bool:
    with path.open("rb") as file:
        file.seek(_TAR_MAGIC_OFFSET)
        return file.read(len(_TAR_MAGIC)) == _TAR_MAGIC


def blob_member(user_id: str, file_id: str, name: str) -> str:
    if not (_ID.match(user_id) and _ID.match(file_id)) or name not in BLOB_NAMES:
        raise ValueError(f"not a blob: {user_id}/{file_id}/{name}")
    return f"{FILES}/{user_id}/{file_id}/{name}"


class ArchiveWriter:
    """Writes an archive to ``out`` member by member (tar's stream mode: nothing is seeked or kept)."""

    def __init__(self, out: IO[bytes]) -> None:
        self._tar = tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT)  # noqa: SIM115 - closed in close()
        manifest = {"format": FORMAT, "version": VERSION, "created_at": time.time(), "parley": __version__}
        self._add_json(MANIFEST, manifest)

    def add_database(self, path: Path) -> None:
        with path.open("rb") as file:
            self._add(DATABASE, file)

    def add_blob(self, user_id: str, file_id: str, name: str, path: Path) -> int | None:
        """Add one blob; its size, or None when it is not there (deleted since the database was copied)."""
        try:
            file = path.open("rb")
        except FileNotFoundError:
            return None
        with file:  # open, the blob is this one even if it is replaced or deleted now
            return self._add(blob_member(user_id, file_id, name), file)

    def close(self, contents: Contents) -> None:
        self._add_json(
            SUMMARY,
            {"files": contents.files, "file_bytes": contents.file_bytes, "missing": list(contents.missing)},
        )
        self._tar.close()

    def _add(self, name: str, file: IO[bytes]) -> int:
        status = os.fstat(file.fileno())
        info = _member_info(name, status.st_size, status.st_mtime)
        self._tar.addfile(info, file)
        return info.size

    def _add_json(self, name: str, value: dict[str, Any]) -> None:
        data = json.dumps(value).encode()
        info = _member_info(name, len(data), time.time())
        self._tar.addfile(info, io.BytesIO(data))


def _member_info(name: str, size: int, mtime: float) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode, info.type = size, int(mtime), FILE_MODE, tarfile.REGTYPE
    return info


def read_archive(source: Path, staging: Path, check_database: Callable[[Path], set[tuple[str, str]]]) -> Contents:
    """Unpack the archive ``source`` into the empty private directory ``staging`` (``parley.db`` and ``files/``),
    checking everything; InvalidInput, saying what is wrong, for anything but a whole archive Parley made.
    ``check_database`` checks the unpacked database and returns the (user id, file id) of its files: the only blobs
    the archive may hold."""
    try:
        with tarfile.open(source, mode="r:") as tar:
            return _Reader(source, tar, staging, check_database).read()
    except tarfile.TarError as error:
        raise InvalidInput(f"{source} is damaged ({error}).") from None


class _Reader:
    def __init__(
        self,
        source: Path,
        tar: tarfile.TarFile,
        staging: Path,
        check_database: Callable[[Path], set[tuple[str, str]]],
    ) -> None:
        self._source, self._tar, self._staging, self._check_database = source, tar, staging, check_database
        self._room = source.stat().st_size  # what members may still claim: no more than the archive holds
        self._seen: set[str] = set()

    def read(self) -> Contents:
        members = iter(self._tar)
        manifest = self._json(self._next(members, "it is empty"))
        if manifest.get("format") != FORMAT or not isinstance(manifest.get("version"), int):
            raise InvalidInput(f"{self._source} is not a Parley backup.")
        if manifest["version"] > VERSION:
            raise InvalidInput(f"{self._source} was made by a newer version of Parley; upgrade Parley to restore it.")
        database = self._next(members, "it has no database")
        if database.name != DATABASE:
            raise self._damaged(f"{DATABASE} should follow {MANIFEST}, not {database.name!r}")
        self._write(database, self._staging / DATABASE)
        files = self._check_database(self._staging / DATABASE)
        with_content: set[tuple[str, str]] = set()
        file_bytes = 0
        for member in members:
            if member.name == SUMMARY:
                return self._close(member, members, Contents(len(with_content), file_bytes, ()))
            found = _BLOB_MEMBER.match(member.name)
            if found is None:
                raise InvalidInput(f"{self._source} is not a Parley backup (it holds {member.name!r}).")
            user_id, file_id, name = found.groups()
            if (user_id, file_id) not in files:
                raise self._damaged("it holds content of a file its database has no record of")
            directory = self._staging / FILES / user_id / file_id
            for level in (self._staging / FILES, self._staging / FILES / user_id, directory):
                private_directory(level)
            file_bytes += self._write(member, directory / name)
            with_content.add((user_id, file_id))
        raise self._damaged("it ends before its summary: the copy was cut short")

    def _close(self, member: tarfile.TarInfo, rest: Iterator[tarfile.TarInfo], found: Contents) -> Contents:
        summary = self._json(member)
        if next(rest, None) is not None:
            raise self._damaged(f"something follows {SUMMARY}")
        missing = summary.get("missing")
        if (summary.get("files"), summary.get("file_bytes")) != (found.files, found.file_bytes) or not (
            isinstance(missing, list) and all(isinstance(item, str) for item in missing)
        ):
            raise self._damaged("its files are not those its summary lists")
        return Contents(found.files, found.file_bytes, tuple(missing))

    def _next(self, members: Iterator[tarfile.TarInfo], why: str) -> tarfile.TarInfo:
        member = next(members, None)
        if member is None:
            raise InvalidInput(f"{self._source} is not a Parley backup ({why}).")
        return member

    def _check(self, member: tarfile.TarInfo, limit: int | None = None) -> None:
        if member.issym() or member.islnk():
            raise InvalidInput(f"{self._source} is not a Parley backup (it holds a link, {member.name!r}).")
        if member.type not in (tarfile.REGTYPE, tarfile.AREGTYPE) or member.issparse():
            raise InvalidInput(f"{self._source} is not a Parley backup (it holds {member.name!r}, not a file).")
        if member.name in self._seen:
            raise self._damaged(f"it holds {member.name!r} twice")
        self._seen.add(member.name)
        if member.size > self._room or (limit is not None and member.size > limit):
            raise self._damaged(f"{member.name!r} claims {member.size:,} bytes, more than the archive holds")
        self._room -= member.size

    def _json(self, member: tarfile.TarInfo) -> dict[str, Any]:
        if member.name not in (MANIFEST, SUMMARY):
            raise InvalidInput(f"{self._source} is not a Parley backup (it does not start with {MANIFEST}).")
        self._check(member, limit=_SMALL_MEMBER)
        data = self._extract(member).read(member.size)
        try:
            value = json.loads(data)
        except ValueError:
            value = None
        if not isinstance(value, dict):
            raise self._damaged(f"{member.name} is not readable")
        return value

    def _write(self, member: tarfile.TarInfo, path: Path) -> int:
        """Copy a member into the new file ``path`` (private, never through a link), in chunks."""
        self._check(member)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, FILE_MODE)
        os.fchmod(fd, FILE_MODE)
        with os.fdopen(fd, "wb") as out:
            shutil.copyfileobj(self._extract(member), out, _CHUNK)
            written = out.tell()
        if written != member.size:
            raise self._damaged(f"{member.name!r} is cut short")
        return written

    def _extract(self, member: tarfile.TarInfo) -> IO[bytes]:
        file = self._tar.extractfile(member)
        if file is None:  # not a regular file: _check refused it already
            raise self._damaged(f"{member.name!r} cannot be read")
        return file

    def _damaged(self, why: str) -> InvalidInput:
        return InvalidInput(f"{self._source} is damaged ({why}).")
