"""The ``openai`` provider type: any OpenAI-compatible chat completions API, over aiohttp.

The stream is read with aiohttp and a small SSE decoder rather than the official SDK: relaying 50 answers at
once, the SDK (its HTTP client, SSE decoding and per-chunk object building) took almost half of the server's
event loop; aiohttp reads the same chunks for about a quarter of the CPU (``bench/README.md``, benchmark 1).

Nothing is retried here: the chat core retries before the first chunk itself (``parley.core.chat.upstream``).
Failures become ``parley.errors`` types:

    401, 403                       ProviderAuthError
    429                            ProviderRateLimited (retry_after from Retry-After / retry-after-ms)
    5xx, connection refused        ProviderUnavailable
    404                            ProviderError (unknown model, or a wrong base URL)
    other 4xx                      ProviderError naming the status
    read or connect timeout        ProviderTimeout (also mid-stream: a silent server is a timeout)
    stream breaks mid-answer       StreamInterrupted once a chunk was yielded, else ProviderUnavailable
                                   (an ``error`` object in the stream too)

The socket read timeout is a backstop at the larger of the first-token and idle timeouts; the chat core
enforces those timeouts precisely.
"""

from __future__ import annotations

import asyncio
import base64
import email.utils
import json
import logging
import time
from collections.abc import AsyncGenerator, AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any, Final

import aiohttp

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
from parley.core.providers.sse import SSEDecoder
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


# The most connections kept to one endpoint at once (the SDK's default); more requests wait for one.
MAX_CONNECTIONS: Final = 1000
ERROR_BODY_BYTES: Final = 4096  # of an error response, for the log

WireMessage = dict[str, Any]  # a chat message as the API takes it


class UpstreamStatusError(Exception):
    """The endpoint answered with an error status; mapped to a ProviderError by ``_translate``."""

    def __init__(self, status: int, headers: Mapping[str, str], detail: str) -> None:
        super().__init__(f"HTTP {status}: {detail}")
        self.status = status
        self.headers = headers


class UpstreamStreamError(Exception):
    """The stream itself said something went wrong (an ``error`` object, or data that is not JSON)."""


class OpenAICompatProvider:
    def __init__(self, endpoint: Endpoint, settings: Settings) -> None:
        self.name = endpoint.name
        self._endpoint = endpoint
        self._base_url = (endpoint.base_url or OPENAI_BASE_URL).rstrip("/")
        self._headers = {"Authorization": f"Bearer {endpoint.api_key or NO_API_KEY}"}
        read_timeout = max(settings.first_token_timeout, settings.token_idle_timeout)
        self._timeout = aiohttp.ClientTimeout(
            total=None, sock_connect=min(CONNECT_TIMEOUT, read_timeout), sock_read=read_timeout
        )
        # Made in the loop that first uses it (an aiohttp session belongs to one event loop).
        self._session: aiohttp.ClientSession | None = None
        self._session_loop: asyncio.AbstractEventLoop | None = None
        self._closed = False

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
            async with self._request("GET", "/models") as response:
                page = await response.json(content_type=None)
            entries = [entry for entry in page["data"] if isinstance(entry, dict) and isinstance(entry.get("id"), str)]
        except (aiohttp.ClientError, TimeoutError, UpstreamStatusError, ValueError, KeyError, TypeError) as exc:
            raise self._translate(exc, "listing models") from None
        return [
            ModelInfo(
                id=entry["id"],
                provider=self.name,
                context_window=_context_window(entry),
                vision=sees(entry["id"], OPENAI_COMPATIBLE),
            )
            for entry in entries
        ]

    async def stream(
        self, model: str, messages: Sequence[ChatMessage], params: GenerationParams
    ) -> AsyncGenerator[Chunk, None]:
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
        yielded = False
        try:
            async with self._request("POST", "/chat/completions", json=body) as response:
                decoder = SSEDecoder()
                async for piece in response.content.iter_any():
                    for event in decoder.feed(piece):
                        if event.data == b"[DONE]":
                            return
                        for chunk in _chunks(event.data):
                            yielded = True
                            yield chunk
        except (TimeoutError, UpstreamStatusError) as exc:
            raise self._translate(exc, f"streaming from {model!r}") from None
        except aiohttp.ClientConnectorError as exc:  # never connected: nothing was sent
            raise self._translate(exc, f"starting a chat with {model!r}") from None
        except (aiohttp.ClientError, UpstreamStreamError) as exc:
            log.warning("endpoint %r: stream from %r broke: %s", self.name, model, self._redact(exc))
            if yielded:
                raise StreamInterrupted() from None
            raise ProviderUnavailable("The model provider closed the connection before answering.") from None

    async def warm_up(self) -> None:
        return None

    async def aclose(self) -> None:
        self._closed = True
        if self._session is not None:
            await self._session.close()
            self._session = None

    @asynccontextmanager
    async def _request(self, method: str, path: str, **kwargs: Any) -> AsyncIterator[aiohttp.ClientResponse]:
        """The response to a request, raising UpstreamStatusError for an error status. Leaving early (a stream
        closed by its reader) hangs up rather than reading the rest of the answer."""
        async with self._client().request(method, self._base_url + path, **kwargs) as response:
            if response.status >= 400:
                raise UpstreamStatusError(response.status, response.headers, await _error_detail(response))
            try:
                yield response
            finally:
                if not response.content.at_eof():
                    response.close()

    def _client(self) -> aiohttp.ClientSession:
        if self._closed:
            raise RuntimeError(f"the provider {self.name!r} is closed")
        loop = asyncio.get_running_loop()
        if self._session is None or self._session.closed or self._session_loop is not loop:
            self._session_loop = loop
            self._session = aiohttp.ClientSession(
                headers=self._headers,
                timeout=self._timeout,
                connector=aiohttp.TCPConnector(limit=MAX_CONNECTIONS),
                trust_env=True,  # HTTP(S)_PROXY and NO_PROXY, as any HTTP client honours them
            )
        return self._session

    def _translate(self, exc: Exception, doing: str) -> ProviderError:
        """The user-safe error for a failed request; the detail goes to the log."""
        log.warning("endpoint %r: %s failed: %s", self.name, doing, self._redact(exc))
        if isinstance(exc, TimeoutError):
            return ProviderTimeout()
        if isinstance(exc, aiohttp.ClientConnectionError):
            return ProviderUnavailable(f"Could not connect to the model provider {self.name!r}.")
        if not isinstance(exc, UpstreamStatusError):
            return ProviderError()
        if exc.status in (401, 403):
            return ProviderAuthError()
        if exc.status == 429:
            return ProviderRateLimited(retry_after=_retry_after(exc.headers))
        if exc.status == 404:
            return ProviderError(
                f"The model provider {self.name!r} does not offer that model (or its base URL is wrong)."
            )
        if exc.status >= 500:
            return ProviderUnavailable()
        return ProviderError(f"The model provider refused the request (HTTP {exc.status}).")

    def _redact(self, exc: BaseException) -> str:
        text = f"{type(exc).__name__}: {exc}"
        cause = exc.__cause__ or exc.__context__
        if cause is not None and not isinstance(exc, UpstreamStatusError):  # a status error says it all
            text += f" ({type(cause).__name__}: {cause})"
        key = self._endpoint.api_key
        return text.replace(key, "***") if key else text


