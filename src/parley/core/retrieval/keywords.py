"""The words retrieval matches on: those of search (``search_text.words``: letters and digits, case- and
accent-insensitive), so a passage is found by the same words in both homes. A prompt is a question in full
sentences, so unlike a search box its words are alternatives (any may match; BM25 weighs the rare ones) and the
commonest English function words are left out: they would match every passage and only slow ranking down."""

from __future__ import annotations

import functools

from parley.core.store.search_text import WORD, normal

MAX_QUERY_TERMS = 48
MAX_TERM_CHARS = 64

STOP_WORDS = frozenset(
    """a an and are as at be but by can could did do does for from had has have how i if in into is it its me my
    of on or our please so tell than that the their them then there these they this those to us was we were what
    when where which who whom why will with would you your""".split()  # noqa: SIM905 (a list of 64 would be a page)
)


def terms(text: str) -> list[str]:
    """Every word of a passage, in order, in its normal form (stop words kept: they count in its length)."""
    return [word for match in WORD.finditer(text) if len(word := _normal(match.group())) <= MAX_TERM_CHARS]


# Words repeat (a few are most of any text): each distinct one is normalized once.
_normal = functools.lru_cache(maxsize=1 << 16)(normal)


def query_terms(query: str) -> list[str]:
    """The distinct words of a query worth matching, in order, at most ``MAX_QUERY_TERMS``; a query of nothing
    but stop words keeps them (``what is this?`` still asks something)."""
    seen: dict[str, None] = {}
    for word in terms(query):
        seen.setdefault(word, None)
    found = [word for word in seen if word not in STOP_WORDS] or list(seen)
    return found[:MAX_QUERY_TERMS]
