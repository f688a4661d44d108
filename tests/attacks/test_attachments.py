"""Attachments in a prompt (``attachments`` in /api/chat and the WebSocket ``sendprompt``): ids that are not the
user's READY files, malformed lists, and too many, are refused with 400 / invalid_input (an error event on the
socket) before anything is saved or the model is called. A refused id is named as sent, never with anything
about a file it might be."""

from __future__ import annotations

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
