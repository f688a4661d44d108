"""The records and small interfaces of attached files, shared by the upload path, the extraction worker, retrieval
and the chat turn. Stores and blob stores implement these per home (SQLite and a directory locally; DynamoDB and S3
on AWS); the core only sees the protocols.

A file's life: ``create`` (status UPLOADING: a record and a place for the bytes), the bytes arrive (a local
multipart upload, or a presigned POST straight to S3), ``process`` sniffs the type, extracts the text or re-encodes
the image, indexes the passages, and marks it READY, or ERROR with a reason a person can act on.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol


class FileStatus(StrEnum):
    UPLOADING = "uploading"  # the record exists; its bytes have not all arrived
    PROCESSING = "processing"  # the bytes are in; text is being extracted and indexed
    READY = "ready"  # may be attached to a prompt
    ERROR = "error"  # cannot be used; ``error`` says why


class FileKind(StrEnum):
    DOCUMENT = "document"  # its text goes to the model
    IMAGE = "image"  # the model sees it (only models that can)


@dataclass(frozen=True)
class StoredFile:
    """One uploaded file, as its owner sees it. ``media_type`` and ``kind`` are sniffed from the content (never
    from the name) and are empty until processing knows them."""

    id: str  # 32 hex characters
    user_id: str
    name: str  # the name the user gave, cleaned for display
    size: int  # bytes of the original
    status: FileStatus
    created_at: float
    updated_at: float
    media_type: str = ""
    kind: FileKind | None = None
    error: str | None = None
    text_chars: int = 0  # characters of extracted text (documents)
    passages: int = 0  # passages indexed for retrieval (documents)
    width: int | None = None  # pixels of the re-encoded image (images)
    height: int | None = None
    text_truncated: bool = False  # the text was longer than ``FileLimits.max_text_chars``: only its start is kept


@dataclass(frozen=True)
class FileLimits:
    max_file_bytes: int = 25 * 1024 * 1024
    max_user_bytes: int = 500 * 1024 * 1024
    max_user_files: int = 1000
    max_attachments: int = 10  # per prompt
    extract_seconds: float = 60.0  # a file whose text takes longer is refused (a parser bomb)
    max_text_chars: int = 5_000_000  # extracted text beyond this is cut, and the file says so
    extract_memory_bytes: int = 1024 * 1024 * 1024  # address space of the extraction process (a parser bomb)


@dataclass(frozen=True)
class ExtractedDocument:
    """A document's text, and where each page starts in it (character offsets; empty when it has no pages)."""

    text: str
    page_starts: tuple[int, ...] = ()

    def page_at(self, offset: int) -> int | None:
        """The 1-based page holding ``offset``; None for a document without pages."""
        page = None
        for number, start in enumerate(self.page_starts, start=1):
            if start > offset:
                break
            page = number
        return page


def document_to_bytes(document: ExtractedDocument) -> bytes:
    """How a document's extracted text is kept (its ``text`` blob)."""
    return json.dumps({"text": document.text, "page_starts": document.page_starts}, ensure_ascii=False).encode()


def document_from_bytes(data: bytes) -> ExtractedDocument:
    raw = json.loads(data)
    return ExtractedDocument(raw["text"], tuple(raw["page_starts"]))


@dataclass(frozen=True)
class Passage:
    """A piece of a document's text, the unit retrieval ranks and a citation points at."""

    file_id: str
    index: int  # 0-based position in the document
    text: str
    start: int  # character offsets in the extracted text
    end: int
    page: int | None = None


@dataclass(frozen=True)
class PassageHit:
    passage: Passage
    score: float


@dataclass(frozen=True)
class Citation:
    """A passage an answer was given to read: shown under the answer, opened by the user."""

    file_id: str
    file_name: str
    passage_index: int
    text: str  # the passage, as the model read it
    page: int | None = None


class FileStore(Protocol):
    """Users' file records; another user's file is missing (None / False)."""

    async def create_file(self, user_id: str, name: str, size: int, *, now: float | None = None) -> StoredFile:
        """A new record in UPLOADING, made at ``now`` (by default the time it is)."""

    async def get_file(self, user_id: str, file_id: str) -> StoredFile | None: ...

    async def list_files(self, user_id: str) -> list[StoredFile]:
        """Newest first."""

    async def save_file(self, file: StoredFile) -> None:
        """Write a record's status and what processing learned (only the file's processor writes it); a record
        deleted meanwhile stays deleted."""

    async def delete_file(self, user_id: str, file_id: str) -> bool: ...


class FileBlobs(Protocol):
    """The bytes of files: the original, and what processing makes of it (the extracted text, the re-encoded
    image). Keys are ``<user_id>/<file_id>/<name>``; the blob store never sees a path the user chose."""

    async def put(self, key: str, data: bytes) -> None: ...

    async def get(self, key: str) -> bytes | None: ...

    async def size(self, key: str) -> int | None:
        """Bytes stored under ``key``; None when nothing is."""

    async def delete_prefix(self, prefix: str) -> None:
        """Remove every blob under ``prefix`` (a file's, or a user's)."""


class PassageIndex(Protocol):
    """Passages of a user's documents, indexed once when the file is processed, searched per prompt."""

    async def add_document(
        self, user_id: str, file_id: str, passages: Sequence[Passage], vectors: Sequence[Sequence[float]] | None
    ) -> None:
        """Index a document's passages (and their embeddings, when an embedding model is configured)."""

    async def passages(self, user_id: str, file_id: str) -> list[Passage]:
        """Every passage of a document, in order."""

    async def search(
        self,
        user_id: str,
        file_ids: Sequence[str],
        query: str,
        limit: int,
        query_vector: Sequence[float] | None = None,
    ) -> list[PassageHit]:
        """The best passages of these documents for ``query``, best first (keywords; fused with vectors when
        both sides have them)."""

    async def delete_document(self, user_id: str, file_id: str) -> None: ...


def blob_key(user_id: str, file_id: str, name: str) -> str:
    return f"{user_id}/{file_id}/{name}"


ORIGINAL = "original"  # the bytes as uploaded
TEXT = "text.json"  # the ExtractedDocument, as JSON
IMAGE = "image"  # the re-encoded image the model and the browser get
