"""Words, queries, snippets and cursors for searching what was said; shared by every store's search index.

A query is words, all of which must appear (in any order). Its punctuation is never syntax: quotes,
``*``, ``NEAR(``, ``OR`` and the like are just text, so no query can be malformed. A word is a run of
letters and digits; words compare case- and accent-insensitively. Scripts written without spaces
(Chinese, Japanese) form one word per run of characters, so there only whole runs match.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from parley.errors import InvalidInput

MAX_QUERY_CHARS = 200
MAX_QUERY_TERMS = 10  # the words of a longer query past these are ignored
MAX_RESULTS = 1000  # how deep the pages of one query go
SNIPPET_BEFORE, SNIPPET_AFTER = 60, 140  # characters of context around the first match

# Letters and digits (``\w`` without the underscore), with the combining marks of text not in NFC.
WORD = re.compile(r"(?:[^\W_]|[\u0300-\u036f])+")
ELLIPSIS = "…"


def normal(word: str) -> str:
    """The form words are compared in: case folded, accents removed (é is e, ﬁ is fi)."""
    decomposed = unicodedata.normalize("NFKD", word.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def words(text: str) -> Iterator[tuple[int, int, str]]:
    """Each word of ``text``: its start and end (code points) and its normal form."""
    for match in WORD.finditer(text):
        yield match.start(), match.end(), normal(match.group())


def query_words(query: str) -> list[str]:
    """The words of a query as typed, each once (by normal form), at most ``MAX_QUERY_TERMS``."""
    seen: set[str] = set()
    found: list[str] = []
    for match in WORD.finditer(query[:MAX_QUERY_CHARS]):
        key = normal(match.group())
        if key and key not in seen:
            seen.add(key)
            found.append(match.group())
            if len(found) == MAX_QUERY_TERMS:
                break
    return found


Range = tuple[int, int]


@dataclass(frozen=True)
class Snippet:
    """Plain text around a match, and the ranges ``[start, end)`` of the matched words in it (code points)."""

    text: str
    highlights: tuple[Range, ...]


def highlight(text: str, terms: Iterable[str]) -> tuple[Range, ...]:
    """The ranges of the words of ``text`` whose normal form is one of ``terms`` (normal forms)."""
    wanted = set(terms)
    return tuple((start, end) for start, end, word in words(text) if word in wanted)


def window(text: str, start: int, end: int) -> str:
    """The text around ``text[start:end]``, cut at word boundaries, on one line, with ``…`` where it was cut."""
    begin = max(0, start - SNIPPET_BEFORE)
    stop = min(len(text), end + SNIPPET_AFTER)
    if begin > 0:
        space = text.find(" ", begin, start)
        begin = space + 1 if space != -1 else begin
    if stop < len(text):
        space = text.rfind(" ", end, stop)
        stop = space if space != -1 else stop
    shown = " ".join(text[begin:stop].split())  # newlines and runs of spaces read as one space in a list
    return f"{ELLIPSIS if begin > 0 else ''}{shown}{ELLIPSIS if stop < len(text) else ''}"


def snippet_around(text: str, terms: Sequence[str]) -> Snippet:
    """A window of ``text`` around the first word that matches (its start when none does), matches marked."""
    wanted = set(terms)
    start, end = next(((start, end) for start, end, word in words(text) if word in wanted), (0, 0))
    shown = window(text, start, end)
    return Snippet(shown, highlight(shown, wanted))


def from_marked(marked: str, open_mark: str, close_mark: str) -> Snippet:
    """A snippet from text whose matches are wrapped in the two marks (SQLite's ``snippet()``), marks removed."""
    text: list[str] = []
    ranges: list[Range] = []
    length = 0
    opened: int | None = None
    for piece in re.split(f"({re.escape(open_mark)}|{re.escape(close_mark)})", marked):
        if piece == open_mark:
            opened = length
        elif piece == close_mark:
            if opened is not None and length > opened:
                ranges.append((opened, length))
            opened = None
        else:
            text.append(piece)
            length += len(piece)
    return Snippet("".join(text), tuple(ranges))


def encode_cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"offset": offset}).encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> int:
    """The offset a cursor from a previous page stands for (0 without one)."""
    if cursor is None:
        return 0
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise InvalidInput("The cursor is not valid.") from None
    offset = data.get("offset") if isinstance(data, dict) else None
    if type(offset) is not int or not 0 < offset < MAX_RESULTS:
        raise InvalidInput("The cursor is not valid.")
    return offset
