"""What processing hands a document's text to beyond extracting it: the indexer, which cuts it into passages and
indexes them for retrieval. (Images go to an ``ImageProcessor``, ``core/files/images.py``.) Each home's composition
root injects both into ``FileService``."""

from __future__ import annotations

from typing import Protocol

from parley.core.files.base import ExtractedDocument


class DocumentIndexer(Protocol):
    async def index(self, user_id: str, file_id: str, document: ExtractedDocument) -> int:
        """Index the document's passages for retrieval; returns how many there are."""

    async def delete(self, user_id: str, file_id: str) -> None:
        """Forget the document's passages (nothing happens when it has none)."""
