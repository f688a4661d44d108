"""Relays a generation's events to WebSocket clients through PostToConnection, coalesced.

Each post is an HTTP call, so deltas are gathered and sent at most every ``interval`` seconds (about ten posts a
second a stream), each frame under API Gateway's 32 KB. Between flushes the relay asks the store whether the user
pressed Stop (the ``stop`` route runs in another Lambda) and which connections follow the answer (``resume`` from
another connection: a reload, a second tab): a follower is sent the text it missed as one delta, then every frame
the others get. A frame's ``seq`` is the answer's length in characters once its text is added, whichever way
the text was cut into frames, so a client keeps what comes after the ``seq`` it has. If a client has gone (410)
the relay stops posting to it, and the answer is still finished and saved by the chat service.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

from parley.core.chat.events import DeltaEvent, DoneEvent, ErrorEvent, StartEvent, StreamEvent
from parley.core.chat.live import Generation
from parley.ws_protocol import encode_event

Post = Callable[[str], Awaitable[bool]]
StopCheck = Callable[[], Awaitable[bool]]

# JSON escapes a character in at most 6 bytes (\u0000); leave room for the frame's other fields.
_FRAME_OVERHEAD = 256
_MAX_BYTES_PER_CHAR = 6
_ASKER = ""  # the connection that sent the prompt, among the relay's targets


class Followers(Protocol):
    """Connections that joined the answer after it started. ``current`` is asked right after the stop check at
    every flush (the worker answers both from one read of the store), and once more after the answer ended."""

    async def current(self) -> Mapping[str, int]:
        """Every follower so far, with the ``seq`` it had when it asked."""

    async def post(self, connection_id: str, frame: str) -> bool:
        """Send one frame; False when the client has gone."""


@dataclass
class RelayStats:
    posts: int = 0
    largest_frame: int = 0
    client_gone: bool = False  # the connection that sent the prompt


@dataclass
class _Target:
    sent: int  # characters of the answer this connection has been sent (or had already)
    asked_from: int  # the seq it asked from (a follower asking again starts over from its new seq)
    gone: bool = False
    ended: bool = False  # it has been sent the done or error event


class StreamRelay:
    def __init__(
        self,
        post: Post,
        stop_requested: StopCheck,
        *,
        interval: float = 0.1,
        max_frame_bytes: int = 32 * 1024,
        clock: Callable[[], float] = time.monotonic,
        followers: Followers | None = None,
    ) -> None:
        self._post = post
        self._stop_requested = stop_requested
        self._followers = followers
        self._interval = interval
        self._chars_per_frame = max(1, (max_frame_bytes - _FRAME_OVERHEAD) // _MAX_BYTES_PER_CHAR)
        self._clock = clock
        self._chunks: list[str] = []
        self._text = ""  # the chunks joined, as far as the last flush needed
        self._length = 0
        self._targets: dict[str, _Target] = {_ASKER: _Target(sent=0, asked_from=0)}
        self._ending: str | None = None
        self._msgid = ""
        self._last_flush = float("-inf")
        self.stats = RelayStats()

    async def run(self, generation: Generation) -> RelayStats:
        self._msgid = generation.msgid
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
                    self._chunks.append(event.text)
                    self._length += len(event.text)
                    if self._clock() - self._last_flush >= self._interval:
                        await self._flush(generation)
                else:
                    await self._flush(generation)
                    await self._send_event(event)
        finally:
            if next_event is not None and not next_event.done():
                next_event.cancel()
        # The answer has ended and can no longer be followed: whoever began following it since the last flush is
        # in this read, and is sent the rest and how it ended.
        if self._followers is not None:
            await self._join_followers()
            await self._send_text()
            await self._send_ending()
        return self.stats

    async def _send_event(self, event: StreamEvent) -> None:
        frame = encode_event(event)
        if isinstance(event, StartEvent):
            await self._send(_ASKER, frame)
            return
        if isinstance(event, DoneEvent | ErrorEvent):
            self._ending = frame
            await self._send_ending()

    async def _send_ending(self) -> None:
        if self._ending is None:
            return
        for connection, target in list(self._targets.items()):
            if not target.ended:
                target.ended = True
                await self._send(connection, self._ending)

    async def _flush(self, generation: Generation) -> None:
        self._last_flush = self._clock()
        await self._send_text()
        if not generation.stop_requested and await self._stop_requested():
            generation.stop()
        if self._followers is not None and await self._join_followers():
            await self._send_text()  # a new follower gets what it missed now, not at the next flush

    async def _join_followers(self) -> bool:
        """Take in connections that began following (or asked again from another seq); True when there are any."""
        assert self._followers is not None
        joined = False
        for connection, after_seq in (await self._followers.current()).items():
            target = self._targets.get(connection)
            if connection == _ASKER or (target is not None and target.asked_from == after_seq):
                continue
            self._targets[connection] = _Target(sent=after_seq, asked_from=after_seq, gone=bool(target and target.gone))
            joined = True
        return joined

    async def _send_text(self) -> None:
        behind = [(c, t) for c, t in self._targets.items() if not t.gone and t.sent < self._length]
        if not behind:
            return
        if len(self._text) < self._length:
            self._text += "".join(self._chunks)
            self._chunks.clear()
        for connection, target in behind:
            start = target.sent
            target.sent = self._length
            for cut in range(start, self._length, self._chars_per_frame):
                piece = self._text[cut : min(cut + self._chars_per_frame, self._length)]
                delta = DeltaEvent(msgid=self._msgid, seq=cut + len(piece), text=piece)
                await self._send(connection, json.dumps(delta.to_dict(), ensure_ascii=False, separators=(",", ":")))
                if target.gone:
                    break

    async def _send(self, connection: str, frame: str) -> None:
        target = self._targets[connection]
        if target.gone:
            return
        self.stats.posts += 1
        self.stats.largest_frame = max(self.stats.largest_frame, len(frame.encode()))
        if connection == _ASKER:
            delivered = await self._post(frame)
        else:
            assert self._followers is not None
            delivered = await self._followers.post(connection, frame)
        if not delivered:
            target.gone = True
            if connection == _ASKER:
                self.stats.client_gone = True
