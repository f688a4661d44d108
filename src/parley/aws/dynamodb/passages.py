"""Passages on DynamoDB, without a search service (nothing runs or costs while nobody asks).

Each document is one partition (``keys.passages``): its passages as items, and the document's keyword index
built once when the file is processed (``bm25.KeywordIndex``, compressed, cut into items under DynamoDB's
400 KB limit), with its passages' embeddings when an embedding model is configured. A search reads the indexes of
the attached documents (one Query each), ranks with BM25 in the function (and cosine similarity, fused), and
reads only the passages it returns (one BatchGetItem). No passage is read or tokenized per query.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from parley.aws.dynamodb import keys
from parley.aws.dynamodb.table import Table
from parley.core.files.base import Passage, PassageHit
from parley.core.retrieval import bm25
from parley.core.retrieval.fusion import reciprocal_rank_fusion
from parley.core.retrieval.keywords import query_terms
from parley.core.retrieval.vectors import cosine, pack, unpack

CHUNK_BYTES = 350 * 1024  # of an index or vectors item: under the item limit with its keys and attributes


class DynamoPassageIndex:
    def __init__(self, table: Table) -> None:
        self._table = table

    async def add_document(
        self, user_id: str, file_id: str, passages: Sequence[Passage], vectors: Sequence[Sequence[float]] | None
    ) -> None:
        if vectors is not None and len(vectors) != len(passages):
            raise ValueError("one vector a passage")
        if any(p.index != position for position, p in enumerate(passages)):
            raise ValueError("a document's passages are numbered 0, 1, 2... in order")
        pk = keys.passages(user_id, file_id)
        index, packed = await asyncio.to_thread(_build, passages, vectors)
        await self.delete_document(user_id, file_id)
        items: list[dict[str, Any]] = [
            {
                "pk": pk,
                "sk": keys.passage(p.index),
                "index": p.index,
                "text": p.text,
                "start": p.start,
                "end": p.end,
                "page": p.page,
            }
            for p in passages
        ]
        index_chunks = _cut(index)
        vector_chunks = _cut(packed) if packed else []
        items += [{"pk": pk, "sk": keys.passage_index_chunk(n), "data": c} for n, c in enumerate(index_chunks)]
        items += [{"pk": pk, "sk": keys.passage_vectors_chunk(n), "data": c} for n, c in enumerate(vector_chunks)]
        await self._table.put_many(items)
        # Written last: a search finds a document only once all of it is in.
        await self._table.put(
            {
                "pk": pk,
                "sk": keys.PASSAGES_META,
                "user_id": user_id,
                "passages": len(passages),
                "index_chunks": len(index_chunks),
                "vector_chunks": len(vector_chunks),
                "dimensions": len(vectors[0]) if vectors else 0,
            }
        )

    async def passages(self, user_id: str, file_id: str) -> list[Passage]:
        items = await self._table.query_all(
            "pk = :p AND begins_with(sk, :s)", {":p": keys.passages(user_id, file_id), ":s": keys.PASSAGE_PREFIX}
        )
        return [_passage(file_id, item) for item in items]  # sk order is index order

    async def search(
        self,
        user_id: str,
        file_ids: Sequence[str],
        query: str,
        limit: int,
        query_vector: Sequence[float] | None = None,
    ) -> list[PassageHit]:
        file_ids = list(dict.fromkeys(file_ids))
        words = query_terms(query)
        if not file_ids or limit <= 0:
            return []
        loaded = [await self._load(user_id, file_id, query_vector is not None) for file_id in file_ids]
        documents = [(file_id, doc) for file_id, doc in zip(file_ids, loaded, strict=True) if doc is not None]
        if not documents:
            return []
        keyword, similar = await asyncio.to_thread(_rank, documents, words, query_vector, limit)
        wanted = {(documents[which][0], index) for which, index, _ in keyword + similar}
        found = await self._table.get_many((keys.passages(user_id, f), keys.passage(i)) for f, i in wanted)
        by_key = {(item["pk"], int(item["index"])): item for item in found}

        def hits(ranked: list[tuple[int, int, float]]) -> list[PassageHit]:
            out = []
            for which, index, score in ranked:
                file_id = documents[which][0]
                item = by_key.get((keys.passages(user_id, file_id), index))
                if item is not None:
                    out.append(PassageHit(_passage(file_id, item), score))
            return out

        keyword_hits, similar_hits = hits(keyword), hits(similar)
        if keyword_hits and similar_hits:
            return reciprocal_rank_fusion([keyword_hits, similar_hits], limit)
        return keyword_hits or similar_hits

    async def _load(self, user_id: str, file_id: str, with_vectors: bool) -> _Document | None:
        pk = keys.passages(user_id, file_id)
        meta = await self._table.get(pk, keys.PASSAGES_META)
        if meta is None:
            return None
        index_data = await self._chunks(pk, keys.PASSAGE_INDEX_PREFIX)
        vector_data = await self._chunks(pk, keys.PASSAGE_VECTORS_PREFIX) if with_vectors else b""
        return _Document(
            index=await asyncio.to_thread(bm25.KeywordIndex.from_bytes, index_data),
            vectors=vector_data,
            dimensions=int(meta.get("dimensions", 0)),
        )

    async def _chunks(self, pk: str, prefix: str) -> bytes:
        items = await self._table.query_all("pk = :p AND begins_with(sk, :s)", {":p": pk, ":s": prefix})
        return b"".join(_bytes(item["data"]) for item in items)  # in sk order, which is chunk order

    async def delete_document(self, user_id: str, file_id: str) -> None:
        pk = keys.passages(user_id, file_id)
        meta = await self._table.get(pk, keys.PASSAGES_META)
        if meta is not None:  # first: a search no longer finds the document while its items go
            await self._table.delete(pk, keys.PASSAGES_META)
        items = await self._table.query_all("pk = :p", {":p": pk})
        await self._table.delete_keys((pk, item["sk"]) for item in items)


class _Document:
    def __init__(self, index: bm25.KeywordIndex, vectors: bytes, dimensions: int) -> None:
        self.index = index
        self.vectors = vectors
        self.dimensions = dimensions


def _build(passages: Sequence[Passage], vectors: Sequence[Sequence[float]] | None) -> tuple[bytes, bytes]:
    index = bm25.KeywordIndex.build(passages).to_bytes()
    return index, b"".join(pack(v) for v in vectors) if vectors else b""


def _cut(data: bytes) -> list[bytes]:
    return [data[at : at + CHUNK_BYTES] for at in range(0, len(data), CHUNK_BYTES)] or [b""]


def _rank(
    documents: Sequence[tuple[str, _Document]], words: Sequence[str], query_vector: Sequence[float] | None, limit: int
) -> tuple[list[tuple[int, int, float]], list[tuple[int, int, float]]]:
    keyword = bm25.rank([doc.index for _, doc in documents], words, limit)
    similar: list[tuple[int, int, float]] = []
    if query_vector is not None:
        for which, (_, doc) in enumerate(documents):
            if doc.dimensions != len(query_vector) or not doc.vectors:
                continue
            row = doc.dimensions * 4
            for index in range(len(doc.vectors) // row):
                vector = unpack(doc.vectors[index * row : (index + 1) * row])
                similar.append((which, index, cosine(query_vector, vector)))
        similar.sort(key=lambda hit: (-hit[2], hit[0], hit[1]))
        similar = similar[:limit]
    return keyword, similar


def _bytes(value: Any) -> bytes:
    return bytes(getattr(value, "value", value))  # boto3 decodes binary as a Binary wrapper


def _passage(file_id: str, item: dict[str, Any]) -> Passage:
    return Passage(
        file_id=file_id,
        index=int(item["index"]),
        text=item["text"],
        start=int(item["start"]),
        end=int(item["end"]),
        page=int(item["page"]) if item.get("page") is not None else None,
    )
