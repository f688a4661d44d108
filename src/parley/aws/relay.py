"""Relays a generation's events to a WebSocket client through PostToConnection, coalesced.

Each post is an HTTP call, so deltas are gathered and sent at most every ``interval`` seconds (about
ten posts a second a stream), each frame under API Gateway's 32 KB. Between flushes the relay asks the
store whether the user pressed Stop (the ``stop`` route runs in another Lambda). If the client has gone
(410) the relay stops posting, and the answer is still finished and saved by the chat service.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from parley.core.chat.events import DeltaEvent, StreamEvent
from parley.core.chat.live import Generation
from parley.ws_protocol import encode_event

Post = Callable[[str], Awaitable[bool]]
StopCheck = Callable[[], Awaitable[bool]]

# JSON escapes a character in at most 6 bytes (\u0000); leave room for the frame's other fields.
_FRAME_OVERHEAD = 256
_MAX_BYTES_PER_CHAR = 6


@dataclass
class RelayStats:
    posts: int = 0
    largest_frame: int = 0
    client_gone: bool = False


class StreamRelay:
    def __init__(
        self,
        post: Post,
        stop_requested: StopCheck,
        *,
        interval: float = 0.1,
        max_frame_bytes: int = 32 * 1024,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._post = post
        self._stop_requested = stop_requested
        self._interval = interval
        self._chars_per_frame = max(1, (max_frame_bytes - _FRAME_OVERHEAD) // _MAX_BYTES_PER_CHAR)
        self._clock = clock
        self._pending: list[str] = []
        self._seq = 0
        self._last_flush = float("-inf")
        self.stats = RelayStats()

    async def run(self, generation: Generation) -> RelayStats:
        events = generation.events()
        next_event: asyncio.Future[StreamEvent] | None = None
        try:
            while True:
                if next_event is None:
                    next_event = asyncio.ensure_future(anext(events))
                done, _ = await asyncio.wait({next_event}, timeout=self._interval)
                if not done:
                    await self._flush(generation)
                    continue
                try:
                    event = next_event.result()
                except StopAsyncIteration:
                    break
                next_event = None
                if isinstance(event, DeltaEvent):
                    self._pending.append(event.text)
                    if self._clock() - self._last_flush >= self._interval:
                        await self._flush(generation)
                else:
                    await self._flush(generation)
                    await self._send(encode_event(event))
        finally:
            if next_event is not None and not next_event.done():
                next_event.cancel()
        return self.stats

    async def _flush(self, generation: Generation) -> None:
        self._last_flush = self._clock()
        if self._pending:
            text = "".join(self._pending)
            self._pending.clear()
            for start in range(0, len(text), self._chars_per_frame):
                self._seq += 1
                delta = DeltaEvent(
                    msgid=generation.msgid, seq=self._seq, text=text[start : start + self._chars_per_frame]
                )
                await self._send(json.dumps(delta.to_dict(), ensure_ascii=False, separators=(",", ":")))
        if not generation.stop_requested and await self._stop_requested():
            generation.stop()

    async def _send(self, frame: str) -> None:
        if self.stats.client_gone:
            return
        self.stats.posts += 1
        self.stats.largest_frame = max(self.stats.largest_frame, len(frame.encode()))
        if not await self._post(frame):
            self.stats.client_gone = True
