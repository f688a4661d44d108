"""The ``openai`` provider type: any OpenAI-compatible chat completions API, through the official SDK.

The SDK never retries (``max_retries=0``): the chat core retries before the first chunk itself
(``parley.core.chat.upstream``). SDK errors become ``parley.errors`` types:

    401, 403                       ProviderAuthError
    429                            ProviderRateLimited (retry_after from Retry-After / retry-after-ms)
    5xx, connection refused        ProviderUnavailable
    404                            ProviderError (unknown model, or a wrong base URL)
    read or connect timeout        ProviderTimeout (also mid-stream: a silent server is a timeout)
    stream breaks mid-answer       StreamInterrupted once a chunk was yielded, else ProviderUnavailable

The SDK's own read timeout is a backstop at the larger of the first-token and idle timeouts; the
chat core enforces those timeouts precisely.
"""

from __future__ import annotations

import base64
import email.utils
import logging
import time
from collections.abc import AsyncGenerator, Mapping, Sequence
from typing import Any, Final

import openai
from openai.types.chat import ChatCompletionContentPartParam, ChatCompletionMessageParam

from parley.config import Settings
from parley.core.providers.base import (
    ChatMessage,
    Chunk,
    FinishChunk,
    GenerationParams,
    ModelInfo,
    Provider,
    TextChunk,
    Usage,
    UsageChunk,
)
from parley.core.providers.endpoints import Endpoint
from parley.core.providers.registry import provider_type
from parley.core.providers.vision import OPENAI_COMPATIBLE, image_bytes, sees
from parley.errors import (
    ParleyError,
    ProviderAuthError,
    ProviderError,
    ProviderRateLimited,
    ProviderTimeout,
    ProviderUnavailable,
    StreamInterrupted,
)

log = logging.getLogger(__name__)

OPENAI_BASE_URL: Final = "https://api.openai.com/v1"
NO_API_KEY: Final = "not-needed"  # local servers (Ollama, vLLM, llama.cpp) accept any key
DEFAULT_CONTEXT_WINDOW: Final = 8192
CONNECT_TIMEOUT: Final = 10.0
# Keys some OpenAI-compatible servers add to /models entries (OpenRouter, LM Studio, vLLM).
_CONTEXT_WINDOW_KEYS: Final = ("context_window", "context_length", "max_model_len")


