"""Attachments in a prompt (``attachments`` in /api/chat and the WebSocket ``sendprompt``): ids that are not the
user's READY files, malformed lists, and too many, are refused with 400 / invalid_input (an error event on the
socket) before anything is saved or the model is called. A refused id is named as sent, never with anything
about a file it might be."""

from __future__ import annotations

import json

from tests.attacks.targets import next_error, send_prompt

MADE_UP = "0123456789abcdef0123456789abcdef"
BAD_LISTS = [
    "0123456789abcdef",  # not a list
    [1, 2],
    [""],
    ["x" * 65],
    [MADE_UP] * 11,  # over the limit of ten
    [{"id": MADE_UP}],
    [None],
]


async def test_attachments_that_are_not_the_users_files_are_refused_before_anything_is_saved(target, ledger):
    player = await target.player("alice")
    for ids in ([MADE_UP], ["../../etc/passwd"], [MADE_UP, "another"]):
        response = await player.http.post("/api/chat", json={"prompt": "read it", "attachments": ids})
        ledger.attempt(target.path, "foreign attachment")
        assert response.status_code == 400, response.text
        assert response.json()["error"]["code"] == "invalid_input"
    for bad in BAD_LISTS:
        response = await player.http.post("/api/chat", json={"prompt": "read it", "attachments": bad})
        ledger.attempt(target.path, "malformed attachments")
        assert response.status_code in (400, 422), response.text
        assert "error" in response.json()

    async with await player.socket() as ws:
        for number, ids in enumerate([[MADE_UP], *BAD_LISTS]):
            await send_prompt(ws, "read it", f"m{number}", attachments=ids)
            error = await next_error(ws)
            ledger.attempt(target.path, "websocket attachments")
            assert error["code"] == "invalid_input", error
    assert (await player.http.get("/api/conversations")).json()["items"] == []
    assert target.upstream.chat_requests == []


async def test_another_users_ready_file_is_refused_as_a_made_up_one_would_be(target, ledger):
    from tests.attacks.test_files import processed

    alice, bob = await target.player(), await target.player()
    secret = b"The vault code is 0451. " * 200  # long enough for passages to be searched
    file = await processed(alice, secret, "alice-secrets.txt")
    assert file["status"] == "ready"
    stolen = await bob.http.post("/api/chat", json={"prompt": "vault code?", "attachments": [file["id"]]})
    made_up = await bob.http.post("/api/chat", json={"prompt": "vault code?", "attachments": [MADE_UP]})
    ledger.attempt(target.path, "another user's file attached")
    assert stolen.status_code == made_up.status_code == 400
    assert stolen.json()["error"]["message"].replace(file["id"], "ID") == made_up.json()["error"]["message"].replace(
        MADE_UP, "ID"
    )
    async with await bob.socket() as ws:
        await send_prompt(ws, "vault code?", "b1", attachments=[file["id"]])
        assert (await next_error(ws))["code"] == "invalid_input"
    assert (await bob.http.get("/api/conversations")).json()["items"] == []
    assert all(b"0451" not in json.dumps(r.body).encode() for r in target.upstream.chat_requests)
    # Alice, whose file it is, is answered from it.
    events = await alice.ask("vault code?", "a1", attachments=[file["id"]])
    assert events[-1]["type"] == "done", events
    assert "0451" in json.dumps(target.upstream.chat_requests[-1].body)
    await alice.settled(events[0]["conversation_id"])
