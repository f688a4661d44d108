"""Attached files: the upload, the processing that makes a file usable in a prompt, and what its owner can do with
it (list, read, download, delete). The same on both homes; only the store, the blobs and how the bytes arrive
differ (``server/file_transfer.py``).

``process`` is the one way a file becomes READY or ERROR: the local server calls it in a background task once an
upload is in, the serverless file worker on the bucket's event. It reads the original, learns its type from its
bytes in the extraction process (``sandbox``), then hands a document's text to the indexer and an image to the
image processor.
"""

from __future__ import annotations

import asyncio
import builtins
import dataclasses
import logging
import time
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from parley.core.files import sniff
from parley.core.files.base import (
    IMAGE,
    ORIGINAL,
    TEXT,
    ExtractedDocument,
    FileBlobs,
    FileKind,
    FileLimits,
    FileStatus,
    FileStore,
    StoredFile,
    blob_key,
    document_from_bytes,
    document_to_bytes,
)
from parley.core.files.extract import Problem
from parley.core.files.hooks import DocumentIndexer
from parley.core.files.images import ImageProcessor
from parley.core.files.sandbox import Extraction, TextExtractor
from parley.errors import Conflict, InvalidInput, NotFound, ParleyError, TooLarge

log = logging.getLogger(__name__)

MAX_NAME_CHARS = 200
# Originals served as themselves when downloaded; anything else (HTML, SVG, an unknown binary) goes out as bytes
# to save, never as a type a browser would render.
_DOWNLOAD_TYPES = frozenset({sniff.PDF, sniff.DOCX, sniff.PPTX, sniff.XLSX, *sniff.TEXT_TYPES} - {sniff.XML})
_OCTETS = "application/octet-stream"

# Deadlines after which a file's upload or processing is taken to have died with the process that ran it (a server
# stopped, a worker out of memory, a browser closed), the same on both homes. Enforced when the owner's files are
# read (nothing runs at idle to find them) and, locally, when the server starts.
#
# An upload's bytes arrive within this of its start or never: a presigned POST lives 15 minutes, and the bucket's
# event for it may wait up to an hour for a file worker (FILE_WORKER_QUEUE_AGE). An UPLOADING file older than this is
# removed, with any bytes it got, so it stops counting against its owner's space.
UPLOAD_WINDOW_SECONDS = 2 * 3600.0
# Processing ends well within this of its last step: extraction is stopped after a minute, the serverless worker
# after five (FILE_WORKER_TIMEOUT_SECONDS). A file PROCESSING for longer was cut short: it ends ERROR and its bytes
# are removed (it takes none of its owner's space; they upload it again).
PROCESSING_WINDOW_SECONDS = 30 * 60.0
UNFINISHED = "Processing did not finish; upload the file again."


def clean_name(name: str) -> str:
    """A name to show: its last path segment, printable characters only (no control or direction marks), no
    leading dots, at most ``MAX_NAME_CHARS``. Names are only ever shown: no path is ever made of one."""
    name = unicodedata.normalize("NFC", name).replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(char for char in name if char.isprintable()).strip().lstrip(".").strip()
    return name[:MAX_NAME_CHARS].strip() or "file"


def megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):g} MB"


def file_too_large(limits: FileLimits) -> str:
    return f"The file is larger than this server accepts ({megabytes(limits.max_file_bytes)})."


@dataclass(frozen=True)
class FileContent:
    """Bytes to send the owner: an image to show (``inline``), or an original to save."""

    data: bytes
    media_type: str
    name: str
    inline: bool


