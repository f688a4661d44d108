"""Faults upstream and at the client: retried before the first token, saved when they happen after it,
never lost and never duplicated."""

from __future__ import annotations

import asyncio
import json
import time

from parley.testing.fake_openai import Script
from tests.attacks.targets import events_until_end, send_prompt


def answer_text(events):
    return "".join(e["text"] for e in events if e["type"] == "delta")


async def test_429_then_200_is_retried_before_the_first_token(target, ledger):
    player = await target.player()
    target.upstream.enqueue(Script.error(429, retry_after=0.01), Script(tokens=("all", " good")))
    events = await player.ask("hello", "r1")
    ledger.fault(target.path, "upstream 429")
    assert events[-1]["type"] == "done" and answer_text(events) == "all good"
    assert len(target.upstream.chat_requests) == 2
    detail = await player.settled(events[0]["conversation_id"])
    assert [(m["role"], m["content"], m["status"]) for m in detail["messages"]] == [
        ("user", "hello", "complete"),
        ("assistant", "all good", "complete"),
    ]


async def test_500_every_time_ends_in_a_clear_error_and_keeps_the_message(target, ledger):
    player = await target.player()
    attempts = target.settings.provider_retries + 1
    target.upstream.enqueue(*[Script.error(500)] * attempts)
    events = await player.ask("keep this prompt", "r2")
    ledger.fault(target.path, "upstream 500", attempts)
    assert events[-1]["type"] == "error" and events[-1]["code"] == "provider_unavailable"
    assert events[-1]["message"]
    assert len(target.upstream.chat_requests) == attempts
    detail = await player.settled(events[0]["conversation_id"])
    assert [(m["role"], m["content"], m["status"]) for m in detail["messages"]] == [
        ("user", "keep this prompt", "complete"),
        ("assistant", "", "error"),
    ]


async def test_a_dropped_upstream_connection_keeps_the_partial_answer(target, ledger):
    player = await target.player()
    target.upstream.enqueue(Script(tokens=("one", " two", " three", " four"), drop_after=2))
    events = await player.ask("count", "d1")
    ledger.fault(target.path, "upstream drop")
    assert events[-1]["type"] == "error" and events[-1]["code"] == "stream_interrupted"
    assert answer_text(events) == "one two"
    assert len(target.upstream.chat_requests) == 1  # nothing retried once tokens were shown: no duplicates
    detail = await player.settled(events[0]["conversation_id"])
    assert [(m["content"], m["status"]) for m in detail["messages"]] == [
        ("count", "complete"),
        ("one two", "interrupted"),
    ]


async def test_a_hung_upstream_ends_within_the_timeout(target, ledger):
    player = await target.player()
    for hang_after, timeout, partial in ((2, target.settings.token_idle_timeout, "a b"), (0, None, "")):
        timeout = timeout or target.settings.first_token_timeout
        target.upstream.enqueue(Script(tokens=("a", " b", " c"), hang_after=hang_after))
        started = time.monotonic()
        events = await player.ask("wait", f"h{hang_after}")
        elapsed = time.monotonic() - started
        ledger.fault(target.path, "upstream hang")
        assert events[-1]["type"] == "error" and events[-1]["code"] == "provider_timeout"
        assert elapsed < timeout + 2, elapsed
        detail = await player.settled(events[0]["conversation_id"])
        expected_status = "interrupted" if partial else "error"
        assert (detail["messages"][-1]["content"], detail["messages"][-1]["status"]) == (partial, expected_status)
    assert len(target.upstream.chat_requests) == 2


async def test_a_client_that_leaves_mid_answer_finds_all_of_it_when_it_comes_back(target, ledger):
    player = await target.player()
    rounds, sent, answers = 4, [], []
    conversation_id = None
    for round_number in range(rounds):
        tokens = [f"r{round_number}t{i} " for i in range(30)]
        target.upstream.enqueue(Script(tokens=tokens, token_delay=0.01))
        prompt = f"question {round_number}"
        async with await player.socket() as ws:
            await send_prompt(ws, prompt, f"leave{round_number}", conversation_id=conversation_id)
            start = json.loads(await asyncio.wait_for(ws.recv(), 20))
            assert start["type"] == "start", start
            conversation_id = start["conversation_id"]
            for _ in range(3):  # leave after a few tokens
                assert json.loads(await asyncio.wait_for(ws.recv(), 20))["type"] == "delta"
        ledger.fault(target.path, "client left mid-answer")
        sent.append(prompt)
        answers.append("".join(tokens))
        await player.settled(conversation_id)  # comes back once the answer is done
    detail = await player.settled(conversation_id)
    saved_prompts = [m["content"] for m in detail["messages"] if m["role"] == "user"]
    saved_answers = [m["content"] for m in detail["messages"] if m["role"] == "assistant"]
    lost, duplicated = ledger.reconcile(target.path, sent + answers, saved_prompts + saved_answers)
    assert (lost, duplicated) == ([], [])
    assert saved_prompts == sent and saved_answers == answers  # whole, and in order
    assert {m["status"] for m in detail["messages"]} == {"complete"}


