"""What processing hands a file's content to, beyond extracting text: the image processor (an image is verified,
re-encoded and stripped of its metadata) and the document indexer (a document's text is cut into passages and
indexed for retrieval). Each home's composition root injects them into ``FileService``; these are their shapes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from parley.core.files.base import ExtractedDocument
from parley.errors import InvalidInput


@dataclass(frozen=True)
class PreparedImage:
    """An image as the model and the browser get it."""

    data: bytes
    media_type: str  # image/png, image/jpeg or image/webp
    width: int
    height: int


class ImageProcessor(Protocol):
    async def prepare(self, data: bytes, media_type: str) -> PreparedImage:
        """The image to keep, made from an upload sniffed as ``media_type``. Raises a ``ParleyError`` whose message
        says why when it cannot be used (not an image after all, too many pixels); the file then ends in ERROR
        with that message."""


class DocumentIndexer(Protocol):
    async def index(self, user_id: str, file_id: str, document: ExtractedDocument) -> int:
        """Index the document's passages for retrieval; returns how many there are."""

    async def delete(self, user_id: str, file_id: str) -> None:
        """Forget the document's passages (nothing happens when it has none)."""


class NoImages:
    """Where no image processor is installed: images are refused, with a message that says so."""

    async def prepare(self, data: bytes, media_type: str) -> PreparedImage:
        raise InvalidInput("This server does not take images.")


class NoPassages:
    """Where no passage index is installed: documents are read whole, never searched."""

    async def index(self, user_id: str, file_id: str, document: ExtractedDocument) -> int:
        return 0

    async def delete(self, user_id: str, file_id: str) -> None:
        return None
