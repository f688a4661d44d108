"""The generation pipeline: one call of a model through the upstream policy, as typed chunks. It saves nothing
and knows no conversation, so whatever needs an answer generated (a chat turn, an OpenAI-compatible request,
a tool loop) can run one and decide itself what to keep."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator, Sequence
from contextlib import aclosing

from parley.core.chat.images import LoadImages
from parley.core.chat.observer import NoObserver, RunObserver
from parley.core.chat.upstream import UpstreamPolicy, stream_with_policy
from parley.core.providers.base import ChatMessage, Chunk, GenerationParams, TextChunk, Usage, UsageChunk
from parley.core.providers.registry import RegisteredModel
from parley.errors import ParleyError, ProviderError, StreamInterrupted

_END = object()


class ModelRun:
    """Read ``chunks()`` once; ``stop()`` ends it early (the provider's stream is closed at once, even while it
    waits for a token), after which ``stopped`` is True and ``chunks()`` ends without an error.

    The provider is read by one task that hands chunks over through a queue: no task or timer per token.
    """

    def __init__(
        self,
        model: RegisteredModel,
        context: Sequence[ChatMessage],
        params: GenerationParams,
        policy: UpstreamPolicy,
        observer: RunObserver | None = None,
        *,
        images: LoadImages | None = None,
    ) -> None:
        self._model = model
        self._images = images  # fills in attached images' bytes just before the call
        self._observer = observer or NoObserver()
        self._context = list(context)
        self._params = params
        self._policy = policy
        self._queue: asyncio.Queue[Chunk | BaseException | object] = asyncio.Queue()
        self._reader: asyncio.Task[None] | None = None
        self._began_at: float | None = None
        self.stopped = False
        self._ended = False

    def begin(self) -> None:
        """Start calling the model now, before anyone reads ``chunks()`` (which begins it otherwise): a chat turn
        has the model read its prompt while the turn is being saved. Chunks wait in the queue until read."""
        if self._reader is None and not self.stopped:
            self._began_at = time.monotonic()
            self._reader = asyncio.create_task(self._read(), name=f"model-{self._model.info.id}")

    def stop(self) -> None:
        if self.stopped or self._ended:  # Stop after the last chunk changes nothing: the answer is complete
            return
        self.stopped = True
        if self._reader is not None:
            self._reader.cancel()
        self._queue.put_nowait(_END)

    async def chunks(self) -> AsyncGenerator[Chunk, None]:
        """The model's chunks (empty text left out). Raises a ProviderError when the model fails; anything
        else a provider raises is a broken stream to the user (StreamInterrupted)."""
        if self.stopped:
            return
        model_id = self._model.info.id
        self.begin()
        assert self._reader is not None and self._began_at is not None
        started = self._began_at
        first_token_seen = False
        usage: Usage | None = None
        outcome = "complete"
        watch = self._observer.run_started(model_id)
        try:
            while True:
                item = await self._queue.get()
                if item is _END or self.stopped:  # chunks read before Stop was pressed are not shown either
                    return
                if isinstance(item, BaseException):
                    raise item
                assert isinstance(item, Chunk)
                if isinstance(item, TextChunk) and not first_token_seen:
                    first_token_seen = True
                    watch.first_token(time.monotonic() - started)
                elif isinstance(item, UsageChunk):
                    usage = item.usage
                yield item
        except BaseException as error:
            outcome = error.code if isinstance(error, ParleyError) else ("stopped" if self.stopped else "cancelled")
            raise
        finally:
            self._ended = True
            if not self._reader.done():
                self._reader.cancel()
            # The reader closes the provider's stream as it ends; wait for that, unless this task is cancelled.
            await asyncio.gather(self._reader, return_exceptions=True)
            watch.ended(
                seconds=time.monotonic() - started,
                prompt_tokens=usage.prompt_tokens if usage else None,
                completion_tokens=usage.completion_tokens if usage else None,
                outcome="stopped" if self.stopped and outcome == "complete" else outcome,
            )

    async def _read(self) -> None:
        model, policy = self._model, self._policy
        try:
            context = await self._images(self._context) if self._images is not None else self._context
            stream = stream_with_policy(model.provider, model.info.id, context, self._params, policy)
            async with aclosing(stream):
                async for chunk in stream:
                    if isinstance(chunk, TextChunk) and not chunk.text:
                        continue
                    self._queue.put_nowait(chunk)
        except asyncio.CancelledError:
            raise
        except ProviderError as error:
            self._queue.put_nowait(error)
            return
        except Exception as exc:  # a provider that broke its contract: still a broken stream to the user
            broken = StreamInterrupted()
            broken.__cause__ = exc
            self._queue.put_nowait(broken)
            return
        self._queue.put_nowait(_END)
