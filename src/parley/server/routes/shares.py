"""Share links: the owner makes, lists and revokes them; anyone holding one reads its snapshot, without logging in.

The public route reads no session (a cookie or token sent with it is ignored) and answers a revoked link exactly as
one that never existed. It is rate-limited per client address; its answers are never cached and never indexed
(``SecurityHeadersMiddleware`` gives every answer under /api/public/ the page's CSP and noindex, errors included).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request, Response

from parley.core.rate_limit import RateLimiter
from parley.core.shares.service import TOKEN_PATTERN
from parley.server.deps import PrincipalDep, RuntimeDep, client_address
from parley.server.schemas import ErrorBody, NewShareOut, PublicShareOut, ShareOut

router = APIRouter(tags=["shares"])

ConversationId = Annotated[str, Path(min_length=1, max_length=64)]
ShareId = Annotated[str, Path(min_length=1, max_length=64)]
# What is not even shaped like a token is refused as any malformed parameter is (422), before any lookup.
ShareToken = Annotated[str, Path(pattern=TOKEN_PATTERN, description="The secret in the link's /s/{token}.")]
_ERRORS: dict[int | str, dict[str, object]] = {401: {"model": ErrorBody}, 404: {"model": ErrorBody}}


@router.post("/api/conversations/{conversation_id}/shares", status_code=201, responses=_ERRORS)
async def create_share(conversation_id: ConversationId, principal: PrincipalDep, runtime: RuntimeDep) -> NewShareOut:
    """Share the conversation's current branch as it is now: later edits and new messages do not change the link.
    Deleting the conversation deletes its links."""
    made = await runtime.shares.create(principal.user.id, conversation_id)
    return NewShareOut(**ShareOut.of(made.share).model_dump(), url=made.path, token=made.token)


@router.get("/api/shares", responses={401: {"model": ErrorBody}})
async def list_shares(principal: PrincipalDep, runtime: RuntimeDep) -> list[ShareOut]:
    """The user's shared links, newest first (without their tokens, which are not kept)."""
    return [ShareOut.of(share) for share in await runtime.shares.list_shares(principal.user.id)]


@router.delete("/api/shares/{share_id}", status_code=204, responses=_ERRORS)
async def revoke_share(share_id: ShareId, principal: PrincipalDep, runtime: RuntimeDep) -> Response:
    """Revoke a link: it stops working at once, and answers as if it had never existed."""
    await runtime.shares.revoke(principal.user.id, share_id)
    return Response(status_code=204)


@router.get("/api/public/shares/{token}", responses={404: {"model": ErrorBody}, 429: {"model": ErrorBody}})
async def read_share(token: ShareToken, request: Request, runtime: RuntimeDep) -> PublicShareOut:
    """A shared conversation, for anyone holding its link (no login)."""
    limiter: RateLimiter = request.app.state.share_rate_limit
    await limiter.check(f"share-view:{client_address(request) or 'unknown'}")
    return PublicShareOut.of(await runtime.shares.read(token))
