"""Searching attached documents for a prompt: by keywords always, and by the prompt's embedding too when an
embedding model is configured (fused in the index). A failing embedding model leaves keywords, never nothing."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from parley.core.files.base import Passage, PassageHit, PassageIndex
from parley.core.retrieval.embeddings import Embedder
from parley.errors import ProviderError

log = logging.getLogger(__name__)


class Retriever:
    def __init__(self, passages: PassageIndex, embedder: Embedder | None = None) -> None:
        self._passages = passages
        self._embedder = embedder

    async def search(self, user_id: str, file_ids: Sequence[str], query: str, limit: int) -> list[PassageHit]:
        vector = None
        if self._embedder is not None:
            try:
                vector = (await self._embedder.embed([query]))[0]
            except ProviderError as error:
                log.warning("retrieval by keywords only: the embedding model failed (%s)", error.code)
        return await self._passages.search(user_id, file_ids, query, limit, query_vector=vector)

    async def passages(self, user_id: str, file_id: str) -> list[Passage]:
        return await self._passages.passages(user_id, file_id)
