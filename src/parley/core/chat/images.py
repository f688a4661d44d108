"""The bytes of attached images, loaded just before the model is called: a prepared turn carries only references
(it may cross processes in a message capped at 256 KB), and the model run fills them in from the blob store."""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable, Sequence

from parley.core.files.base import IMAGE, FileBlobs, blob_key
from parley.core.providers.base import ChatMessage, ImageInput
from parley.errors import ProviderError

LoadImages = Callable[[Sequence[ChatMessage]], Awaitable[list[ChatMessage]]]


class ImageLoader:
    def __init__(self, blobs: FileBlobs | None) -> None:
        self._blobs = blobs

    def load_for(self, user_id: str) -> LoadImages:
        """Fills in the images of a user's context (only the user's own blobs are read)."""

        async def load(messages: Sequence[ChatMessage]) -> list[ChatMessage]:
            return [await self._message(user_id, message) for message in messages]

        return load

    async def _message(self, user_id: str, message: ChatMessage) -> ChatMessage:
        if not message.images or all(image.data for image in message.images):
            return message
        images = tuple([await self._image(user_id, image) for image in message.images])
        return dataclasses.replace(message, images=images)

    async def _image(self, user_id: str, image: ImageInput) -> ImageInput:
        if image.data:
            return image
        data = await self._blobs.get(blob_key(user_id, image.file_id, IMAGE)) if self._blobs is not None else None
        if data is None:  # deleted since the turn was prepared
            raise ProviderError("An attached image is no longer available; attach it again.")
        return dataclasses.replace(image, data=data)
