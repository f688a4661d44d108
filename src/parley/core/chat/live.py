"""A live answer in this process, and the readers following it.

The answer's text so far is kept (an answer is bounded by its ``max_tokens``), so a reader who joins late (a
reload, a second socket, a chat switched away from and back) gets what it missed as one delta, then every
delta after it. A delta's ``seq`` is the answer's length in characters (Unicode code points) once its text is
added: the text a reader has is the answer up to its last ``seq``, on every path, saved or live.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from parley.core.chat.events import DeltaEvent, DoneEvent, ErrorEvent, StreamEvent
from parley.errors import ParleyError

_END = object()


class Subscription:
    """One reader's events, in order. Read ``events()`` once; ``close()`` when the reader goes away."""

    def __init__(self) -> None:
        self._queue: asyncio.Queue[StreamEvent | object] = asyncio.Queue()
        self.closed = False

    def put(self, event: StreamEvent) -> None:
        if not self.closed:
            self._queue.put_nowait(event)

    def end(self) -> None:
        self._queue.put_nowait(_END)

    def close(self) -> None:
        """Nobody reads any more: drop what is queued and queue nothing more."""
        self.closed = True
        while not self._queue.empty():
            self._queue.get_nowait()
        self._queue.put_nowait(_END)

    async def events(self) -> AsyncIterator[StreamEvent]:
        while True:
            item = await self._queue.get()
            if item is _END:
                return
            assert isinstance(item, StreamEvent)
            yield item


def catch_up(msgid: str, text: str, after_seq: int) -> DeltaEvent | None:
    """What a reader who has the first ``after_seq`` characters of ``text`` is missing, as one delta."""
    if after_seq >= len(text):
        return None
    return DeltaEvent(msgid=msgid, seq=len(text), text=text[max(after_seq, 0) :])


class Generation:
    """One answer being generated. The reader that started it reads ``events()`` (from its start event);
    others join with ``subscribe(after_seq)``. ``stop()`` asks for it to end early."""

    def __init__(self, user_id: str, msgid: str, conversation_id: str | None = None) -> None:
        self.user_id = user_id
        self.msgid = msgid
        self.conversation_id = conversation_id
        self._text: list[str] = []
        self._ending: StreamEvent | None = None  # done or error, once emitted
        self._finished = False
        self._first = Subscription()
        self._readers: set[Subscription] = {self._first}
        self._stop = asyncio.Event()
        # Why the answer was cut short when it was not the user's Stop (a shutdown past its grace period).
        self.cut_by: ParleyError | None = None
        self.task: asyncio.Task[None] | None = None

    def emit(self, event: StreamEvent) -> None:
        if isinstance(event, DeltaEvent):
            self._text.append(event.text)
        elif isinstance(event, DoneEvent | ErrorEvent):
            self._ending = event
        for reader in self._readers:
            reader.put(event)

    def finish(self) -> None:
        self._finished = True
        for reader in self._readers:
            reader.end()
        self._readers.clear()

    def stop(self, *, cut_by: ParleyError | None = None) -> None:
        """End the answer early: as the user's Stop, or, with ``cut_by``, as an interruption for that reason."""
        if cut_by is not None and not self._stop.is_set():
            self.cut_by = cut_by
        self._stop.set()

    @property
    def stop_requested(self) -> bool:
        return self._stop.is_set()

    async def wait_stop(self) -> None:
        await self._stop.wait()

    @property
    def text(self) -> str:
        """The answer so far."""
        return "".join(self._text)

    def events(self) -> AsyncIterator[StreamEvent]:
        """The events for the reader that started the answer, from its start event."""
        return self._first.events()

    def detach(self) -> None:
        """The reader that started it went away: keep generating and saving, but queue nothing for it."""
        self._first.close()
        self._readers.discard(self._first)

    def subscribe(self, after_seq: int) -> Subscription:
        """Follow the answer from ``after_seq``: what was missed as one delta, then the rest as it comes."""
        reader = Subscription()
        missed = catch_up(self.msgid, self.text, after_seq)
        if missed is not None:
            reader.put(missed)
        if self._ending is not None:
            reader.put(self._ending)
        if self._finished:
            reader.end()
        else:
            self._readers.add(reader)
        return reader

    def unsubscribe(self, reader: Subscription) -> None:
        reader.close()
        self._readers.discard(reader)

    async def wait(self) -> None:
        if self.task is not None:
            await asyncio.shield(self.task)
