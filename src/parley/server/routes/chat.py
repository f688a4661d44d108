"""POST /api/chat: the original sample's v1 contract, as one JSON answer or as Server-Sent Events."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, StreamingResponse

from parley.core.chat.events import DeltaEvent, DoneEvent, ErrorEvent, StartEvent, StreamEvent
from parley.core.chat.live import Generation
from parley.core.chat.request import ChatRequest
from parley.server.deps import PrincipalDep, RuntimeDep
from parley.server.errors import error_response, status_for_code
from parley.server.schemas import ChatRequestIn, ChatResponse, ErrorBody

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
        ),
    )
    if "text/event-stream" in request.headers.get("accept", ""):
        return StreamingResponse(
            _sse(generation),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        )
    return await _collect(generation)


def sse_frame(event: StreamEvent) -> str:
    return f"event: {event.type}\ndata: {json.dumps(event.to_dict(), separators=(',', ':'))}\n\n"


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
            )
    return JSONResponse({"error": {"code": "internal_error", "message": "The answer ended unexpectedly."}}, 500)
