"""OpenAI's chat completions shapes, as far as Parley serves them. Unknown fields are ignored, as OpenAI does, so
that clients written for OpenAI (which send ``user``, ``seed``, ``logprobs``...) work unchanged."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from parley.core.openai_api.request import (
    MAX_IMAGES,
    MAX_MESSAGES,
    MAX_STOP_CHARS,
    MAX_STOP_SEQUENCES,
    CompletionRequest,
    image_from_url,
)
from parley.core.providers.base import ChatMessage, ModelInfo, Role
from parley.errors import InvalidParameter


class Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore")


class ImageUrlIn(Lenient):
    url: str
    detail: str | None = Field(default=None, max_length=16)  # accepted and not used: the image is sent as it is


class ContentPartIn(Lenient):
    type: str = Field(max_length=64)
    text: str | None = None
    image_url: ImageUrlIn | str | None = None  # OpenAI's shape is {"url": ...}; some clients send the URL alone


class MessageIn(Lenient):
    # "developer" is what newer OpenAI models call the system message.
    role: Literal["system", "developer", "user", "assistant"]
    content: str | list[ContentPartIn] | None = None

    def to_core(self, index: int) -> ChatMessage:
        role: Role = "system" if self.role == "developer" else self.role
        if self.content is None or isinstance(self.content, str):
            return ChatMessage(role, self.content or "")
        texts = []
        images = []
        for number, part in enumerate(self.content):
            if part.type == "text" and part.text is not None:
                texts.append(part.text)
            elif part.type == "image_url" and part.image_url is not None:
                param = f"messages[{index}].content[{number}].image_url"
                if role != "user":
                    raise InvalidParameter(param, "Images can only be sent in user messages.")
                url = part.image_url if isinstance(part.image_url, str) else part.image_url.url
                images.append(image_from_url(url, param))
            else:
                raise InvalidParameter(
                    f"messages[{index}].content", "Only text and image_url content parts are supported by this server."
                )
        return ChatMessage(role, "".join(texts), images=tuple(images))


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
        parts = (part for message in self.messages if isinstance(message.content, list) for part in message.content)
        if sum(part.type == "image_url" for part in parts) > MAX_IMAGES:  # counted before any is decoded
            raise InvalidParameter("messages", f"At most {MAX_IMAGES} images can be sent in one request.")
        messages = tuple(message.to_core(index) for index, message in enumerate(self.messages))
        return CompletionRequest(
            model=self.model,
            messages=messages,
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
