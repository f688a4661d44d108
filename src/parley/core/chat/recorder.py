"""Running a prepared turn and keeping its answer saved: the pipeline's text goes to the live readers and into the
answer's message, saved every save interval, by a heartbeat while the model is silent, and once at the end with
how it ended (complete, stopped, interrupted or error)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import aclosing
from dataclasses import dataclass, field

from parley.core.chat.events import DeltaEvent, DoneEvent, ErrorEvent
from parley.core.chat.live import Generation
from parley.core.chat.pipeline import ModelRun
from parley.core.chat.request import ChatLimits
from parley.core.providers.base import FinishChunk, TextChunk, Usage, UsageChunk
from parley.core.store.base import MessageLog, MessageStatus
from parley.core.store.parts import CitationPart, text_parts
from parley.errors import ParleyError

log = logging.getLogger(__name__)


@dataclass
class Answer:
    """What has been generated so far for one assistant message."""

    user_id: str
    conversation_id: str
    message_id: str
    # The passages of attached documents it was given: saved after its text every time, so no save drops them.
    citations: tuple[CitationPart, ...] = ()
    text: list[str] = field(default_factory=list)
    length: int = 0  # characters (code points): the seq of the last delta
    usage: Usage | None = None
    finish_reason: str | None = None
    saved_at: float = 0.0
    # Saves take turns, each writing the text as it is then: a heartbeat never lands after newer text.
    saving: asyncio.Lock = field(default_factory=asyncio.Lock)

    @property
    def content(self) -> str:
        return "".join(self.text)

    @property
    def usage_dict(self) -> dict[str, int] | None:
        if self.usage is None:
            return None
        return {"prompt_tokens": self.usage.prompt_tokens, "completion_tokens": self.usage.completion_tokens}


class AnswerRecorder:
    def __init__(
        self, messages: MessageLog, limits: ChatLimits, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._messages = messages
        self._limits = limits
        self._clock = clock

    async def record(
        self, generation: Generation, run: ModelRun, answer: Answer, ended: Callable[[], Awaitable[None]]
    ) -> None:
        """Run the model into ``answer`` until it ends, is stopped (``generation.stop()``) or fails; emit its events
        to ``generation``'s readers and save it. Once it is saved, ``ended`` is awaited (it counts the answer's
        usage, so a client that reads its usage after the done event finds it). Emits the done or error event
        last; does not finish the generation (its owner does, after freeing what the answer held)."""
        msgid = generation.msgid
        try:
            async with self._kept_saved(answer), self._stopping(generation, run):
                await self._read(generation, run, answer)
            if run.stopped and generation.cut_by is not None:
                raise generation.cut_by
            status = MessageStatus.STOPPED if run.stopped else MessageStatus.COMPLETE
            finish_reason = "stopped" if run.stopped else (answer.finish_reason or "stop")
            await self.save(answer, status, finish_reason=finish_reason)
            await ended()
            generation.emit(DoneEvent(msgid=msgid, finish_reason=finish_reason, usage=answer.usage_dict))
        except asyncio.CancelledError:
            await self._save_quietly(answer, MessageStatus.INTERRUPTED, finish_reason="cancelled")
            await ended()
            raise
        except Exception as exc:
            if isinstance(exc, ParleyError):
                error = exc
                log.warning("generation %s ended with %s: %s", msgid, error.code, error.message)
            else:
                error = ParleyError("The answer failed unexpectedly.")
                log.exception("generation %s failed unexpectedly", msgid)
            # Whatever was generated is kept; an answer with no text at all is an error placeholder.
            status = MessageStatus.INTERRUPTED if answer.text else MessageStatus.ERROR
            await self._save_quietly(answer, status, finish_reason=error.code)
            await ended()
            generation.emit(ErrorEvent(msgid=msgid, code=error.code, message=error.message))

    async def _read(self, generation: Generation, run: ModelRun, answer: Answer) -> None:
        async with aclosing(run.chunks()) as chunks:
            async for chunk in chunks:
                if isinstance(chunk, TextChunk):
                    answer.text.append(chunk.text)
                    answer.length += len(chunk.text)
                    generation.emit(DeltaEvent(msgid=generation.msgid, seq=answer.length, text=chunk.text))
                    await self._save_periodically(answer)
                elif isinstance(chunk, UsageChunk):
                    answer.usage = chunk.usage
                elif isinstance(chunk, FinishChunk):
                    answer.finish_reason = chunk.reason

    @contextlib.asynccontextmanager
    async def _stopping(self, generation: Generation, run: ModelRun) -> AsyncIterator[None]:
        """While the block runs, Stop on the generation stops the model."""
        waiter = asyncio.create_task(generation.wait_stop())
        waiter.add_done_callback(lambda task: None if task.cancelled() else run.stop())
        try:
            yield
        finally:
            waiter.cancel()

    @contextlib.asynccontextmanager
    async def _kept_saved(self, answer: Answer) -> AsyncIterator[None]:
        """While the block runs, a heartbeat saves the answer whenever no tokens have been saved for a while."""
        done = asyncio.Event()
        heartbeat = asyncio.create_task(self._heartbeat(answer, done), name=f"heartbeat-{answer.message_id}")
        try:
            yield
        finally:
            done.set()
            await heartbeat  # a heartbeat save under way lands before the final save, never after it

    async def _heartbeat(self, answer: Answer, done: asyncio.Event) -> None:
        interval = self._limits.heartbeat_seconds
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(interval):
                    await done.wait()
            if done.is_set():
                return
            if self._clock() - answer.saved_at < interval:
                continue  # tokens are arriving and being saved
            try:
                await self.save(answer, MessageStatus.STREAMING)
            except Exception:  # the answer goes on; a later save or the final one may still land
                log.warning("could not save answer %s while waiting for the model", answer.message_id, exc_info=True)

    async def _save_periodically(self, answer: Answer) -> None:
        if self._clock() - answer.saved_at >= self._limits.save_interval_seconds:
            await self.save(answer, MessageStatus.STREAMING)

    async def save(self, answer: Answer, status: MessageStatus, *, finish_reason: str | None = None) -> None:
        async with answer.saving:
            await self._messages.update(
                answer.user_id,
                answer.conversation_id,
                answer.message_id,
                parts=(*text_parts(answer.content), *answer.citations),
                status=status,
                finish_reason=finish_reason,
                prompt_tokens=answer.usage.prompt_tokens if answer.usage else None,
                completion_tokens=answer.usage.completion_tokens if answer.usage else None,
            )
            answer.saved_at = self._clock()

    async def _save_quietly(self, answer: Answer, status: MessageStatus, *, finish_reason: str) -> None:
        try:
            await asyncio.shield(self.save(answer, status, finish_reason=finish_reason))
        except Exception:
            log.exception("could not save the partial answer %s", answer.message_id)
