"""Cutting a document's text into passages: about a thousand characters each, cut where a paragraph or a sentence
ends (else between words), each starting a little before the previous one ended, so a sentence that straddles a
cut is read whole by one of them."""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass

from parley.core.files.base import ExtractedDocument, Passage


@dataclass(frozen=True)
class ChunkSizes:
    min_chars: int = 800  # a cut is looked for between these two
    max_chars: int = 1200
    overlap_chars: int = 150  # at most this much of a passage's end starts the next one


_PARAGRAPH = re.compile(r"\n[ \t]*\n\s*")
# A sentence ends with . ! ? (or the ideographic and fullwidth ones, or an ellipsis), then closing quotes or
# brackets, then space.
_SENTENCE = re.compile("[.!?\u3002\uff01\uff1f\u2026]['\"\u201d\u2019)\\]]*\\s+")
_SPACE = re.compile(r"\s+")


def chunk_document(file_id: str, document: ExtractedDocument, sizes: ChunkSizes | None = None) -> list[Passage]:
    """The document's passages in order, with their offsets in its text and the page each starts on."""
    sizes = sizes or ChunkSizes()
    text = document.text
    passages: list[Passage] = []
    start = _skip_space(text, 0)
    while start < len(text):
        end = _cut(text, start, sizes)
        shown_end = _trim_end(text, start, end)
        passages.append(
            Passage(
                file_id=file_id,
                index=len(passages),
                text=text[start:shown_end],
                start=start,
                end=shown_end,
                page=_page(document, start),
            )
        )
        if end >= len(text):
            break
        start = _skip_space(text, _overlap_start(text, start, end, sizes))
    return passages


def _cut(text: str, start: int, sizes: ChunkSizes) -> int:
    """Where the passage starting at ``start`` ends: the last paragraph end between the two sizes, else the last
    sentence end, else the last space, else a hard cut at the largest size (one long word)."""
    if len(text) - start <= sizes.max_chars:
        return len(text)
    low, high = start + sizes.min_chars, start + sizes.max_chars
    for pattern in (_PARAGRAPH, _SENTENCE, _SPACE):
        last = None
        for match in pattern.finditer(text, low, high):
            last = match
        if last is not None:
            return last.end()
    return high


def _overlap_start(text: str, start: int, end: int, sizes: ChunkSizes) -> int:
    """Where the next passage starts: a sentence, else a word, in the last ``overlap_chars`` of this one; the end of
    this one when there is neither (never at or before its start, so the cutting always moves on)."""
    low = max(start + 1, end - sizes.overlap_chars)
    for pattern in (_SENTENCE, _SPACE):
        match = pattern.search(text, low, end)
        if match is not None and match.end() < end:
            return match.end()
    return end


def _skip_space(text: str, at: int) -> int:
    while at < len(text) and text[at].isspace():
        at += 1
    return at


def _trim_end(text: str, start: int, end: int) -> int:
    while end > start and text[end - 1].isspace():
        end -= 1
    return end


def _page(document: ExtractedDocument, offset: int) -> int | None:
    # What ``document.page_at(offset)`` answers, found by bisection: a long PDF has thousands of pages.
    number = bisect.bisect_right(document.page_starts, offset)
    return number or None
