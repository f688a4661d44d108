"""Reading a member of an uploaded zip without trusting what the zip says about itself.

A zip bomb declares small sizes or compresses absurdly well; both are refused before reading, and the bytes
actually inflated are counted as they are read, so a lying header is caught too.
"""

from __future__ import annotations

import io
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from parley.core.history.imported import ImportLimits
from parley.errors import InvalidInput

ZIP_MAGIC = b"PK\x03\x04"


def looks_like_zip(path: Path) -> bool:
    with path.open("rb") as file:
        return file.read(4) == ZIP_MAGIC


def member_names(path: Path, limits: ImportLimits) -> list[str]:
    """The names of the zip's files (not its folders); InvalidInput when it is not a zip or holds too many."""
    with _open_zip(path) as archive:
        infos = archive.infolist()
        if len(infos) > limits.max_zip_entries:
            raise InvalidInput(f"The zip holds more than {limits.max_zip_entries:,} files.")
        return [info.filename for info in infos if not info.is_dir()]


@contextmanager
def open_member(path: Path, name: str, limits: ImportLimits) -> Iterator[IO[bytes]]:
    """A binary stream of one member, inflated as it is read. Raises InvalidInput when the member would inflate
    past ``limits.max_uncompressed_bytes`` or by more than ``limits.max_compression_ratio``."""
    with open_archive(path, limits) as archive, archive.open_member(name) as member:
        yield member


class SafeZip:
    """An open zip whose members are read as ``open_member`` reads them; for a reader going through many members
    (the file stays open, so how far it has been read can be followed)."""

    def __init__(self, archive: zipfile.ZipFile, limits: ImportLimits) -> None:
        self._archive = archive
        self._limits = limits
        self.names = frozenset(info.filename for info in archive.infolist() if not info.is_dir())

    @contextmanager
    def open_member(self, name: str) -> Iterator[IO[bytes]]:
        try:
            info = self._archive.getinfo(name)
        except KeyError:
            raise InvalidInput(f"The zip has no file named {name!r}.") from None
        if info.flag_bits & 0x1:
            raise InvalidInput("The zip is encrypted.")
        _check_declared(info, self._limits)
        with self._archive.open(info) as member:
            yield io.BufferedReader(_Bounded(member, limit=_allowed_bytes(info, self._limits)), 64 * 1024)


@contextmanager
def open_archive(path: Path, limits: ImportLimits) -> Iterator[SafeZip]:
    with _open_zip(path) as archive:
        if len(archive.infolist()) > limits.max_zip_entries:
            raise InvalidInput(f"The zip holds more than {limits.max_zip_entries:,} files.")
        yield SafeZip(archive, limits)


def check_declared_sizes(archive: zipfile.ZipFile, limits: ImportLimits) -> None:
    """Refuse a zip before any member is inflated: too many members, an encrypted one, one that declares more than
    its share (``_allowed_bytes``), or all together more than ``limits.max_uncompressed_bytes``. Python's zip reader
    never inflates a member past its declared size, so what is declared bounds what is read."""
    infos = archive.infolist()
    if len(infos) > limits.max_zip_entries:
        raise InvalidInput(f"The zip holds more than {limits.max_zip_entries:,} files.")
    total = 0
    for info in infos:
        if info.flag_bits & 0x1:
            raise InvalidInput("The zip is encrypted.")
        _check_declared(info, limits)
        total += info.file_size
    if total > limits.max_uncompressed_bytes:
        raise InvalidInput("The zip would inflate to more than this server accepts (a zip bomb?).")


def _open_zip(path: Path) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as error:
        raise InvalidInput("The file is not a readable zip.") from error


def _allowed_bytes(info: zipfile.ZipInfo, limits: ImportLimits) -> int:
    by_ratio = max(info.compress_size, 1) * limits.max_compression_ratio
    return min(limits.max_uncompressed_bytes, max(by_ratio, 1024 * 1024))


def _check_declared(info: zipfile.ZipInfo, limits: ImportLimits) -> None:
    if info.file_size > _allowed_bytes(info, limits):
        raise InvalidInput(f"{info.filename} would inflate to more than this server accepts (a zip bomb?).")


class _Bounded(io.RawIOBase):
    """Passes reads through, counting the bytes; past ``limit`` it raises instead of inflating further."""

    def __init__(self, inner: IO[bytes], *, limit: int) -> None:
        self._inner = inner
        self._limit = limit
        self._read = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview | bytearray) -> int:  # type: ignore[override]
        try:
            data = self._inner.read(len(buffer))
        except (zipfile.BadZipFile, zlib.error, EOFError) as error:
            raise InvalidInput("The zip is damaged: a file in it cannot be read whole.") from error
        self._read += len(data)
        if self._read > self._limit:
            raise InvalidInput("A file in the zip inflates to more than this server accepts (a zip bomb?).")
        buffer[: len(data)] = data
        return len(data)
