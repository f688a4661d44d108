"""OpenAI's chat completions shapes, as far as Parley serves them. Unknown fields are ignored, as OpenAI does, so
that clients written for OpenAI (which send ``user``, ``seed``, ``logprobs``...) work unchanged."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from parley.core.openai_api.request import MAX_MESSAGES, MAX_STOP_CHARS, MAX_STOP_SEQUENCES, CompletionRequest
from parley.core.providers.base import ChatMessage, ModelInfo, Role
from parley.errors import InvalidParameter


class Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore")


class ContentPartIn(Lenient):
    type: str = Field(max_length=64)
    text: str | None = None


class MessageIn(Lenient):
    # "developer" is what newer OpenAI models call the system message.
    role: Literal["system", "developer", "user", "assistant"]
    content: str | list[ContentPartIn] | None = None

    def to_core(self, index: int) -> ChatMessage:
        role: Role = "system" if self.role == "developer" else self.role
        if self.content is None or isinstance(self.content, str):
            return ChatMessage(role, self.content or "")
        texts = []
        for part in self.content:
            if part.type != "text" or part.text is None:
                raise InvalidParameter(
                    f"messages[{index}].content", "Only text content parts are supported by this server."
                )
            texts.append(part.text)
        return ChatMessage(role, "".join(texts))


class StreamOptionsIn(Lenient):
    include_usage: bool = False


class ChatCompletionIn(Lenient):
    model: str = Field(min_length=1, max_length=256)
    messages: list[MessageIn] = Field(min_length=1, max_length=MAX_MESSAGES)
    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = Field(default=None, ge=1)
    max_completion_tokens: int | None = Field(default=None, ge=1)
    stop: str | list[str] | None = None
    stream: bool | None = False
    stream_options: StreamOptionsIn | None = None
    n: int | None = None

    def to_core(self) -> CompletionRequest:
        if self.n not in (None, 1):
            raise InvalidParameter("n", "Only n=1 is supported: one choice per request.")
        stops = [self.stop] if isinstance(self.stop, str) else list(self.stop or [])
        if len(stops) > MAX_STOP_SEQUENCES or any(len(stop) > MAX_STOP_CHARS for stop in stops):
            raise InvalidParameter("stop", f"Up to {MAX_STOP_SEQUENCES} stop sequences of {MAX_STOP_CHARS} characters.")
        return CompletionRequest(
            model=self.model,
            messages=tuple(message.to_core(index) for index, message in enumerate(self.messages)),
            temperature=self.temperature,
            top_p=self.top_p,
            # The newer name wins, as it does at OpenAI.
            max_tokens=self.max_completion_tokens or self.max_tokens,
            stop=tuple(stops),
            stream=bool(self.stream),
            include_usage=bool(self.stream and self.stream_options and self.stream_options.include_usage),
        )


def model_object(info: ModelInfo) -> dict[str, Any]:
    return {"id": info.id, "object": "model", "created": 0, "owned_by": info.provider}


class OpenAIErrorDetail(BaseModel):
    message: str
    type: str
    param: str | None
    code: str | None


class OpenAIErrorBody(BaseModel):
    error: OpenAIErrorDetail
