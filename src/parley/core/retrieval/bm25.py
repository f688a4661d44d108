"""A document's keyword index built once, when the file is processed, and stored in pieces (items of a table):
where there is no full-text engine (DynamoDB), a query reads, of each attached document, its passages' lengths
and only the shards of the index that hold the query's words (a word's shard is a hash of it), and ranks with
BM25 in the process, without reading or tokenizing any passage. Scores of several documents are computed with
their statistics pooled, as if they were one collection."""

from __future__ import annotations

import heapq
import json
import math
import zlib
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from parley.core.files.base import Passage
from parley.core.retrieval.keywords import terms

K1, B = 1.2, 0.75  # BM25's usual constants (those of SQLite's FTS5 bm25() too)
MAX_SHARDS = 256
_FORMAT = 1


@dataclass(frozen=True)
class KeywordIndex:
    lengths: tuple[int, ...]  # words in each passage, by passage index
    postings: dict[str, tuple[int, ...]]  # word -> passage index, count, passage index, count, ...

    @classmethod
    def build(cls, passages: Sequence[Passage]) -> KeywordIndex:
        lengths: list[int] = []
        postings: dict[str, list[int]] = {}
        for position, passage in enumerate(passages):
            words = terms(passage.text)
            lengths.append(len(words))
            for word, count in Counter(words).items():
                postings.setdefault(word, []).extend((position, count))
        return cls(tuple(lengths), {word: tuple(found) for word, found in postings.items()})

    def lengths_bytes(self) -> bytes:
        return _pack({"format": _FORMAT, "lengths": self.lengths})

    def shard_bytes(self, count: int) -> list[bytes]:
        """The postings cut into ``count`` shards by word, each compressed; shard n holds the words
        ``shard_of(word, count) == n``."""
        shards: list[dict[str, tuple[int, ...]]] = [{} for _ in range(count)]
        for word, found in self.postings.items():
            shards[shard_of(word, count)][word] = found
        return [_pack({"format": _FORMAT, "postings": shard}) for shard in shards]

    @classmethod
    def from_parts(cls, lengths: bytes, shards: Iterable[bytes]) -> KeywordIndex:
        """The index with the postings of these shards only (enough for words that hash to them)."""
        postings: dict[str, tuple[int, ...]] = {}
        for shard in shards:
            postings.update((word, tuple(found)) for word, found in _unpack(shard)["postings"].items())
        return cls(tuple(_unpack(lengths)["lengths"]), postings)


def shard_count(passages: int) -> int:
    """Shards for a document of this many passages: a few passages' postings each, so a query reads little."""
    return max(1, min(MAX_SHARDS, passages // 4))


def shard_of(word: str, count: int) -> int:
    return zlib.crc32(word.encode()) % count


def _pack(data: dict[str, object]) -> bytes:
    return zlib.compress(json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode(), 6)


def _unpack(blob: bytes) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(zlib.decompress(blob))
    if data.get("format") != _FORMAT:
        raise ValueError(f"unknown keyword index format {data.get('format')!r}")
    return data


def rank(indexes: Sequence[KeywordIndex], query: Sequence[str], limit: int) -> list[tuple[int, int, float]]:
    """The best ``limit`` passages for the query words as (which index, passage index, score), best first."""
    count = sum(len(index.lengths) for index in indexes)
    if count == 0 or not query:
        return []
    average = sum(sum(index.lengths) for index in indexes) / count or 1.0
    scores: dict[tuple[int, int], float] = {}
    for word in query:
        matched = sum(len(index.postings.get(word, ())) // 2 for index in indexes)
        if not matched:
            continue
        idf = math.log(1.0 + (count - matched + 0.5) / (matched + 0.5))
        for which, index in enumerate(indexes):
            found = index.postings.get(word, ())
            lengths = index.lengths
            for at in range(0, len(found), 2):
                passage, tf = found[at], found[at + 1]
                norm = tf + K1 * (1.0 - B + B * lengths[passage] / average)
                key = (which, passage)
                scores[key] = scores.get(key, 0.0) + idf * tf * (K1 + 1.0) / norm
    best = heapq.nlargest(limit, scores.items(), key=lambda item: (item[1], -item[0][0], -item[0][1]))
    return [(which, passage, score) for (which, passage), score in best]
