"""The worker's relay: coalescing, frame size, stop through the store, a client that went away."""

from __future__ import annotations

import asyncio
import itertools
import json

from parley.aws.relay import StreamRelay
from parley.core.chat.events import DeltaEvent, DoneEvent, StartEvent
from parley.core.chat.live import Generation


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
    # A frame's seq is the answer's length once its text is added, however the tokens were gathered.
    assert [d["seq"] for d in deltas] == list(itertools.accumulate(len(d["text"]) for d in deltas))
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


class Following:
    """The worker's view of the store: followers appear when a test says so; frames to them are recorded."""

    def __init__(self):
        self.followers = {}
        self.frames = {}

    async def current(self):
        return dict(self.followers)

    async def post(self, connection_id, frame):
        self.frames.setdefault(connection_id, []).append(json.loads(frame))
        return True


def text_of(frames):
    return "".join(f["text"] for f in frames if f["type"] == "delta")


async def test_a_follower_gets_what_it_missed_then_the_rest_then_how_it_ended():
    asked = []
    reloaded = asyncio.Event()

    async def post(frame):
        asked.append(json.loads(frame))
        if len(asked) == 3:
            reloaded.set()
        return len(asked) < 3  # the connection that asked goes away (a reload)

    async def never():
        return False

    tokens = [DeltaEvent(msgid="m", seq=i, text=f"t{i}é ") for i in range(1, 61)]
    full = "".join(t.text for t in tokens)
    following = Following()
    generation, feeder = generation_with([START, *tokens, DONE], delay=0.003)
    relay_task = asyncio.create_task(StreamRelay(post, never, interval=0.02, followers=following).run(generation))
    await reloaded.wait()
    have = text_of(asked)
    following.followers["conn-2"] = len(have)
    await relay_task
    await feeder
    frames = following.frames["conn-2"]
    deltas = [f for f in frames if f["type"] == "delta"]
    assert deltas[0]["seq"] - len(deltas[0]["text"]) == len(have)  # from where the client was
    assert have + text_of(frames) == full  # no gap, no duplicate
    assert frames[-1] == DONE.to_dict() and [f["type"] for f in frames].count("done") == 1
    assert all(f["type"] != "start" for f in frames)


async def test_a_follower_that_joins_as_the_answer_ends_still_gets_it_all():
    async def post(frame):
        return True

    async def never():
        return False

    following = Following()
    tokens = [DeltaEvent(msgid="m", seq=i, text="ab") for i in range(1, 11)]
    generation, feeder = generation_with([START, *tokens, DONE])
    relay = StreamRelay(post, never, interval=10, followers=following)  # no flush before the end
    original_current = following.current

    async def joins_late():
        following.followers["late"] = 4  # recorded just before the answer was marked finished
        return await original_current()

    following.current = joins_late
    await relay.run(generation)
    await feeder
    frames = following.frames["late"]
    assert [f["type"] for f in frames] == ["delta", "done"]
    assert (frames[0]["seq"], frames[0]["text"]) == (20, "ab" * 8)
