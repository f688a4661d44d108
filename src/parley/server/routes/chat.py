"""POST /api/chat: the original sample's v1 contract, as one JSON answer or as Server-Sent Events; and
GET /api/chat/{msgid}/events: an answer's events again, from where a reader left off (``Last-Event-ID``)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import JSONResponse, StreamingResponse

from parley.core.chat.events import DeltaEvent, DoneEvent, ErrorEvent, StartEvent, StreamEvent
from parley.core.chat.live import Generation, Subscription
from parley.core.chat.request import ChatRequest
from parley.core.chat.resume import SavedAnswer
from parley.server.deps import PrincipalDep, RuntimeDep
from parley.server.errors import error_response, status_for_code
from parley.server.schemas import ChatRequestIn, ChatResponse, CitationOut, ErrorBody

router = APIRouter(prefix="/api", tags=["chat"])


@router.post(
    "/chat",
    response_model=ChatResponse,
    responses={
        200: {
            "content": {"text/event-stream": {}},
            "description": "JSON, or SSE events with Accept: text/event-stream",
        },
        400: {"model": ErrorBody},
        401: {"model": ErrorBody},
        404: {"model": ErrorBody},
        502: {"model": ErrorBody},
    },
)
async def chat(body: ChatRequestIn, request: Request, principal: PrincipalDep, runtime: RuntimeDep) -> object:
    generation = await runtime.chat.start(
        principal.user,
        ChatRequest(
            prompt=body.prompt,
            conversation_id=body.conversation_id,
            msgid=body.id,
            params=body.params.to_core(),
            edit_message_id=body.edit_message_id,
            attachments=tuple(body.attachments),
        ),
    )
    if "text/event-stream" in request.headers.get("accept", ""):
        return StreamingResponse(_sse(generation), media_type="text/event-stream", headers=_SSE_HEADERS)
    return await _collect(generation)


# How long an SSE client waits before it asks again for an answer that is still running elsewhere.
RETRY_MS = 1000
_SSE_HEADERS = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}


@router.get(
    "/chat/{msgid}/events",
    responses={
        200: {
            "content": {"text/event-stream": {}},
            "description": "The answer's events after Last-Event-ID (a delta's seq): what was missed as one delta, "
            "then the rest as it comes and done / error. Where the answer runs in another process (AWS), what "
            "is saved so far, then the stream ends with a retry hint until the answer has ended.",
        },
        401: {"model": ErrorBody},
        404: {"model": ErrorBody},
    },
)
async def answer_events(
    msgid: str,
    conversation_id: Annotated[str, Query(min_length=1, max_length=64)],
    principal: PrincipalDep,
    runtime: RuntimeDep,
    after_seq: Annotated[int, Query(ge=0)] = 0,
    last_event_id: Annotated[str | None, Header(max_length=20)] = None,
) -> StreamingResponse:
    """Rejoin an answer: ``Last-Event-ID`` (sent by an EventSource that reconnects) wins over ``after_seq``."""
    if last_event_id is not None and last_event_id.strip().isdigit():
        after_seq = int(last_event_id.strip())
    joined = await runtime.chat.resume(principal.user.id, conversation_id, msgid, after_seq)
    if isinstance(joined, SavedAnswer):
        return StreamingResponse(_saved_sse(joined), media_type="text/event-stream", headers=_SSE_HEADERS)
    return StreamingResponse(_followed_sse(joined), media_type="text/event-stream", headers=_SSE_HEADERS)


def sse_frame(event: StreamEvent) -> str:
    # A delta's id is its seq, so a client that reconnects says where it left off (Last-Event-ID).
    head = f"id: {event.seq}\n" if isinstance(event, DeltaEvent) else ""
    return f"{head}event: {event.type}\ndata: {json.dumps(event.to_dict(), separators=(',', ':'))}\n\n"


async def _saved_sse(saved: SavedAnswer) -> AsyncIterator[str]:
    for event in saved.events:
        yield sse_frame(event)
    if not saved.ended:  # still being written by another process: the client asks again, from its last id
        yield f"retry: {RETRY_MS}\n\n"


async def _followed_sse(subscription: Subscription) -> AsyncIterator[str]:
    try:
        async for event in subscription.events():
            yield sse_frame(event)
    finally:
        subscription.close()


async def _sse(generation: Generation) -> AsyncIterator[str]:
    try:
        async for event in generation.events():
            yield sse_frame(event)
    finally:
        # The client may have gone: the answer goes on and is saved, but nobody needs its events.
        generation.detach()


async def _collect(generation: Generation) -> object:
    start: StartEvent | None = None
    text: list[str] = []
    async for event in generation.events():
        if isinstance(event, StartEvent):
            start = event
        elif isinstance(event, DeltaEvent):
            text.append(event.text)
        elif isinstance(event, ErrorEvent):
            return error_response(status_for_code(event.code), event.code, event.message)
        elif isinstance(event, DoneEvent) and start is not None:
            return ChatResponse(
                id=generation.msgid,
                bot="".join(text),
                conversation_id=start.conversation_id,
                message_id=start.message_id,
                finish_reason=event.finish_reason,
                usage=event.usage,
                citations=[CitationOut(**citation) for citation in start.citations],
            )
    return JSONResponse({"error": {"code": "internal_error", "message": "The answer ended unexpectedly."}}, 500)
