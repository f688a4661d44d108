"""Search over what was said: the words of a user's own conversations, their titles and final messages."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from parley.core.store.search_text import MAX_QUERY_CHARS
from parley.server.deps import PrincipalDep, RuntimeDep
from parley.server.schemas import ErrorBody, SearchHitOut, SearchPageOut

router = APIRouter(prefix="/api/search", tags=["search"])


@router.get("", responses={401: {"model": ErrorBody}, 400: {"model": ErrorBody}})
async def search(
    principal: PrincipalDep,
    runtime: RuntimeDep,
    q: Annotated[
        str,
        Query(
            max_length=MAX_QUERY_CHARS,
            description="Words, all of which must appear, in any order, matched whole and regardless of case and "
            "accents. Punctuation is not syntax (no quotes, operators or wildcards); no words finds nothing.",
        ),
    ],
    limit: Annotated[int, Query(ge=1, le=50, description="Hits per page.")] = 20,
    cursor: Annotated[str | None, Query(max_length=512, description="`next_cursor` of the previous page.")] = None,
) -> SearchPageOut:
    """Where words were said in the user's conversations (messages once they are final, and titles), best
    first, each with a snippet in which the words found are marked."""
    page = await runtime.stores.search.search(principal.user.id, q, limit, cursor)
    return SearchPageOut(items=[SearchHitOut.of(hit) for hit in page.items], next_cursor=page.next_cursor)
