"""Search on DynamoDB: an inverted index kept in the table itself, so it costs nothing while nobody searches.

When a message becomes final (or a title is set), each distinct word of it gets a posting item in the
conversation's partition (``IDX#M#<message_id>#<word>``), also indexed on ``gsi1`` under
``WORD#<user_id>#<word>`` by recency: how often the word occurs, the message's length in words, and a
snippet of the text around its first occurrence. A search reads, for each of its words, that word's
postings of that one user only (a Query on its owner's key), keeps the messages that have every word,
ranks them by a bm25-like score (how often the words occur against the message's length, rarer words
weighing more, a title counting twice) and then by recency, and takes the snippet from a posting.

What it can match: whole words, case- and accent-insensitively, in any language that separates words
(``search_text.py``). It cannot match part of a word, a misspelling or a phrase in order. Past these
bounds it is approximate: the first 1,000 distinct words of a message are indexed, words over 64
characters are not, and for a word in over 1,000 messages only its newest 1,000 are read (a query that
also has a rarer word still finds every message with both). Messages saved before search existed are
found once they are saved again (messages of the earlier item shape are never rewritten). ``gsi1`` is
eventually consistent, so a message may take a moment (well under a second) to be found.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from parley.aws.dynamodb import keys
from parley.aws.dynamodb.table import GSI1, Table
from parley.core.store.base import MessageStatus, SearchHit, SearchPage
from parley.core.store.search_text import (
    MAX_RESULTS,
    decode_cursor,
    encode_cursor,
    highlight,
    normal,
    query_words,
    window,
    words,
)

log = logging.getLogger(__name__)

MAX_WORDS_PER_TEXT = 1000
MAX_WORD_CHARS = 64
MAX_POSTINGS_READ = 1000
INDEXED_ROLES = frozenset({"user", "assistant"})
# bm25's constants; the average length is a fixed guess, as no count of the user's messages is kept.
_K1, _B, _AVERAGE_WORDS = 1.2, 0.75, 200.0
_TITLE_WEIGHT = 2.0

Document = tuple[str, str | None]  # (conversation id, message id or None for the title)


def is_final(status: MessageStatus) -> bool:
    return status is not MessageStatus.STREAMING


@dataclass(frozen=True)
class _Posting:
    count: int
    length: int
    snippet: str
    at: float
    role: str | None


@dataclass(frozen=True)
class _WordPostings:
    postings: dict[Document, _Posting]
    complete: bool  # False when more postings exist than were read


def _postings_of(text: str) -> tuple[int, dict[str, tuple[int, int, int]]]:
    """The text's length in words, and for each of its first distinct words: (count, first start, first end)."""
    found: dict[str, tuple[int, int, int]] = {}
    length = 0
    for start, end, word in words(text):
        length += 1
        if word in found:
            count, first_start, first_end = found[word]
            found[word] = (count + 1, first_start, first_end)
        elif len(found) < MAX_WORDS_PER_TEXT and len(word) <= MAX_WORD_CHARS:
            found[word] = (1, start, end)
    return length, found


@dataclass(frozen=True)
class _IndexedText:
    """A text to index: a message's or a title's, whose postings go under ``prefix`` in its conversation."""

    user_id: str
    conversation_id: str
    prefix: str
    text: str
    at: float
    message_id: str | None  # None: the title
    role: str | None
    replacing: bool  # postings were written for it before: the words no longer in it go


