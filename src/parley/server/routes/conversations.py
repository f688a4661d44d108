"""A user's conversation history. Another user's conversation is simply not found."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from parley.errors import InvalidInput, NotFound
from parley.server.deps import PrincipalDep, RuntimeDep
from parley.server.schemas import (
    ConversationDetailOut,
    ConversationOut,
    ConversationPageOut,
    ErrorBody,
    RenameRequest,
    SwitchBranchRequest,
)

router = APIRouter(prefix="/api/conversations", tags=["conversations"])

ConversationId = Annotated[str, Path(min_length=1, max_length=64)]
_ERRORS: dict[int | str, dict[str, object]] = {401: {"model": ErrorBody}, 404: {"model": ErrorBody}}


@router.get("", responses={401: {"model": ErrorBody}, 400: {"model": ErrorBody}})
async def list_conversations(
    principal: PrincipalDep,
    runtime: RuntimeDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
    q: Annotated[str | None, Query(max_length=200, description="Only titles containing this text")] = None,
) -> ConversationPageOut:
    page = await runtime.stores.conversations.list_conversations(
        principal.user.id, limit, cursor, title_contains=q.strip() if q else None
    )
    return ConversationPageOut(items=[ConversationOut.of(c) for c in page.items], next_cursor=page.next_cursor)


@router.get("/{conversation_id}", responses=_ERRORS)
async def get_conversation(
    conversation_id: ConversationId, principal: PrincipalDep, runtime: RuntimeDep
) -> ConversationDetailOut:
    conversation = await runtime.stores.conversations.get_conversation(principal.user.id, conversation_id)
    branch = await runtime.chat.history(principal.user.id, conversation_id)
    if conversation is None or branch is None:
        raise NotFound("Conversation not found.")
    return ConversationDetailOut.of_branch(conversation, branch)


@router.put("/{conversation_id}/leaf", responses=_ERRORS)
async def switch_branch(
    conversation_id: ConversationId, body: SwitchBranchRequest, principal: PrincipalDep, runtime: RuntimeDep
) -> ConversationDetailOut:
    """Show and continue another branch: the one through ``message_id``, down to the newest leaf below it."""
    branch = await runtime.chat.switch_branch(principal.user.id, conversation_id, body.message_id)
    conversation = await runtime.stores.conversations.get_conversation(principal.user.id, conversation_id)
    if conversation is None or branch is None:
        raise NotFound("Message not found.")
    return ConversationDetailOut.of_branch(conversation, branch)


@router.patch("/{conversation_id}", responses=_ERRORS)
async def rename_conversation(
    conversation_id: ConversationId, body: RenameRequest, principal: PrincipalDep, runtime: RuntimeDep
) -> ConversationOut:
    title = " ".join(body.title.split())
    if not title:
        raise InvalidInput("The title is empty.")
    conversation = await runtime.stores.conversations.rename_conversation(principal.user.id, conversation_id, title)
    if conversation is None:
        raise NotFound("Conversation not found.")
    return ConversationOut.of(conversation)


@router.delete("/{conversation_id}", status_code=204, responses=_ERRORS)
async def delete_conversation(
    conversation_id: ConversationId, principal: PrincipalDep, runtime: RuntimeDep
) -> Response:
    if not await runtime.stores.conversations.delete_conversation(principal.user.id, conversation_id):
        raise NotFound("Conversation not found.")
    return Response(status_code=204)
