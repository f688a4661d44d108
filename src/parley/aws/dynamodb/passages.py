"""Passages on DynamoDB, without a search service (nothing runs or costs while nobody asks).

Each document is one partition (``keys.passages``): its passages as items, and its keyword index built once when
the file is processed (``bm25.KeywordIndex``): the words in each passage, and the postings cut into shards by a
hash of the word, each compressed in an item of its own; with its passages' embeddings when an embedding model is
configured. A search reads, of the attached documents, their META and lengths and only the shards that hold the
prompt's words (BatchGetItem), ranks with BM25 in the function (and by cosine similarity, fused), and reads only
the passages it returns. No passage is read or tokenized per query, and no index is rebuilt.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from parley.aws.dynamodb import keys
from parley.aws.dynamodb.table import Table
from parley.core.files.base import Passage, PassageHit
from parley.core.retrieval import bm25
from parley.core.retrieval.fusion import fuse
from parley.core.retrieval.keywords import query_terms
from parley.core.retrieval.vectors import cosine, pack, unpack

CHUNK_BYTES = 350 * 1024  # of a vectors item: under the item limit with its keys and attributes

Ranked = list[tuple[int, int, float]]  # (which document, passage index, score)


@dataclass(frozen=True)
class _Document:
    file_id: str
    index: bm25.KeywordIndex
    vectors: bytes
    dimensions: int


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
        shards = bm25.shard_count(len(passages))
        lengths, index, packed = await asyncio.to_thread(_build, passages, vectors, shards)
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
        vector_chunks = [packed[at : at + CHUNK_BYTES] for at in range(0, len(packed), CHUNK_BYTES)]
        items.append({"pk": pk, "sk": keys.PASSAGE_LENGTHS, "data": lengths})
        items += [{"pk": pk, "sk": keys.passage_index_shard(n), "data": shard} for n, shard in enumerate(index)]
        items += [{"pk": pk, "sk": keys.passage_vectors_chunk(n), "data": c} for n, c in enumerate(vector_chunks)]
        await self._table.put_many(items)
        # Written last: a search finds a document only once all of it is in.
        await self._table.put(
            {
                "pk": pk,
                "sk": keys.PASSAGES_META,
                "user_id": user_id,
                "passages": len(passages),
                "shards": shards,
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
        documents = await self._load(user_id, file_ids, words, query_vector is not None)
        if not documents:
            return []
        keyword, similar = await asyncio.to_thread(_rank, documents, words, query_vector, limit)
        wanted = {(documents[which].file_id, index) for which, index, _ in keyword + similar}
        found = await self._table.get_many((keys.passages(user_id, f), keys.passage(i)) for f, i in wanted)
        by_key = {(item["pk"], int(item["index"])): item for item in found}

        def hits(ranked: Ranked) -> list[PassageHit]:
            out = []
            for which, index, score in ranked:
                file_id = documents[which].file_id
                item = by_key.get((keys.passages(user_id, file_id), index))
                if item is not None:
                    out.append(PassageHit(_passage(file_id, item), score))
            return out

        return fuse(hits(keyword), hits(similar), limit)

    async def _load(
        self, user_id: str, file_ids: Sequence[str], words: Sequence[str], with_vectors: bool
    ) -> list[_Document]:
        """The attached documents that are indexed, in order, each with what the query needs of its index."""
        metas = await self._table.get_many((keys.passages(user_id, f), keys.PASSAGES_META) for f in file_ids)
        meta_of = {item["pk"]: item for item in metas}
        wanted: list[tuple[str, str]] = []
        for file_id in file_ids:
            pk = keys.passages(user_id, file_id)
            if pk in meta_of:
                needed = {bm25.shard_of(word, int(meta_of[pk]["shards"])) for word in words}
                wanted += [(pk, keys.PASSAGE_LENGTHS), *((pk, keys.passage_index_shard(n)) for n in sorted(needed))]
        parts: dict[tuple[str, str], bytes] = {
            (item["pk"], item["sk"]): _bytes(item["data"]) for item in await self._table.get_many(wanted)
        }
        documents = []
        for file_id in file_ids:
            pk = keys.passages(user_id, file_id)
            meta = meta_of.get(pk)
            lengths = parts.get((pk, keys.PASSAGE_LENGTHS))
            if meta is None or lengths is None:
                continue
            shards = [blob for (owner, sk), blob in parts.items() if owner == pk and sk != keys.PASSAGE_LENGTHS]
            index = await asyncio.to_thread(bm25.KeywordIndex.from_parts, lengths, shards)
            vectors = b""
            if with_vectors and int(meta.get("vector_chunks", 0)):
                items = await self._table.query_all(
                    "pk = :p AND begins_with(sk, :s)", {":p": pk, ":s": keys.PASSAGE_VECTORS_PREFIX}
                )
                vectors = b"".join(_bytes(item["data"]) for item in items)  # sk order is chunk order
            documents.append(_Document(file_id, index, vectors, int(meta.get("dimensions", 0))))
        return documents

    async def delete_document(self, user_id: str, file_id: str) -> None:
        pk = keys.passages(user_id, file_id)
        # META first: a search no longer finds the document while its items go.
        await self._table.delete(pk, keys.PASSAGES_META)
        items = await self._table.query_all("pk = :p", {":p": pk})
        await self._table.delete_keys((pk, item["sk"]) for item in items)


def _build(
    passages: Sequence[Passage], vectors: Sequence[Sequence[float]] | None, shards: int
) -> tuple[bytes, list[bytes], bytes]:
    index = bm25.KeywordIndex.build(passages)
    packed = b"".join(pack(v) for v in vectors) if vectors else b""
    return index.lengths_bytes(), index.shard_bytes(shards), packed


def _rank(
    documents: Sequence[_Document], words: Sequence[str], query_vector: Sequence[float] | None, limit: int
) -> tuple[Ranked, Ranked]:
    keyword = bm25.rank([doc.index for doc in documents], words, limit)
    similar: Ranked = []
    if query_vector is not None:
        for which, doc in enumerate(documents):
            if doc.dimensions != len(query_vector) or not doc.vectors:
                continue  # vectors of another model (the embedding model was changed): no similarity to speak of
            row = doc.dimensions * 4
            for index in range(len(doc.vectors) // row):
                similar.append(
                    (which, index, cosine(query_vector, unpack(doc.vectors[index * row : (index + 1) * row])))
                )
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
