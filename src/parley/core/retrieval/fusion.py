"""Hybrid ranking: reciprocal rank fusion of ranked lists (keywords and vectors). Each list gives a passage
``1 / (k + rank)``; the sums decide. Only ranks count, so BM25 scores and cosine similarities, which are on no
common scale, need no calibration against each other."""

from __future__ import annotations

from collections.abc import Sequence

from parley.core.files.base import PassageHit

RRF_K = 60  # the constant of the original paper (Cormack et al., 2009): damps the weight of the very top ranks


def reciprocal_rank_fusion(lists: Sequence[Sequence[PassageHit]], limit: int, k: int = RRF_K) -> list[PassageHit]:
    """The passages of all lists, best first by fused score (ties: the order they were first met in)."""
    scores: dict[tuple[str, int], float] = {}
    found: dict[tuple[str, int], PassageHit] = {}
    for hits in lists:
        for rank, hit in enumerate(hits, start=1):
            key = (hit.passage.file_id, hit.passage.index)
            scores[key] = scores.get(key, 0.0) + 1.0 / (k + rank)
            found.setdefault(key, hit)
    ranked = sorted(scores, key=lambda key: -scores[key])  # sorted() is stable: ties keep their first-met order
    return [PassageHit(found[key].passage, scores[key]) for key in ranked[:limit]]


def fuse(keyword: list[PassageHit], similar: list[PassageHit], limit: int) -> list[PassageHit]:
    """A search's keyword and vector hits as one list: fused by rank when both found something, else whichever
    did (its own scores kept)."""
    if keyword and similar:
        return reciprocal_rank_fusion([keyword, similar], limit)
    return keyword or similar
