"""The one small interface every model provider implements."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

Role = Literal["system", "user", "assistant"]


@dataclass(frozen=True)
class ParamRange:
    min: float
    max: float
    default: float


@dataclass(frozen=True)
class ParamRanges:
    """What a model accepts; clients build their sliders from this, the core validates against it."""

    temperature: ParamRange = ParamRange(0.0, 2.0, 0.7)
    top_p: ParamRange = ParamRange(0.0, 1.0, 1.0)
    max_tokens: ParamRange = ParamRange(1, 4096, 1024)
    frequency_penalty: ParamRange = ParamRange(-2.0, 2.0, 0.0)
    presence_penalty: ParamRange = ParamRange(-2.0, 2.0, 0.0)


@dataclass(frozen=True)
class ModelInfo:
    id: str
    provider: str
    context_window: int = 8192
    display_name: str = ""
    ranges: ParamRanges = field(default_factory=ParamRanges)
    vision: bool = False  # takes images in user messages

    @property
    def label(self) -> str:
        return self.display_name or self.id


@dataclass(frozen=True)
class GenerationParams:
    temperature: float
    top_p: float
    max_tokens: int
    frequency_penalty: float
    presence_penalty: float


@dataclass(frozen=True)
class ImageInput:
    """An image attached to a user message. Between processes (the serverless path's SNS message is capped at
    256 KB) only ``file_id`` and ``media_type`` travel; ``data`` is loaded just before the provider is called."""

    file_id: str
    media_type: str
    data: bytes = b""


@dataclass(frozen=True)
class ChatMessage:
    role: Role
    content: str
    images: tuple[ImageInput, ...] = ()


@dataclass(frozen=True)
class TextChunk:
    text: str


@dataclass(frozen=True)
class Usage:
    prompt_tokens: int
    completion_tokens: int


@dataclass(frozen=True)
class UsageChunk:
    usage: Usage


@dataclass(frozen=True)
class FinishChunk:
    reason: str


Chunk = TextChunk | UsageChunk | FinishChunk


class Provider(Protocol):
    """A source of models.

    ``stream`` yields chunks as the model produces them. Closing the iterator early (``aclose``)
    must stop the generation. Failures are raised as ``parley.errors.ProviderError`` subclasses.
    """

    name: str

    async def list_models(self) -> list[ModelInfo]: ...

    def stream(
        self, model: str, messages: Sequence[ChatMessage], params: GenerationParams
    ) -> AsyncGenerator[Chunk, None]: ...

    async def warm_up(self) -> None:
        """Make the first answer fast (e.g. load weights); called in the background at start-up."""

    async def aclose(self) -> None: ...
