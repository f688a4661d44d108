"""The worker's relay: coalescing, frame size, stop through the store, a client that went away."""

from __future__ import annotations

import asyncio
import json

from parley.aws.relay import StreamRelay
from parley.core.chat.events import DeltaEvent, DoneEvent, StartEvent
from parley.core.chat.service import Generation


def generation_with(events, delay=0.0):
    generation = Generation("u", "m")

    async def feed():
        for event in events:
            generation.emit(event)
            await asyncio.sleep(delay)
        generation.finish()

    return generation, asyncio.create_task(feed())


START = StartEvent(msgid="m", conversation_id="c", message_id="a", user_message_id="q", model="x", title="t")
DONE = DoneEvent(msgid="m", finish_reason="stop", usage=None)


async def test_deltas_are_coalesced_to_the_post_interval():
    frames = []

    async def post(frame):
        frames.append(json.loads(frame))
        return True

    async def never():
        return False

    tokens = [DeltaEvent(msgid="m", seq=i, text=f"t{i} ") for i in range(1, 101)]
    generation, feeder = generation_with([START, *tokens, DONE], delay=0.002)
    relay = StreamRelay(post, never, interval=0.05)
    stats = await relay.run(generation)
    await feeder
    deltas = [f for f in frames if f["type"] == "delta"]
    assert frames[0]["type"] == "start" and frames[-1]["type"] == "done"
    assert "".join(d["text"] for d in deltas) == "".join(t.text for t in tokens)
    assert [d["seq"] for d in deltas] == list(range(1, len(deltas) + 1))
    assert len(deltas) < 30  # ~0.2 s of tokens at one post per 50 ms, not 100 posts
    assert stats.posts == len(frames)


async def test_a_burst_is_split_into_frames_under_the_limit():
    sizes = []

    async def post(frame):
        sizes.append(len(frame.encode()))
        return True

    async def never():
        return False

    burst = [DeltaEvent(msgid="m", seq=1, text="\u0001é" * 40_000)]
    generation, feeder = generation_with([START, *burst, DONE])
    stats = await StreamRelay(post, never, interval=0.01, max_frame_bytes=32 * 1024).run(generation)
    await feeder
    assert max(sizes) < 32 * 1024 and stats.largest_frame == max(sizes)
    assert len(sizes) > 3


async def test_stop_flag_in_the_store_stops_the_generation():
    async def post(frame):
        return True

    async def stop_now():
        return True

    generation = Generation("u", "m")
    generation.emit(START)
    relay_task = asyncio.create_task(StreamRelay(post, stop_now, interval=0.01).run(generation))
    await asyncio.sleep(0.05)
    assert generation.stop_requested
    generation.finish()
    await relay_task


async def test_a_gone_client_stops_the_posting_but_not_the_reading():
    posted = []

    async def post(frame):
        posted.append(frame)
        return len(posted) < 2

    async def never():
        return False

    tokens = [DeltaEvent(msgid="m", seq=i, text="x") for i in range(1, 20)]
    generation, feeder = generation_with([START, *tokens, DONE], delay=0.01)
    stats = await StreamRelay(post, never, interval=0.02).run(generation)
    await feeder
    assert stats.client_gone and len(posted) == 2