class OpenAICompatProvider:
    def __init__(self, endpoint: Endpoint, settings: Settings) -> None:
        self.name = endpoint.name
        self._endpoint = endpoint
        read_timeout = max(settings.first_token_timeout, settings.token_idle_timeout)
        self._client = openai.AsyncOpenAI(
            base_url=endpoint.base_url or OPENAI_BASE_URL,  # explicit: the SDK must not read the environment
            api_key=endpoint.api_key or NO_API_KEY,
            max_retries=0,
            timeout=openai.Timeout(read_timeout, connect=min(CONNECT_TIMEOUT, read_timeout)),
        )

    async def list_models(self) -> list[ModelInfo]:
        if self._endpoint.models:
            return [
                ModelInfo(
                    id=entry.id,
                    provider=self.name,
                    context_window=entry.context_window or DEFAULT_CONTEXT_WINDOW,
                    display_name=entry.display_name,
                    vision=sees(entry.id, OPENAI_COMPATIBLE) if entry.vision is None else entry.vision,
                )
                for entry in self._endpoint.models
            ]
        try:
            page = await self._client.models.list()
        except openai.APIError as exc:
            raise self._translate(exc, "listing models") from None
        return [
            ModelInfo(
                id=model.id,
                provider=self.name,
                context_window=_context_window(model.model_extra or {}),
                vision=sees(model.id, OPENAI_COMPATIBLE),
            )
            for model in page.data
        ]

    async def stream(
        self, model: str, messages: Sequence[ChatMessage], params: GenerationParams
    ) -> AsyncGenerator[Chunk, None]:
        # The messages are already in the wire format: posting the body as it is skips the SDK's per-request
        # re-validation of every message, and AsyncStream[dict] skips building a model for every chunk.
        body = {
            "model": model,
            "messages": [_to_openai(message) for message in messages],
            "stream": True,
            "stream_options": {"include_usage": True},
            "temperature": params.temperature,
            "top_p": params.top_p,
            "max_tokens": params.max_tokens,
            "frequency_penalty": params.frequency_penalty,
            "presence_penalty": params.presence_penalty,
        }
        try:
            response = await self._client.post(
                "/chat/completions",
                body=body,
                cast_to=object,
                stream=True,
                stream_cls=openai.AsyncStream[dict[str, Any]],
            )
        except openai.APIError as exc:
            raise self._translate(exc, f"starting a chat with {model!r}") from None

        yielded = False
        try:
            async with response:  # closes the HTTP response however this generator ends, aclose() included
                async for chunk in response:
                    for choice in chunk.get("choices") or ():
                        content = (choice.get("delta") or {}).get("content")
                        if content:
                            yielded = True
                            yield TextChunk(content)
                        if choice.get("finish_reason"):
                            yielded = True
                            yield FinishChunk(choice["finish_reason"])
                    usage = chunk.get("usage")
                    if usage:
                        yielded = True
                        yield UsageChunk(Usage(usage["prompt_tokens"], usage["completion_tokens"]))
        except openai.APITimeoutError as exc:
            raise self._translate(exc, f"streaming from {model!r}") from None
        except Exception as exc:  # the SDK wraps transport errors, but a stream must only raise ProviderError
            log.warning("endpoint %r: stream from %r broke: %s", self.name, model, self._redact(exc))
            if yielded:
                raise StreamInterrupted() from None
            raise ProviderUnavailable("The model provider closed the connection before answering.") from None

    async def warm_up(self) -> None:
        return None

    async def aclose(self) -> None:
        await self._client.close()

    def _translate(self, exc: openai.APIError, doing: str) -> ProviderError:
        """The user-safe error for an SDK error; the detail goes to the log."""
        log.warning("endpoint %r: %s failed: %s", self.name, doing, self._redact(exc))
        if isinstance(exc, openai.APITimeoutError):
            return ProviderTimeout()
        if isinstance(exc, openai.APIConnectionError):
            return ProviderUnavailable(f"Could not connect to the model provider {self.name!r}.")
        if isinstance(exc, openai.AuthenticationError | openai.PermissionDeniedError):
            return ProviderAuthError()
        if isinstance(exc, openai.RateLimitError):
            return ProviderRateLimited(retry_after=_retry_after(exc.response.headers))
        if isinstance(exc, openai.NotFoundError):
            return ProviderError(
                f"The model provider {self.name!r} does not offer that model (or its base URL is wrong)."
            )
        if isinstance(exc, openai.APIStatusError) and exc.status_code >= 500:
            return ProviderUnavailable()
        if isinstance(exc, openai.APIStatusError):
            return ProviderError(f"The model provider refused the request (HTTP {exc.status_code}).")
        return ProviderError()

    def _redact(self, exc: BaseException) -> str:
        text = f"{type(exc).__name__}: {exc}"
        cause = exc.__cause__ or exc.__context__
        if cause is not None and not isinstance(exc, openai.APIStatusError):  # a status error says it all
            text += f" ({type(cause).__name__}: {cause})"
        key = self._endpoint.api_key
        return text.replace(key, "***") if key else text


@provider_type("openai")
def create_openai_provider(endpoint: Endpoint, settings: Settings) -> Provider:
    return OpenAICompatProvider(endpoint, settings)


def _to_openai(message: ChatMessage) -> ChatCompletionMessageParam:
    if message.images and message.role != "user":
        raise ParleyError(f"Images can only be sent in a user message, not a {message.role} message.")
    if message.role == "system":
        return {"role": "system", "content": message.content}
    if message.role == "assistant":
        return {"role": "assistant", "content": message.content}
    if not message.images:
        return {"role": "user", "content": message.content}
    # Images alone are a message too; an empty text part is left out rather than sent.
    parts: list[ChatCompletionContentPartParam] = [{"type": "text", "text": message.content}] if message.content else []
    for image in message.images:
        url = f"data:{image.media_type};base64,{base64.b64encode(image_bytes(image)).decode('ascii')}"
        parts.append({"type": "image_url", "image_url": {"url": url}})
    return {"role": "user", "content": parts}


def _context_window(extra: Mapping[str, Any]) -> int:
    for key in _CONTEXT_WINDOW_KEYS:
        value = extra.get(key)
        if isinstance(value, int) and value > 0:
            return value
    return DEFAULT_CONTEXT_WINDOW


def _retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds to wait from ``retry-after-ms``, or ``Retry-After`` as seconds or an HTTP date."""
    try:
        if "retry-after-ms" in headers:
            return max(0.0, float(headers["retry-after-ms"]) / 1000)
        raw = headers.get("retry-after")
        if raw is None:
            return None
        if raw.strip().replace(".", "", 1).isdigit():
            return float(raw)
        return max(0.0, email.utils.parsedate_to_datetime(raw).timestamp() - time.time())
    except (ValueError, TypeError):
        return None
