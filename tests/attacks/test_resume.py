"""Rejoining a live answer (issue 11 item 5) on both paths: a second socket that resumes mid-answer gets what it
missed as one delta, then the rest, ending with exactly the full text (no gap, no duplicate); a resume after the
answer ended answers at once with how it ended."""

from __future__ import annotations

import asyncio
import itertools
import json

from parley.testing.fake_openai import Script
from tests.attacks.targets import events_until_end, send_prompt

TOKENS = [f"w{i}é " for i in range(120)]  # é: a seq counts characters, not bytes
FULL = "".join(TOKENS)


def text_after(events: list[dict], have: str) -> str:
    """What a client that has ``have`` ends with, keeping of each delta only what comes after its seq."""
    text = have
    for event in events:
        if event["type"] == "delta" and event["seq"] > len(text):
            start = event["seq"] - len(event["text"])
            assert start <= len(text), f"a gap: the client has {len(text)} characters, the delta starts at {start}"
            text += event["text"][len(text) - start :]
    return text


async def resume(ws, msgid: str, conversation_id: str, after_seq: int) -> None:
    payload = {"msgid": msgid, "conversation_id": conversation_id, "after_seq": after_seq}
    await ws.send(json.dumps({"action": "resume", "payload": payload}))


async def test_a_second_socket_rejoins_mid_answer_and_ends_with_exactly_the_full_text(target, ledger):
    alice = await target.player("alice")
    target.upstream.enqueue(Script(tokens=TOKENS, token_delay=0.01))
    async with await alice.socket() as first:
        await send_prompt(first, "a long one", "r1")
        start = json.loads(await asyncio.wait_for(first.recv(), 20))
        assert start["type"] == "start"
        seen = ""
        while len(seen) < 40:  # the first socket reads a part of the answer, then "reloads"
            event = json.loads(await asyncio.wait_for(first.recv(), 20))
            assert event["type"] == "delta"
            seen = text_after([event], seen)
    assert len(seen) < len(FULL)

    async with await alice.socket() as second:
        await resume(second, "r1", start["conversation_id"], len(seen))
        events = await events_until_end(second, "r1")
    deltas = [e for e in events if e["type"] == "delta"]
    assert events[-1]["type"] == "done" and events[-1]["finish_reason"] == "stop"
    assert deltas[0]["seq"] - len(deltas[0]["text"]) == len(seen)  # the catch-up starts where the client was
    # Each delta follows the last: no gap, no duplicate, and nothing for the client to drop.
    assert all(d["seq"] - len(d["text"]) == p["seq"] for p, d in itertools.pairwise(deltas))
    assert seen + "".join(d["text"] for d in deltas) == FULL
    assert text_after(events, seen) == FULL
    detail = await alice.settled(start["conversation_id"])
    assert detail["messages"][-1]["content"] == FULL
    ledger.attempt(target.path, "resumed answers", 1)


async def test_a_resume_after_the_answer_ended_answers_with_how_it_ended(target):
    alice = await target.player("alice")
    target.upstream.enqueue(Script(tokens=["all ", "done ", "here"]))
    events = await alice.ask("short", "r2")
    conversation_id = events[0]["conversation_id"]
    await alice.settled(conversation_id)
    async with await alice.socket() as ws:
        await resume(ws, "r2", conversation_id, 4)
        replay = await events_until_end(ws, "r2", wait=5)
        await resume(ws, "r2", conversation_id, len("all done here"))
        nothing_missed = await events_until_end(ws, "r2", wait=5)
    assert [e["type"] for e in replay] == ["delta", "done"]
    assert (replay[0]["seq"], replay[0]["text"]) == (len("all done here"), "done here")
    assert replay[1]["finish_reason"] == "stop"
    assert [e["type"] for e in nothing_missed] == ["done"]
