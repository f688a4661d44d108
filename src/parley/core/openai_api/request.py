"""An OpenAI chat completions request, as the core sees it once the edge has parsed it."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass

from parley.core.providers.base import ChatMessage, ImageInput
from parley.errors import InvalidParameter

MAX_MESSAGES = 1000
MAX_STOP_SEQUENCES = 4  # as OpenAI
MAX_STOP_CHARS = 200
MAX_IMAGES = 10  # in one request, over all its messages (as many as a prompt may attach in the app)


def image_from_url(url: str, param: str) -> ImageInput:
    """The image of an ``image_url`` content part. Only ``data:<type>;base64,...`` URLs are taken: fetching a URL
    the client names would let it make this server request addresses only the server can reach (SSRF), so an
    http(s) URL is refused, and nothing is requested. The bytes are checked and re-encoded later (``images.py``)."""
    head, comma, payload = url.partition(",")
    if not head[:5].lower() == "data:" or not comma:
        raise InvalidParameter(
            param,
            "This server does not fetch image URLs: send the image inline as a base64 data URL "
            "(data:image/png;base64,...).",
        )
    media_type, *options = head[5:].split(";")
    if "base64" not in (option.strip().lower() for option in options):
        raise InvalidParameter(param, "An image data URL must be base64 encoded (data:image/png;base64,...).")
    try:
        data = base64.b64decode("".join(payload.split()), validate=True)
    except (binascii.Error, ValueError):
        raise InvalidParameter(param, "The image data URL does not hold valid base64.") from None
    if not data:
        raise InvalidParameter(param, "The image data URL is empty.")
    return ImageInput(file_id="", media_type=media_type.strip().lower(), data=data)


@dataclass(frozen=True)
class CompletionRequest:
    model: str
    messages: tuple[ChatMessage, ...]
    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None
    stop: tuple[str, ...] = ()
    stream: bool = False
    include_usage: bool = False
    image_tokens: int = 0  # what its images cost, estimated once they are re-encoded (their size known)

    @property
    def images(self) -> int:
        return sum(len(message.images) for message in self.messages)

    @property
    def last_user_text(self) -> str:
        return next((m.content for m in reversed(self.messages) if m.role == "user"), "")
