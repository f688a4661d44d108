"""The OpenAI-compatible API: ``GET /v1/models`` and ``POST /v1/chat/completions``, for OpenAI clients with a Parley
API key as ``Authorization: Bearer``. Only a key authenticates here (never a session cookie or token), and a key
authenticates nowhere else. Errors take OpenAI's shape (``server/openai_errors.py``)."""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import aclosing
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import JSONResponse, StreamingResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from parley.core.auth.api_keys import KeyHolder
from parley.core.openai_api.completions import CompletionOutcome, CompletionRun
from parley.core.providers.base import Usage
from parley.errors import ParleyError
from parley.server.deps import RuntimeDep, rate_limit
from parley.server.errors import status_for
from parley.server.openai_errors import openai_error_body, openai_status_and_code
from parley.server.openai_schemas import ChatCompletionIn, OpenAIErrorBody, model_object

router = APIRouter(prefix="/v1", tags=["openai"])
COMPLETIONS_PATH = "/v1/chat/completions"

_key_bearer = HTTPBearer(auto_error=False, description="A Parley API key (parley_...), made in the web app or CLI.")
_ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": OpenAIErrorBody} for status in (400, 401, 404, 429, 500, 502, 503, 504)
}
_SSE_HEADERS = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}


def is_completion(method: str, path: str) -> bool:
    """A chat completions request, whose body has a limit of its own (``max_completion_bytes``): it may hold images."""
    return method == "POST" and path == COMPLETIONS_PATH


async def get_key_holder(
    request: Request,
    runtime: RuntimeDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_key_bearer)],
) -> KeyHolder:
    holder = await runtime.api_keys.authenticate(credentials.credentials if credentials else None)
    await rate_limit(request.app).check(holder.user.id)
    return holder


KeyHolderDep = Annotated[KeyHolder, Depends(get_key_holder)]


@router.get("/models", responses=_ERRORS)
async def list_models(_: KeyHolderDep, runtime: RuntimeDep) -> dict[str, Any]:
    return {"object": "list", "data": [model_object(info) for info in runtime.completions.list_models()]}


@router.get("/models/{model_id:path}", responses=_ERRORS)
async def get_model(
    model_id: Annotated[str, Path(min_length=1, max_length=256)], _: KeyHolderDep, runtime: RuntimeDep
) -> dict[str, Any]:
    return model_object(runtime.models.get(model_id).info)


@router.post(
    "/chat/completions",
    responses={
        200: {"content": {"text/event-stream": {}}, "description": "chat.completion, or chunks with stream: true"},
        **_ERRORS,
    },
)
async def chat_completions(body: ChatCompletionIn, holder: KeyHolderDep, runtime: RuntimeDep) -> object:
    request = body.to_core()
    run = await runtime.completions.start(holder, request)
    if not request.stream:
        return JSONResponse(completion_object(run, await run.collect()))
    deltas = run.deltas()
    # The first text is awaited before the response starts, so a provider that fails before answering gets its
    # own status (429, 502...) rather than a 200 with an error event.
    try:
        first: str | None = await anext(deltas)
    except StopAsyncIteration:
        first = None
    return StreamingResponse(_chunks(run, first, deltas), media_type="text/event-stream", headers=_SSE_HEADERS)


def completion_object(run: CompletionRun, outcome: CompletionOutcome) -> dict[str, Any]:
    return {
        "id": run.id,
        "object": "chat.completion",
        "created": run.created,
        "model": run.model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": outcome.text, "refusal": None},
                "logprobs": None,
                "finish_reason": outcome.finish_reason,
            }
        ],
        "usage": _usage(outcome.usage),
    }


def _usage(usage: Usage) -> dict[str, int]:
    total = usage.prompt_tokens + usage.completion_tokens
    return {"prompt_tokens": usage.prompt_tokens, "completion_tokens": usage.completion_tokens, "total_tokens": total}


class _ChunkEncoder:
    """``chat.completion.chunk`` events. The envelope is encoded once per answer, so a token costs one string
    escape: the fields around the text never change."""

    def __init__(self, run: CompletionRun, include_usage: bool) -> None:
        envelope = {"id": run.id, "object": "chat.completion.chunk", "created": run.created, "model": run.model}
        head = json.dumps(envelope, separators=(",", ":"))[:-1]
        self._head = head
        self._usage_null = ',"usage":null' if include_usage else ""
        self._text_head = f'data: {head},"choices":[{{"index":0,"delta":{{"content":'
        self._text_tail = f'}},"logprobs":null,"finish_reason":null}}]{self._usage_null}}}\n\n'

    def text(self, text: str) -> str:
        return self._text_head + json.dumps(text) + self._text_tail

    def choice(self, delta: dict[str, Any], finish_reason: str | None) -> str:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}
        return f'data: {self._head},"choices":[{json.dumps(choice, separators=(",", ":"))}]{self._usage_null}}}\n\n'

    def usage(self, usage: Usage) -> str:
        return f'data: {self._head},"choices":[],"usage":{json.dumps(_usage(usage), separators=(",", ":"))}}}\n\n'


def _error_event(error: ParleyError) -> str:
    status, code = openai_status_and_code(error, status_for(type(error)))
    return f"data: {json.dumps(openai_error_body(status, error.message, code))}\n\n"


async def _chunks(run: CompletionRun, first: str | None, deltas: AsyncGenerator[str, None]) -> AsyncIterator[str]:
    """The answer's events. When the client goes away, the response's task is cancelled: closing ``deltas``
    then stops the model."""
    encoder = _ChunkEncoder(run, run.request.include_usage)
    async with aclosing(deltas):
        yield encoder.choice({"role": "assistant", "content": ""}, None)
        if first is not None:
            yield encoder.text(first)
        try:
            async for text in deltas:
                yield encoder.text(text)
        except ParleyError as error:  # after the response started: OpenAI's clients read an error event
            yield _error_event(error)
            return
    outcome = run.outcome
    assert outcome is not None
    yield encoder.choice({}, outcome.finish_reason)
    if run.request.include_usage:
        yield encoder.usage(outcome.usage)
    yield "data: [DONE]\n\n"
