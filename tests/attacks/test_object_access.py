"""User B holding user A's ids (conversation, message, running answer, which B can neither stop nor
resume) gets exactly what a made-up id
gets: 404 / not_found, with nothing that says the object exists. A's data is untouched."""

from __future__ import annotations

import json

from parley.testing.fake_openai import Script
from tests.attacks.targets import events_until_end, next_error, send_prompt

MISSING = "0123456789abcdef0123456789abcdef"


async def http_attempts(http, conversation_id, message_id):
    """Every HTTP route that takes an id, with the given ids."""
    url = f"/api/conversations/{conversation_id}"
    chat = {"prompt": "hi", "conversation_id": conversation_id}
    return [
        await http.get(url),
        await http.patch(url, json={"title": "mine now"}),
        await http.put(f"{url}/leaf", json={"message_id": message_id}),
        await http.delete(url),
        await http.post("/api/chat", json=chat),
        await http.post("/api/chat", json={**chat, "edit_message_id": message_id}),
    ]


async def ws_attempts(ws, conversation_id, message_id, running_msgid):
    """Every WebSocket action that takes an id; returns each error's (code, message)."""
    errors = []
    await send_prompt(ws, "hi", "b1", conversation_id=conversation_id)
    errors.append(await next_error(ws))
    await send_prompt(ws, "hi", "b2", conversation_id=conversation_id, edit_message_id=message_id)
    errors.append(await next_error(ws))
    await ws.send(json.dumps({"action": "stop", "payload": {"msgid": running_msgid}}))
    errors.append(await next_error(ws))
    resume = {"msgid": running_msgid, "conversation_id": conversation_id, "after_seq": 0}
    await ws.send(json.dumps({"action": "resume", "payload": resume}))
    errors.append(await next_error(ws))
    return [(error["code"], error["message"]) for error in errors]


async def test_another_users_ids_are_not_found_on_every_route_and_action(target, ledger):
    alice, bob = await target.player("alice"), await target.player("bob")
    first = await alice.ask("my secret plans", "a1")
    conversation_id = first[0]["conversation_id"]
    message_id = first[0]["user_message_id"]
    # A second branch, so that a switch by bob (to the first) would show in alice's conversation.
    await alice.ask("my secret plans, edited", "a0", conversation_id=conversation_id, edit_message_id=message_id)

    target.upstream.enqueue(Script(tokens=["x "] * 200, token_delay=0.02))  # alice's answer keeps running
    async with await alice.socket() as alice_ws, await bob.socket() as bob_ws:
        await send_prompt(alice_ws, "go on", "a2", conversation_id=conversation_id)
        assert json.loads(await alice_ws.recv())["type"] == "start"

        missing_http = await http_attempts(bob.http, MISSING, MISSING)
        stolen_http = await http_attempts(bob.http, conversation_id, message_id)
        for missing, stolen in zip(missing_http, stolen_http, strict=True):
            assert stolen.status_code == missing.status_code == 404, stolen.text
            assert stolen.json() == missing.json()  # no hint that the object exists
        missing_ws = await ws_attempts(bob_ws, MISSING, MISSING, "never-sent")
        stolen_ws = await ws_attempts(bob_ws, conversation_id, message_id, "a2")
        assert stolen_ws == missing_ws
        assert {code for code, _ in stolen_ws} == {"not_found"}
        ledger.attempt(target.path, "foreign ids", len(stolen_http) + len(stolen_ws))

        ending = await events_until_end(alice_ws, "a2")
    assert ending[-1]["type"] == "done" and ending[-1]["finish_reason"] != "stopped"  # bob's stop did nothing

    detail = await alice.settled(conversation_id)
    assert detail["title"] != "mine now"
    assert [m["content"] for m in detail["messages"] if m["role"] == "user"] == ["my secret plans, edited", "go on"]
    assert detail["messages"][0]["sibling_ids"] == [message_id, detail["messages"][0]["id"]]  # both branches kept
    listing = (await bob.http.get("/api/conversations")).json()["items"]
    assert listing == []
    found = (await bob.http.get("/api/conversations", params={"q": "secret"})).json()["items"]
    assert found == []


async def test_another_users_words_are_never_found(target, ledger):
    alice, bob = await target.player("alice"), await target.player("bob")
    await alice.ask("my platypus recipe is secret", "a1")
    await bob.ask("bob also writes platypus", "b1")
    searches = ["platypus", "recipe", "secret", "platypus recipe", "Hello", "my"]
    mine = (await alice.http.get("/api/search", params={"q": "recipe"})).json()["items"]
    assert [hit["role"] for hit in mine if hit["message_id"]] == ["user"]  # the search works: alice finds it
    for q in searches:
        found = (await bob.http.get("/api/search", params={"q": q})).json()["items"]
        assert all(hit["conversation_id"] not in {h["conversation_id"] for h in mine} for hit in found), q
        assert not any("recipe" in hit["snippet"] or "recipe" in hit["title"] for hit in found), q
    bobs = (await bob.http.get("/api/search", params={"q": "platypus"})).json()["items"]
    assert {hit["snippet"] for hit in bobs} == {"bob also writes platypus"}  # his own message and title only
    ledger.attempt(target.path, "foreign words", len(searches))
