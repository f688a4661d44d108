"""The ``bedrock`` provider type: chat with AWS Bedrock models through ``converse_stream``, no third-party key.

boto3 is blocking, so the stream is read in a worker thread and handed to the event loop chunk by chunk;
closing the stream early stops reading it. The client is injected (tests pass a fake one).

Images in a user message go as Converse image blocks (raw bytes; boto3 encodes them), before the text, as
Anthropic advises. Which models take them is known from their id (``BEDROCK_VISION``) unless the models file says.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import AsyncGenerator, Sequence
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from parley.aws.clients import aws_client
from parley.config import Settings
from parley.core.providers.base import (
    ChatMessage,
    Chunk,
    FinishChunk,
    GenerationParams,
    ImageInput,
    ModelInfo,
    ParamRange,
    ParamRanges,
    Provider,
    TextChunk,
    Usage,
    UsageChunk,
)
from parley.core.providers.endpoints import Endpoint, ModelEntry
from parley.core.providers.registry import provider_type
from parley.core.providers.vision import VisionTable, image_bytes, sees
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

# Bedrock's Converse API has no frequency/presence penalties; they are accepted only at 0.
_RANGES = ParamRanges(
    temperature=ParamRange(0.0, 1.0, 0.7),
    max_tokens=ParamRange(1, 4096, 1024),
    frequency_penalty=ParamRange(0.0, 0.0, 0.0),
    presence_penalty=ParamRange(0.0, 0.0, 0.0),
)
_ERRORS: dict[str, type[ProviderError]] = {
    "AccessDeniedException": ProviderAuthError,
    "UnrecognizedClientException": ProviderAuthError,
    "ThrottlingException": ProviderRateLimited,
    "ServiceUnavailableException": ProviderUnavailable,
    "InternalServerException": ProviderUnavailable,
    "ModelNotReadyException": ProviderUnavailable,
    "ModelTimeoutException": ProviderTimeout,
}
# Model ids as Bedrock names them; a cross-region inference profile's prefix ("us.", "eu.", "global."...) and an
# ARN's path are taken off first. The first matching row decides; other models are taken to be blind.
BEDROCK_VISION: VisionTable = (
    ("anthropic.claude-3-5-haiku*", False),
    ("anthropic.claude-instant*", False),
    ("anthropic.claude-v2*", False),
    ("anthropic.claude-*", True),  # Claude 3 and later
    ("amazon.nova-lite*", True),
    ("amazon.nova-pro*", True),
    ("amazon.nova-premier*", True),
    ("amazon.nova-2-lite*", True),
    ("meta.llama3-2-11b*", True),
    ("meta.llama3-2-90b*", True),
    ("meta.llama4*", True),
    ("mistral.pixtral*", True),
)
_INFERENCE_PROFILE_PREFIXES = ("us.", "us-gov.", "eu.", "apac.", "jp.", "au.", "ca.", "global.")
# Converse's image formats, by the media type Parley's image processing gives.
_IMAGE_FORMATS = {"image/png": "png", "image/jpeg": "jpeg", "image/webp": "webp", "image/gif": "gif"}
_STOP_REASONS = {"end_turn": "stop", "stop_sequence": "stop", "max_tokens": "length"}
_DONE = object()


def _mapped(error: Exception) -> ProviderError:
    if isinstance(error, ClientError):
        code = str(error.response.get("Error", {}).get("Code", ""))
        log.warning("bedrock error %s: %s", code, error)
        return _ERRORS.get(code, ProviderError)()
    log.warning("bedrock failed: %s", error)
    return ProviderUnavailable()


def bedrock_sees(model_id: str) -> bool:
    name = model_id.rsplit("/", 1)[-1].lower()  # an ARN: ...:inference-profile/us.anthropic.claude-...
    for prefix in _INFERENCE_PROFILE_PREFIXES:
        if name.startswith(prefix):
            name = name.removeprefix(prefix)
            break
    return sees(name, BEDROCK_VISION)


class BedrockProvider:
    def __init__(
        self,
        client: Any,
        models: Sequence[str | ModelEntry],
        *,
        name: str = "bedrock",
        context_window: int = 32_000,
    ):
        self.name = name
        self._client = client
        self._models = [ModelEntry(id=model) if isinstance(model, str) else model for model in models]
        self._context_window = context_window

    async def list_models(self) -> list[ModelInfo]:
        return [
            ModelInfo(
                id=model.id,
                provider=self.name,
                context_window=model.context_window or self._context_window,
                display_name=model.display_name,
                ranges=_RANGES,
                vision=bedrock_sees(model.id) if model.vision is None else model.vision,
            )
            for model in self._models
        ]

    async def stream(
        self, model: str, messages: Sequence[ChatMessage], params: GenerationParams
    ) -> AsyncGenerator[Chunk, None]:
        request: dict[str, Any] = {
            "modelId": model,
            "messages": [_converse_message(m) for m in messages if m.role != "system"],
            "inferenceConfig": {
                "maxTokens": params.max_tokens,
                "temperature": params.temperature,
                "topP": params.top_p,
            },
        }
        system = [{"text": m.content} for m in messages if m.role == "system"]
        if system:
            request["system"] = system
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[Any] = asyncio.Queue()
        stop = threading.Event()
        worker = threading.Thread(target=self._read, args=(request, loop, queue, stop), daemon=True)
        worker.start()
        started = False
        try:
            while True:
                item = await queue.get()
                if item is _DONE:
                    return
                if isinstance(item, Exception):
                    raise (StreamInterrupted() if started else _mapped(item)) from item
                started = True
                yield item
        finally:
            stop.set()

    def _read(
        self, request: dict[str, Any], loop: asyncio.AbstractEventLoop, queue: asyncio.Queue[Any], stop: threading.Event
    ) -> None:
        def put(item: Any) -> None:
            # The reader may outlive the loop (the consumer gave up and the loop closed): nobody to tell.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(queue.put_nowait, item)

        try:
            response = self._client.converse_stream(**request)
            for event in response["stream"]:
                if stop.is_set():
                    break
                for chunk in _chunks(event):
                    put(chunk)
        except (ClientError, BotoCoreError) as error:
            put(error)
        finally:
            put(_DONE)

    async def warm_up(self) -> None:
        return None

    async def aclose(self) -> None:
        return None


def _converse_message(message: ChatMessage) -> dict[str, Any]:
    if not message.images:
        return {"role": message.role, "content": [{"text": message.content}]}
    if message.role != "user":
        raise ParleyError(f"Images can only be sent in a user message, not a {message.role} message.")
    content: list[dict[str, Any]] = [_image_block(image) for image in message.images]
    if message.content:  # Converse refuses an empty text block
        content.append({"text": message.content})
    return {"role": "user", "content": content}


def _image_block(image: ImageInput) -> dict[str, Any]:
    data = image_bytes(image)
    try:
        fmt = _IMAGE_FORMATS[image.media_type]
    except KeyError:
        raise ParleyError(f"Bedrock cannot take an image of type {image.media_type!r}.") from None
    return {"image": {"format": fmt, "source": {"bytes": data}}}


def _chunks(event: dict[str, Any]) -> list[Chunk]:
    if "contentBlockDelta" in event:
        text = event["contentBlockDelta"].get("delta", {}).get("text")
        return [TextChunk(text)] if text else []
    if "messageStop" in event:
        reason = str(event["messageStop"].get("stopReason", "end_turn"))
        return [FinishChunk(_STOP_REASONS.get(reason, reason))]
    if "metadata" in event and "usage" in event["metadata"]:
        usage = event["metadata"]["usage"]
        return [UsageChunk(Usage(int(usage.get("inputTokens", 0)), int(usage.get("outputTokens", 0))))]
    return []


@provider_type("bedrock")
def bedrock_provider(endpoint: Endpoint, settings: Settings) -> Provider:
    return BedrockProvider(
        aws_client("bedrock-runtime", settings),
        endpoint.models,
        name=endpoint.name,
    )
