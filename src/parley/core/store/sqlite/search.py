"""Search on SQLite: an FTS5 index of titles and final messages (kept by the triggers of ``0008_search_index``),
ranked with bm25 (a title counts twice a message), snippets from FTS5's ``snippet()``."""

from __future__ import annotations

import sqlite3

from parley.core.store.base import SearchHit, SearchPage
from parley.core.store.search_text import MAX_RESULTS, decode_cursor, encode_cursor, from_marked, query_words
from parley.core.store.sqlite.database import Database

_OPEN, _CLOSE = "\x02", "\x03"  # kept out of the indexed text by the triggers
_SNIPPET_TOKENS = 24

# The owner is in the query twice: the document's own user and the conversation's, so even a stale row could
# never show another user's words.
_SEARCH = f"""
SELECT d.conversation_id, d.message_id, d.role, c.title,
       snippet(search_index, -1, char(2), char(3), '…', {_SNIPPET_TOKENS}) AS marked
FROM search_index
JOIN search_docs d ON d.id = search_index.rowid
JOIN conversations c ON c.id = d.conversation_id AND c.user_id = :user
WHERE search_index MATCH :match AND d.user_id = :user
ORDER BY bm25(search_index, 2.0, 1.0), d.id DESC
LIMIT :limit OFFSET :offset
"""  # noqa: S608 (no user text in it: the snippet length is a constant)


def fts_query(words: list[str]) -> str:
    """Every word as a quoted FTS5 string, so nothing a user types is FTS5 syntax (AND is implicit)."""
    return " ".join('"' + word.replace('"', '""') + '"' for word in words)


class SqliteSearchIndex:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def search(self, user_id: str, query: str, limit: int, cursor: str | None) -> SearchPage:
        offset = decode_cursor(cursor)
        words = query_words(query)
        if not words:
            return SearchPage(items=[], next_cursor=None)
        limit = min(limit, MAX_RESULTS - offset)
        args = {"user": user_id, "match": fts_query(words), "limit": limit + 1, "offset": offset}

        def select(conn: sqlite3.Connection) -> list[sqlite3.Row]:
            return conn.execute(_SEARCH, args).fetchall()

        rows = await self._db.run(select)
        items = [_hit(row) for row in rows[:limit]]
        more = len(rows) > limit and offset + limit < MAX_RESULTS
        return SearchPage(items=items, next_cursor=encode_cursor(offset + limit) if more else None)


def _hit(row: sqlite3.Row) -> SearchHit:
    snippet = from_marked(row["marked"] or "", _OPEN, _CLOSE)
    return SearchHit(
        conversation_id=row["conversation_id"],
        title=row["title"],
        message_id=row["message_id"],
        role=row["role"],
        snippet=snippet.text,
        highlights=snippet.highlights,
    )
