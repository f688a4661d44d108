"""Search on SQLite: an FTS5 index of titles and final messages (kept by the triggers of ``0008_search_index``),
ranked with bm25 (a title counts twice a message), snippets from FTS5's ``snippet()``.

The owner's id is a column of the index and part of every match, so FTS5 only ever walks the owner's
documents. Ranking costs time in proportion to the documents matched; to keep a word found in most of a long
history as quick as a rare one, only the newest ``RANK_WINDOW`` matches are ranked (a query of several words
is matched whole before this window applies).
"""

from __future__ import annotations

import json
import sqlite3

from parley.core.store.base import SearchHit, SearchPage
from parley.core.store.search_text import MAX_RESULTS, decode_cursor, encode_cursor, from_marked, query_words
from parley.core.store.sqlite.database import Database

RANK_WINDOW = 1000  # as DynamoDB reads its newest 1,000 postings of a word
_OPEN, _CLOSE = "\x02", "\x03"  # kept out of the indexed text by the triggers
_SNIPPET_TOKENS = 24

# The owner is in the query three times: in the match itself, the document's user and the conversation's.
# The oldest rowid of the newest RANK_WINDOW matches bounds the ranking (FTS5 walks rowids backwards cheaply).
_RANKED = """
SELECT d.id, d.conversation_id, d.message_id, d.role, c.title
FROM search_index
JOIN search_docs d ON d.id = search_index.rowid
JOIN conversations c ON c.id = d.conversation_id AND c.user_id = :user
WHERE search_index MATCH :match AND d.user_id = :user
  AND search_index.rowid >= COALESCE(
    (SELECT rowid FROM search_index WHERE search_index MATCH :match ORDER BY rowid DESC LIMIT 1 OFFSET :window),
    0
  )
ORDER BY bm25(search_index, 0.0, 2.0, 1.0), d.id DESC
LIMIT :limit OFFSET :offset
"""
# Snippets cost far more than ranking, so only the hits of the page get one (column 1 is a title, 2 a message).
_SNIPPETS = f"""
SELECT search_index.rowid AS id,
       snippet(search_index, CASE WHEN search_index.title IS NULL THEN 2 ELSE 1 END, char(2), char(3), '…',
               {_SNIPPET_TOKENS}) AS marked
FROM search_index
WHERE search_index MATCH :match AND search_index.rowid IN (SELECT value FROM json_each(:ids))
"""  # noqa: S608 (no user text in it: the snippet length is a constant)


def fts_query(user_id: str, words: list[str]) -> str:
    """The owner's documents with every word in a title or a message. Each word is a quoted FTS5 string, so
    nothing a user types is FTS5 syntax."""
    phrases = " AND ".join(fts_string(word) for word in words)
    return f"user_id : {fts_string(user_id)} AND {{title body}} : ({phrases})"


def fts_string(text: str) -> str:
    """``text`` as one FTS5 string: matched as words, never read as query syntax."""
    return '"' + text.replace('"', '""') + '"'


class SqliteSearchIndex:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def search(self, user_id: str, query: str, limit: int, cursor: str | None) -> SearchPage:
        offset = decode_cursor(cursor)
        words = query_words(query)
        if not words:
            return SearchPage(items=[], next_cursor=None)
        limit = min(limit, MAX_RESULTS - offset)
        args = {
            "user": user_id,
            "match": fts_query(user_id, words),
            "window": RANK_WINDOW - 1,
            "limit": limit + 1,
            "offset": offset,
        }

        def select(conn: sqlite3.Connection) -> tuple[list[sqlite3.Row], dict[int, str]]:
            rows = conn.execute(_RANKED, args).fetchall()
            ids = json.dumps([row["id"] for row in rows[:limit]])
            snippets = conn.execute(_SNIPPETS, {"match": args["match"], "ids": ids}).fetchall()
            return rows, {row["id"]: row["marked"] for row in snippets}

        rows, snippets = await self._db.run(select)
        items = [_hit(row, snippets.get(row["id"], "")) for row in rows[:limit]]
        more = len(rows) > limit and offset + limit < MAX_RESULTS
        return SearchPage(items=items, next_cursor=encode_cursor(offset + limit) if more else None)


def _hit(row: sqlite3.Row, marked: str) -> SearchHit:
    snippet = from_marked(marked or "", _OPEN, _CLOSE)
    return SearchHit(
        conversation_id=row["conversation_id"],
        title=row["title"],
        message_id=row["message_id"],
        role=row["role"],
        snippet=snippet.text,
        highlights=snippet.highlights,
    )
