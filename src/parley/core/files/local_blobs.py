"""The local home's ``FileBlobs``: a private directory under the data directory, ``<root>/<user>/<file>/<name>``.

Keys are made of ids (``blob_key``), never of a name a user chose; each segment is checked all the same, so no key
can point outside the root. Directories are 0700 and files 0600 whatever the umask; a blob is written to a
temporary file and renamed into place, so a reader never sees half of one.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
import uuid
from pathlib import Path

from parley.core.private_files import FILE_MODE, private_directory

_SEGMENT = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,127}$")


class LocalFileBlobs:
    def __init__(self, root: Path) -> None:
        self._root = root

    async def put(self, key: str, data: bytes) -> None:
        await asyncio.to_thread(self._put, self._path(key), data)

    async def get(self, key: str) -> bytes | None:
        try:
            return await asyncio.to_thread(self._path(key).read_bytes)
        except FileNotFoundError:
            return None

    async def size(self, key: str) -> int | None:
        try:
            return (await asyncio.to_thread(self._path(key).stat)).st_size
        except FileNotFoundError:
            return None

    async def delete_prefix(self, prefix: str) -> None:
        """``prefix`` is whole segments (a user, or a user's file): ``u1`` never takes ``u10`` with it."""
        await asyncio.to_thread(shutil.rmtree, self._path(prefix.strip("/")), ignore_errors=True)

    def _path(self, key: str) -> Path:
        segments = key.split("/")
        if not all(_SEGMENT.match(segment) for segment in segments):
            raise ValueError(f"not a blob key: {key!r}")
        return self._root.joinpath(*segments)

    def _put(self, path: Path, data: bytes) -> None:
        private_directory(self._root)
        directory = self._root
        for segment in path.relative_to(self._root).parts[:-1]:
            directory = directory / segment
            private_directory(directory)
        temporary = path.with_name(f".{uuid.uuid4().hex}.partial")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
        try:
            os.fchmod(fd, FILE_MODE)
            with os.fdopen(fd, "wb") as out:
                out.write(data)
            os.replace(temporary, path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                temporary.unlink()
            raise
