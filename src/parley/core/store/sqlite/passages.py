"""Passages on SQLite: BM25 ranking by FTS5 over the index ``0016_passages`` keeps, and, when passages have
embeddings, cosine similarity to the query's, the two lists fused (reciprocal rank fusion).

Vectors are stored as float32 blobs and scored in Python, in a worker thread: the passages of the few documents
attached to one prompt are few enough for that. (sqlite-vec would rank them inside SQLite, but many Python builds'
sqlite3 cannot load extensions, this machine's among them, so that path could not be tested here.)
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Sequence

from parley.core.files.base import Passage, PassageHit
from parley.core.retrieval.fusion import fuse
from parley.core.retrieval.keywords import query_terms
from parley.core.retrieval.vectors import cosine, pack, unpack
from parley.core.store.sqlite.database import Database
from parley.core.store.sqlite.search import fts_string

# Column weights: the owner and file columns are only there to be matched, never to rank.
_RANKED = """
SELECT p.file_id, p.idx, p.body, p.start_at, p.end_at, p.page, bm25(passage_index, 0.0, 0.0, 1.0) AS rank
FROM passage_index
JOIN passages p ON p.id = passage_index.rowid
WHERE passage_index MATCH :match AND p.user_id = :user
ORDER BY rank, p.file_id, p.idx
LIMIT :limit
"""
_COLUMNS = "file_id, idx, body, start_at, end_at, page"


def fts_match(user_id: str, file_ids: Sequence[str], words: Sequence[str]) -> str:
    """The owner's passages of these files with any of the words. Every value is a quoted FTS5 string, so
    nothing a user types is FTS5 syntax."""
    files = " OR ".join(fts_string(file_id) for file_id in file_ids)
    alternatives = " OR ".join(fts_string(word) for word in words)
    return f"user_id : {fts_string(user_id)} AND file_id : ({files}) AND body : ({alternatives})"


class SqlitePassageIndex:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def add_document(
        self, user_id: str, file_id: str, passages: Sequence[Passage], vectors: Sequence[Sequence[float]] | None
    ) -> None:
        if vectors is not None and len(vectors) != len(passages):
            raise ValueError("one vector a passage")
        rows = [
            (
                user_id,
                file_id,
                p.index,
                p.text,
                p.start,
                p.end,
                p.page,
                pack(vectors[position]) if vectors is not None else None,
            )
            for position, p in enumerate(passages)
        ]

        def write(conn: sqlite3.Connection) -> None:
            conn.execute("DELETE FROM passages WHERE user_id = ? AND file_id = ?", (user_id, file_id))
            conn.executemany(
                "INSERT INTO passages (user_id, file_id, idx, body, start_at, end_at, page, vector)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )

        await self._db.run(write)

    async def passages(self, user_id: str, file_id: str) -> list[Passage]:
        def read(conn: sqlite3.Connection) -> list[sqlite3.Row]:
            return conn.execute(
                f"SELECT {_COLUMNS} FROM passages WHERE user_id = ? AND file_id = ? ORDER BY idx",  # noqa: S608
                (user_id, file_id),
            ).fetchall()

        return [_passage(row) for row in await self._db.run(read)]

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
        keyword: list[PassageHit] = []
        if words:
            args = {"user": user_id, "match": fts_match(user_id, file_ids, words), "limit": limit}

            def ranked(conn: sqlite3.Connection) -> list[sqlite3.Row]:
                return conn.execute(_RANKED, args).fetchall()

            keyword = [PassageHit(_passage(row), -float(row["rank"])) for row in await self._db.run(ranked)]
        if query_vector is None:
            return keyword
        return fuse(keyword, await self._by_vector(user_id, file_ids, query_vector, limit), limit)

    async def _by_vector(
        self, user_id: str, file_ids: Sequence[str], query_vector: Sequence[float], limit: int
    ) -> list[PassageHit]:
        marks = ", ".join("?" for _ in file_ids)

        def read(conn: sqlite3.Connection) -> list[sqlite3.Row]:
            return conn.execute(
                f"SELECT {_COLUMNS}, vector FROM passages"  # noqa: S608 (only placeholders are formatted in)
                f" WHERE user_id = ? AND file_id IN ({marks}) AND vector IS NOT NULL",
                (user_id, *file_ids),
            ).fetchall()

        rows = await self._db.run(read)

        def score() -> list[PassageHit]:
            hits = [PassageHit(_passage(row), cosine(query_vector, unpack(row["vector"]))) for row in rows]
            hits.sort(key=lambda hit: (-hit.score, hit.passage.file_id, hit.passage.index))
            return hits[:limit]

        return await asyncio.to_thread(score) if rows else []

    async def delete_document(self, user_id: str, file_id: str) -> None:
        def delete(conn: sqlite3.Connection) -> None:
            conn.execute("DELETE FROM passages WHERE user_id = ? AND file_id = ?", (user_id, file_id))

        await self._db.run(delete)


def _passage(row: sqlite3.Row) -> Passage:
    return Passage(
        file_id=row["file_id"],
        index=row["idx"],
        text=row["body"],
        start=row["start_at"],
        end=row["end_at"],
        page=row["page"],
    )
