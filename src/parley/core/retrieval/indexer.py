"""What file processing hands a document's extracted text to: ``DocumentIndexer.index`` cuts it into passages,
embeds them when an embedding model is configured, and writes them to the passage index, once, at upload (a query
never rebuilds anything). ``delete`` forgets them. The files service is given one by each home's composition root
(``parley.core.files.hooks.DocumentIndexer`` is the shape it expects)."""

from __future__ import annotations

import asyncio
import logging

from parley.core.files.base import ExtractedDocument, PassageIndex
from parley.core.retrieval.chunking import ChunkSizes, chunk_document
from parley.core.retrieval.embeddings import Embedder
from parley.errors import ProviderError

log = logging.getLogger(__name__)


class DocumentIndexer:
    def __init__(self, passages: PassageIndex, embedder: Embedder | None = None, sizes: ChunkSizes | None = None):
        self._passages = passages
        self._embedder = embedder
        self._sizes = sizes or ChunkSizes()

    async def index(self, user_id: str, file_id: str, document: ExtractedDocument) -> int:
        """Index the document's passages (replacing any it had); returns how many there are. When the embedding
        model fails, the document is indexed for keywords alone (logged), rather than not at all."""
        passages = await asyncio.to_thread(chunk_document, file_id, document, self._sizes)
        vectors = None
        if self._embedder is not None and passages:
            try:
                vectors = await self._embedder.embed([p.text for p in passages])
            except ProviderError as error:
                log.warning("file %s indexed without embeddings: %s (%s)", file_id, error.message, error.code)
        await self._passages.add_document(user_id, file_id, passages, vectors)
        return len(passages)

    async def delete(self, user_id: str, file_id: str) -> None:
        await self._passages.delete_document(user_id, file_id)