class FileService:
    def __init__(
        self,
        store: FileStore,
        blobs: FileBlobs,
        *,
        limits: FileLimits,
        extractor: TextExtractor,
        images: ImageProcessor,
        indexer: DocumentIndexer,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._blobs = blobs
        self.limits = limits
        self._extractor = extractor
        self._images = images
        self._indexer = indexer
        self._clock = clock

    # The upload

    async def start_upload(self, user_id: str, name: str, size: int) -> StoredFile:
        """A new file, UPLOADING, once its declared ``size`` passes the limits: TooLarge past the per-file limit
        or the user's space, Conflict when the user has as many files as are kept."""
        if size < 0:
            raise InvalidInput("A file's size is a number of bytes.")
        if size > self.limits.max_file_bytes:
            raise TooLarge(file_too_large(self.limits))
        await self.check_room(user_id, size)
        return await self._store.create_file(user_id, clean_name(name), size, now=self._clock())

    async def check_room(self, user_id: str, size: int = 1) -> None:
        """Whether the user may add a file of ``size`` bytes: Conflict at the most files, TooLarge past their space.
        (A one-step upload asks before it reads a byte, with the smallest size.)"""
        count, used = await self._totals(user_id)
        if count >= self.limits.max_user_files:
            raise Conflict(f"You have {count:,} files, as many as this server keeps. Delete some first.")
        self._check_space(used + size)

    async def receive(self, user_id: str, file_id: str, path: Path) -> StoredFile:
        """The bytes of an UPLOADING file, spooled at ``path`` (this server's uploads): kept as its original, and
        the file is PROCESSING (the caller starts ``process``). TooLarge when they pass a limit after all."""
        file = await self._owned(user_id, file_id)
        if file.status is not FileStatus.UPLOADING:
            raise Conflict("This file has its content already.")
        size = (await asyncio.to_thread(path.stat)).st_size
        try:
            if size > self.limits.max_file_bytes:
                raise TooLarge(file_too_large(self.limits))
            _, used = await self._totals(user_id)
            self._check_space(used - file.size + size)
        except TooLarge as refused:
            await self._fail(dataclasses.replace(file, size=size), refused.message)
            raise
        data = await asyncio.to_thread(path.read_bytes)
        await self._blobs.put(blob_key(user_id, file_id, ORIGINAL), data)
        file = dataclasses.replace(file, size=size, status=FileStatus.PROCESSING, updated_at=self._clock())
        await self._store.save_file(file)
        return file

    async def upload(self, user_id: str, name: str, path: Path) -> StoredFile:
        """Both steps at once: a new file with the bytes spooled at ``path``."""
        size = (await asyncio.to_thread(path.stat)).st_size
        file = await self.start_upload(user_id, name, size)
        return await self.receive(user_id, file.id, path)

    async def _totals(self, user_id: str) -> tuple[int, int]:
        """(files, bytes) the user has stored, once files past their deadline are settled."""
        files = await self.list(user_id)
        return len(files), sum(file.size for file in files)

    def _check_space(self, total: int) -> None:
        if total > self.limits.max_user_bytes:
            raise TooLarge(
                f"This file would take your files past the {megabytes(self.limits.max_user_bytes)} this server "
                "keeps for you. Delete some files first."
            )

    # Processing

    async def process(self, user_id: str, file_id: str) -> StoredFile | None:
        """Make the file READY, or ERROR with a reason its owner can act on. A file already READY or ERROR is left
        as it is (an event delivered twice); None when there is no such file (deleted meanwhile)."""
        file = await self._store.get_file(user_id, file_id)
        if file is None or file.status in (FileStatus.READY, FileStatus.ERROR):
            return file
        original = blob_key(user_id, file_id, ORIGINAL)
        size = await self._blobs.size(original)
        if size is None:
            return file  # its bytes have not arrived: nothing to process yet
        if size > self.limits.max_file_bytes:  # a bucket that was not told the limit
            await self._blobs.delete_prefix(f"{user_id}/{file_id}")
            return await self._fail(dataclasses.replace(file, size=size), file_too_large(self.limits))
        file = dataclasses.replace(file, size=size, status=FileStatus.PROCESSING, updated_at=self._clock())
        await self._store.save_file(file)
        data = await self._blobs.get(original)
        if data is None:
            return await self._fail(file, "The file's content went missing before it could be read. Upload it again.")
        try:
            extraction = await self._extractor.extract(data)
            file = dataclasses.replace(file, media_type=extraction.media_type, kind=extraction.kind)
            finished = await self._finish(file, data, extraction)
        except ParleyError as refused:
            finished = await self._fail(file, refused.message)
        except Exception:
            log.exception("file %s could not be processed", file_id)
            finished = await self._fail(file, "The file could not be processed.")
        if await self._store.get_file(user_id, file_id) is None:  # deleted while it was processed
            await self._forget(user_id, file_id)
            return None
        return finished

    async def _finish(self, file: StoredFile, data: bytes, extraction: Extraction) -> StoredFile:
        if extraction.problem is not None:
            return await self._fail(file, extraction.problem.message(seconds=self.limits.extract_seconds))
        if extraction.kind is FileKind.IMAGE:
            image = await self._images.prepare(data, extraction.media_type)
            await self._blobs.put(blob_key(file.user_id, file.id, IMAGE), image.data)
            return await self._save(
                dataclasses.replace(
                    file,
                    status=FileStatus.READY,
                    media_type=image.media_type,
                    width=image.width,
                    height=image.height,
                )
            )
        if extraction.document is None:
            return await self._fail(file, Problem.UNSUPPORTED.message())
        document = extraction.document
        await self._blobs.put(blob_key(file.user_id, file.id, TEXT), document_to_bytes(document))
        passages = await self._indexer.index(file.user_id, file.id, document)
        return await self._save(
            dataclasses.replace(
                file,
                status=FileStatus.READY,
                text_chars=len(document.text),
                passages=passages,
                text_truncated=extraction.truncated,
            )
        )

    async def _fail(self, file: StoredFile, reason: str) -> StoredFile:
        return await self._save(dataclasses.replace(file, status=FileStatus.ERROR, error=reason))

    async def _save(self, file: StoredFile) -> StoredFile:
        file = dataclasses.replace(file, updated_at=self._clock())
        await self._store.save_file(file)
        return file

    # What the owner does with files

    async def list(self, user_id: str) -> list[StoredFile]:
        """Newest first."""
        files = [await self._settled(file) for file in await self._store.list_files(user_id)]
        return [file for file in files if file is not None]

    async def get(self, user_id: str, file_id: str) -> StoredFile:
        return await self._owned(user_id, file_id)

    async def document(self, user_id: str, file_id: str) -> ExtractedDocument | None:
        """A READY document's text; None for anything else."""
        file = await self._store.get_file(user_id, file_id)
        if file is None or file.status is not FileStatus.READY or file.kind is not FileKind.DOCUMENT:
            return None
        data = await self._blobs.get(blob_key(user_id, file_id, TEXT))
        return None if data is None else document_from_bytes(data)

    async def content(self, user_id: str, file_id: str) -> FileContent:
        """A READY image as the model sees it (shown inline), or a file's original to download, in a type no
        browser renders as a page."""
        file = await self._owned(user_id, file_id)
        if file.kind is FileKind.IMAGE and file.status is FileStatus.READY:
            data = await self._blobs.get(blob_key(user_id, file_id, IMAGE))
            if data is not None:
                return FileContent(data, file.media_type, file.name, inline=True)
        elif file.kind is not FileKind.IMAGE:
            data = await self._blobs.get(blob_key(user_id, file_id, ORIGINAL))
            if data is not None:
                media_type = file.media_type if file.media_type in _DOWNLOAD_TYPES else _OCTETS
                return FileContent(data, media_type, file.name, inline=False)
        raise NotFound("This file has no content to show.")

    async def delete(self, user_id: str, file_id: str) -> None:
        """The record first (the file is gone for its owner at once), then its passages and blobs."""
        if not await self._store.delete_file(user_id, file_id):
            raise NotFound("File not found.")
        await self._forget(user_id, file_id)

    async def delete_user_files(self, user_id: str) -> None:
        """Every file of a user who is being removed: records, passages and blobs."""
        for file in await self._store.list_files(user_id):
            await self._store.delete_file(user_id, file.id)
            await self._indexer.delete(user_id, file.id)
        await self._blobs.delete_prefix(user_id)

    async def _forget(self, user_id: str, file_id: str) -> None:
        await self._indexer.delete(user_id, file_id)
        await self._blobs.delete_prefix(f"{user_id}/{file_id}")

    async def _owned(self, user_id: str, file_id: str) -> StoredFile:
        file = await self._store.get_file(user_id, file_id)
        if file is not None:
            file = await self._settled(file)
        if file is None:
            raise NotFound("File not found.")
        return file

    # Files whose upload or processing died

    async def _settled(self, file: StoredFile) -> StoredFile | None:
        """The file as its owner sees it once its deadline is applied: an upload abandoned past its window is
        removed (None); a file PROCESSING past its window is ERROR and keeps no bytes."""
        now = self._clock()
        if file.status is FileStatus.UPLOADING and now - file.created_at > UPLOAD_WINDOW_SECONDS:
            await self._store.delete_file(file.user_id, file.id)
            await self._forget(file.user_id, file.id)
            return None
        if file.status is FileStatus.PROCESSING and now - file.updated_at > PROCESSING_WINDOW_SECONDS:
            log.warning("file %s did not finish processing in time", file.id)
            await self._forget(file.user_id, file.id)
            return await self._fail(dataclasses.replace(file, size=0), UNFINISHED)
        return file

    async def resume_interrupted(self, user_id: str) -> builtins.list[StoredFile]:
        """At a local server's start, the user's files the server left behind when it stopped: abandoned uploads
        are removed, and the files it was processing (their originals are kept) are stamped as starting now and
        returned, for the caller to process again."""
        resumed = []
        for file in await self._store.list_files(user_id):
            if file.status is FileStatus.PROCESSING:  # before its deadline is applied: its bytes are here
                resumed.append(await self._save(file))
            else:
                await self._settled(file)
        return resumed
