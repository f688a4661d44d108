"""Uploads (a file to import, a file to attach): a multipart body streamed straight to a private file under the
data directory, its ``file`` field only, refused (413) as soon as it passes the cap. Never held in memory, never in
the system temp dir.

These routes are the only ones that accept big bodies; ``UPLOAD_PATH`` is how the body-size middleware and the
HTTP protocol's read deadline recognise them (``FILE_UPLOAD_PATH`` the attached files', which have their own cap).
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import ClientDisconnect, Request

from parley.core.private_files import private_directory, private_file
from parley.errors import InvalidInput, TooLarge

FILE_UPLOAD_PATH = re.compile(r"^/api/files(/[0-9a-f]{32}/content)?$")
UPLOAD_PATH = re.compile(rf"^/api/imports(/[0-9a-f]{{32}}/file)?$|{FILE_UPLOAD_PATH.pattern}")
FILE_FIELD = "file"
# What a multipart body adds around the file (boundaries, part headers) is allowed on top of the file's cap.
MULTIPART_OVERHEAD = 64 * 1024
_MAX_FILE_NAME = 200
SPOOL_SUFFIX = ".upload"  # a spooled body's file name: <random hex>.upload (server/recovery.py removes stale ones)


# The OpenAPI description of an upload route's body (``openapi_extra``): multipart, one file in the field ``file``.
MULTIPART_FILE_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": [FILE_FIELD],
                    "properties": {FILE_FIELD: {"type": "string", "format": "binary"}},
                }
            }
        },
    }
}


def too_large_message(max_bytes: int) -> str:
    return f"The file is larger than this server accepts ({max_bytes / (1024 * 1024):g} MB)."


def is_upload(method: str, path: str) -> bool:
    return method == "POST" and UPLOAD_PATH.match(path) is not None


def is_file_upload(method: str, path: str) -> bool:
    return method == "POST" and FILE_UPLOAD_PATH.match(path) is not None


@dataclass(frozen=True)
class SpooledUpload:
    path: Path
    file_name: str
    size: int


class _Part:
    def __init__(self) -> None:
        self.header_name = b""
        self.header_value = b""
        self.disposition = b""


async def spool_upload(request: Request, directory: Path, max_bytes: int) -> SpooledUpload:
    """Write the body's ``file`` field to a new private file in ``directory``; TooLarge past ``max_bytes``,
    InvalidInput for a body that is not multipart or has no such field. On any failure nothing is left on disk."""
    _, options = parse_options_header(request.headers.get("content-type"))
    boundary = options.get(b"boundary")
    if not boundary:
        raise InvalidInput("Send the file as multipart/form-data, in a field named 'file'.")
    await asyncio.to_thread(private_directory, directory)
    target = directory / f"{uuid.uuid4().hex}{SPOOL_SUFFIX}"
    out: IO[bytes] = await asyncio.to_thread(_create_private, target)
    state = _Spooling(max_bytes)
    try:
        parser = MultipartParser(
            boundary,
            {
                "on_part_begin": state.part_begin,
                "on_header_field": state.header_field,
                "on_header_value": state.header_value,
                "on_header_end": state.header_end,
                "on_headers_finished": state.headers_finished,
                "on_part_data": state.part_data,
                "on_part_end": state.part_end,
            },
        )
        async for chunk in request.stream():
            parser.write(chunk)
            if state.pending:
                await asyncio.to_thread(out.writelines, state.take())
        parser.finalize()
        if not state.found:
            raise InvalidInput("The upload has no field named 'file'.")
        await asyncio.to_thread(out.close)
        return SpooledUpload(path=target, file_name=state.file_name, size=state.size)
    except BaseException as error:
        await asyncio.shield(asyncio.to_thread(_discard, out, target))
        if isinstance(error, FormParserError):
            raise InvalidInput("The upload is not valid multipart/form-data.") from None
        if isinstance(error, ClientDisconnect):
            raise InvalidInput("The upload was cut off before it ended.") from None
        raise


class _Spooling:
    """The parser's callbacks: headers of each part, and the bytes of the ``file`` field held until written."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.part = _Part()
        self.in_file = False
        self.found = False
        self.file_name = "upload"
        self.size = 0
        self.pending: list[bytes] = []

    def part_begin(self) -> None:
        self.part = _Part()
        self.in_file = False

    def header_field(self, data: bytes, start: int, end: int) -> None:
        self.part.header_name += data[start:end]

    def header_value(self, data: bytes, start: int, end: int) -> None:
        self.part.header_value += data[start:end]

    def header_end(self) -> None:
        if self.part.header_name.lower() == b"content-disposition":
            self.part.disposition = self.part.header_value
        self.part.header_name = self.part.header_value = b""

    def headers_finished(self) -> None:
        _, options = parse_options_header(self.part.disposition)
        if options.get(b"name") == FILE_FIELD.encode() and not self.found:
            self.in_file = self.found = True
            raw_name = options.get(b"filename", b"upload").decode("utf-8", "replace")
            self.file_name = Path(raw_name.replace("\\", "/")).name[:_MAX_FILE_NAME] or "upload"

    def part_data(self, data: bytes, start: int, end: int) -> None:
        if not self.in_file:
            return
        self.size += end - start
        if self.size > self.max_bytes:
            raise TooLarge(too_large_message(self.max_bytes))
        self.pending.append(bytes(data[start:end]))

    def part_end(self) -> None:
        self.in_file = False

    def take(self) -> list[bytes]:
        taken, self.pending = self.pending, []
        return taken


def _create_private(target: Path) -> IO[bytes]:
    private_file(target)
    return target.open("wb")


def _discard(out: IO[bytes], target: Path) -> None:
    out.close()
    with contextlib.suppress(FileNotFoundError):
        target.unlink()