async def test_the_same_msgid_twice_is_one_message_and_one_upstream_call(target, ledger):
    player = await target.player()
    target.upstream.enqueue(Script(tokens=("once",), first_token_delay=0.2))
    async with await player.socket() as first, await player.socket() as second:
        await send_prompt(first, "double click", "twice")
        await send_prompt(first, "double click", "twice")
        await send_prompt(second, "double click", "twice")  # a retry from another tab
        on_first = []  # the answer and the refusal of the double click, in whatever order they come
        while not any(e["type"] == "done" for e in on_first) or len(on_first) < 4:
            on_first.append(json.loads(await asyncio.wait_for(first.recv(), 20)))
        on_second = json.loads(await asyncio.wait_for(second.recv(), 20))
    ledger.attempt(target.path, "duplicate msgid", 2)
    refusals = [e for e in on_first if e["type"] == "error"] + [on_second]
    events = [e for e in on_first if e["type"] != "error"]
    assert [e["type"] for e in events] == ["start", "delta", "done"] and answer_text(events) == "once"
    assert [(e["msgid"], e["code"]) for e in refusals] == [("twice", "duplicate_msgid")] * 2
    assert len(target.upstream.chat_requests) == 1
    detail = await player.settled(events[0]["conversation_id"])
    lost, duplicated = ledger.reconcile(target.path, ["double click"], [m["content"] for m in detail["messages"]])
    assert (lost, duplicated) == ([], [])
    assert [m["content"] for m in detail["messages"]] == ["double click", "once"]


async def test_two_tabs_writing_to_one_conversation_lose_nothing(target, ledger):
    player = await target.player()
    target.upstream.script = Script(echo=True, token_delay=0.005)
    first = await player.ask("start", "t0")
    conversation_id = first[0]["conversation_id"]
    per_tab = 6

    async def tab(name):
        async with await player.socket() as ws:
            for i in range(per_tab):
                prompt = f"{name} message {i}"
                await send_prompt(ws, prompt, f"{name}-{i}", conversation_id=conversation_id)
                events = await events_until_end(ws, f"{name}-{i}")
                assert events[-1]["type"] == "done", events[-1]

    await asyncio.gather(tab("left"), tab("right"))
    await player.settled(conversation_id)
    # Each message continues the branch its tab was shown, so tabs sending at the same moment may fork the
    # conversation: nothing is lost if every message is on one of its branches.
    messages = await every_message(player, conversation_id)
    sent = ["start"] + [f"{name} message {i}" for name in ("left", "right") for i in range(per_tab)]
    saved = [m["content"] for m in messages if m["role"] == "user"]
    lost, duplicated = ledger.reconcile(target.path, sent, saved)
    ledger.attempt(target.path, "concurrent writes", 2 * per_tab)
    assert (lost, duplicated) == ([], [])
    assert len(messages) == 2 * len(sent)
    # Every question got its own answer (the echo model repeats it) right below it, whatever the tabs' interleaving.
    questions = {m["id"]: m["content"] for m in messages if m["role"] == "user"}
    answers = [(questions.get(m["parent_id"]), m["content"].strip()) for m in messages if m["role"] == "assistant"]
    assert sorted(answers) == sorted((question, question) for question in sent)
    assert len({m["seq"] for m in messages}) == len(messages)


async def every_message(player, conversation_id: str) -> list[dict]:
    """Every message of every branch, found as a client finds them: by switching to each message and sibling."""
    found: dict[str, dict] = {}
    tried: set[str] = set()
    pending: list[str] = []
    detail = await player.conversation(conversation_id)
    while True:
        for message in detail["messages"]:
            found.setdefault(message["id"], message)
            pending += [i for i in [message["id"], *message["sibling_ids"]] if i not in tried]
            tried.update(pending)
        if not pending:
            return sorted(found.values(), key=lambda m: m["seq"])
        response = await player.http.put(
            f"/api/conversations/{conversation_id}/leaf", json={"message_id": pending.pop()}
        )
        assert response.status_code == 200, response.text
        detail = response.json()