class DynamoSearchIndex:
    def __init__(self, table: Table) -> None:
        self._table = table

    # Writing: called by the message log and the conversation store as they write.

    async def index_message(
        self,
        user_id: str,
        conversation_id: str,
        message_id: str,
        *,
        role: str,
        text: str,
        status: MessageStatus,
        at: float,
        was_final: bool,
    ) -> None:
        """Index a final message's words; nothing while it streams. ``was_final``: the message was final before
        this save, so what was indexed for it then is replaced (otherwise there is nothing to look for)."""
        if not is_final(status) or role not in INDEXED_ROLES:
            return
        prefix = keys.message_words(message_id)
        await self._replace(_IndexedText(user_id, conversation_id, prefix, text, at, message_id, role, was_final))

    async def index_title(self, user_id: str, conversation_id: str, title: str, at: float, *, new: bool) -> None:
        await self._replace(_IndexedText(user_id, conversation_id, keys.title_words(), title, at, None, None, not new))

    async def drop_conversation(self, conversation_id: str) -> None:
        items = await self._table.query_all(
            "pk = :p AND begins_with(sk, :s)", {":p": keys.messages(conversation_id), ":s": keys.SEARCH_PREFIX}
        )
        await self._table.delete_keys((item["pk"], item["sk"]) for item in items)

    async def _replace(self, text: _IndexedText) -> None:
        # A failure here leaves the message saved and only less findable: the write that called us succeeded
        # and must not be reported as failed (an answer would be settled again as interrupted).
        try:
            await self._write(text)
        except (ClientError, BotoCoreError):
            log.warning("could not index %s%s for search", text.prefix, text.conversation_id, exc_info=True)

    async def _write(self, indexed: _IndexedText) -> None:
        user_id, conversation_id, prefix, text = indexed.user_id, indexed.conversation_id, indexed.prefix, indexed.text
        at, message_id, role, replacing = indexed.at, indexed.message_id, indexed.role, indexed.replacing
        pk = keys.messages(conversation_id)
        length, found = _postings_of(text)
        stale: list[tuple[str, str]] = []
        if replacing:  # the words no longer there go (the others are overwritten)
            before = await self._table.query_all("pk = :p AND begins_with(sk, :s)", {":p": pk, ":s": prefix})
            stale = [(item["pk"], item["sk"]) for item in before if item["sk"].removeprefix(prefix) not in found]
        recency = f"{keys.recency(at, conversation_id)}#{message_id or ''}"
        await self._table.put_many(
            {
                "pk": pk,
                "sk": f"{prefix}{word}",
                "gsi1pk": keys.word_index(user_id, word),
                "gsi1sk": recency,
                "user_id": user_id,
                "conversation_id": conversation_id,
                "message_id": message_id,
                "role": role,
                "count": count,
                "length": length,
                "snippet": window(text, start, end),
                "at": at,
            }
            for word, (count, start, end) in found.items()
        )
        await self._table.delete_keys(stale)

    # Reading.

    async def search(self, user_id: str, query: str, limit: int, cursor: str | None) -> SearchPage:
        offset = decode_cursor(cursor)
        terms = [normal(word) for word in query_words(query)]
        if not terms or any(len(term) > MAX_WORD_CHARS for term in terms):
            return SearchPage(items=[], next_cursor=None)
        lists = await asyncio.gather(*(self._read_postings(user_id, term) for term in terms))
        matches = await self._matching(user_id, terms, list(lists))
        scored = [(_score(document, postings, lists), document, postings) for document, postings in matches.items()]
        scored.sort(key=lambda entry: (-entry[0], -entry[2][0].at))
        ranked = [(document, postings) for _, document, postings in scored[:MAX_RESULTS]]
        page = ranked[offset : offset + limit]
        titles = await self._titles(user_id, {document[0] for document, _ in page})
        items = [
            _hit(document, postings, lists, terms, titles[document[0]])
            for document, postings in page
            if document[0] in titles  # a conversation deleted since its postings were read
        ]
        more = offset + limit < len(ranked)
        return SearchPage(items=items, next_cursor=encode_cursor(offset + limit) if more else None)

    async def _read_postings(self, user_id: str, term: str) -> _WordPostings:
        postings: dict[Document, _Posting] = {}
        start: dict[str, Any] | None = None
        while True:
            page, start, _ = await self._table.query(
                "gsi1pk = :w",
                {":w": keys.word_index(user_id, term)},
                index=GSI1,
                forward=False,  # newest first
                limit=MAX_POSTINGS_READ + 1 - len(postings),
                start_key=start,
            )
            for item in page:
                postings[(item["conversation_id"], item.get("message_id"))] = _posting(item)
            if len(postings) > MAX_POSTINGS_READ:
                return _WordPostings(dict(list(postings.items())[:MAX_POSTINGS_READ]), complete=False)
            if start is None:
                return _WordPostings(postings, complete=True)

    async def _matching(
        self, user_id: str, terms: list[str], lists: list[_WordPostings]
    ) -> dict[Document, list[_Posting]]:
        """The documents with every term, each with its posting of every term (in the order of ``terms``)."""
        complete = [postings for postings in lists if postings.complete]
        if complete:
            candidates = set(min(complete, key=lambda p: len(p.postings)).postings)
            for postings in complete:
                candidates &= set(postings.postings)
        else:  # every word is very common: only their newest postings are compared
            candidates = set(lists[0].postings)
            for postings in lists[1:]:
                candidates &= set(postings.postings)
        # A truncated list may lack an older posting of a candidate: look that posting up by its key.
        for term, postings in zip(terms, lists, strict=True):
            missing = [document for document in candidates if document not in postings.postings]
            if not missing:
                continue
            found = await self._table.get_many(_posting_key(document, term) for document in missing)
            for item in found:
                if item.get("user_id") == user_id:
                    postings.postings[(item["conversation_id"], item.get("message_id"))] = _posting(item)
            candidates = {document for document in candidates if document in postings.postings}
        return {document: [postings.postings[document] for postings in lists] for document in candidates}

    async def _titles(self, user_id: str, conversation_ids: set[str]) -> dict[str, str]:
        items = await self._table.get_many(keys.conversation(user_id, cid) for cid in conversation_ids)
        return {item["conversation_id"]: item["title"] for item in items}


def _posting(item: dict[str, Any]) -> _Posting:
    return _Posting(
        count=int(item["count"]),
        length=int(item["length"]),
        snippet=item["snippet"],
        at=float(item["at"]),
        role=item.get("role"),
    )


def _posting_key(document: Document, term: str) -> tuple[str, str]:
    conversation_id, message_id = document
    prefix = keys.title_words() if message_id is None else keys.message_words(message_id)
    return keys.messages(conversation_id), f"{prefix}{term}"


def _score(document: Document, postings: Sequence[_Posting], lists: Sequence[_WordPostings]) -> float:
    score = 0.0
    for posting, word in zip(postings, lists, strict=True):
        rarity = math.log(1 + MAX_POSTINGS_READ / max(1, len(word.postings)))
        norm = posting.count + _K1 * (1 - _B + _B * posting.length / _AVERAGE_WORDS)
        score += rarity * posting.count * (_K1 + 1) / norm
    return score * (_TITLE_WEIGHT if document[1] is None else 1.0)


def _hit(
    document: Document,
    postings: Sequence[_Posting],
    lists: Sequence[_WordPostings],
    terms: Sequence[str],
    title: str,
) -> SearchHit:
    conversation_id, message_id = document
    if message_id is None:
        text = title
    else:  # the snippet around the rarest word
        rarest = min(range(len(lists)), key=lambda i: len(lists[i].postings))
        text = postings[rarest].snippet
    return SearchHit(
        conversation_id=conversation_id,
        title=title,
        message_id=message_id,
        role=postings[0].role,
        snippet=text,
        highlights=highlight(text, terms),
    )