async def _error_detail(response: aiohttp.ClientResponse) -> str:
    """The start of an error response's body (the endpoint's own message), for the log."""
    body = b""
    while len(body) < ERROR_BODY_BYTES and not response.content.at_eof():
        body += await response.content.read(ERROR_BODY_BYTES - len(body))
    return body.decode("utf-8", "replace")


def _chunks(data: bytes) -> list[Chunk]:
    """The text, finish reason and usage one streamed chunk carries."""
    try:
        chunk = json.loads(data)
    except ValueError:
        raise UpstreamStreamError(f"a chunk that is not JSON: {data[:200]!r}") from None
    if not isinstance(chunk, dict):
        raise UpstreamStreamError(f"a chunk that is not an object: {data[:200]!r}")
    if chunk.get("error"):
        raise UpstreamStreamError(f"an error in the stream: {chunk['error']}")
    out: list[Chunk] = []
    try:
        for choice in chunk.get("choices") or ():
            content = (choice.get("delta") or {}).get("content")
            if content:
                out.append(TextChunk(content))
            if choice.get("finish_reason"):
                out.append(FinishChunk(choice["finish_reason"]))
        usage = chunk.get("usage")
        if usage:
            out.append(UsageChunk(Usage(int(usage["prompt_tokens"]), int(usage["completion_tokens"]))))
    except (AttributeError, KeyError, TypeError, ValueError):
        raise UpstreamStreamError(f"a chunk of an unexpected shape: {data[:200]!r}") from None
    return out


@provider_type("openai")
def create_openai_provider(endpoint: Endpoint, settings: Settings) -> Provider:
    return OpenAICompatProvider(endpoint, settings)


def _to_openai(message: ChatMessage) -> WireMessage:
    if message.images and message.role != "user":
        raise ParleyError(f"Images can only be sent in a user message, not a {message.role} message.")
    if message.role == "system":
        return {"role": "system", "content": message.content}
    if message.role == "assistant":
        return {"role": "assistant", "content": message.content}
    if not message.images:
        return {"role": "user", "content": message.content}
    # Images alone are a message too; an empty text part is left out rather than sent.
    parts: list[dict[str, Any]] = [{"type": "text", "text": message.content}] if message.content else []
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
