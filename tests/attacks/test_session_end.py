"""A session that ends takes its credentials with it: the token gets 401, its open sockets close within
a second, and tickets asked for before the end open nothing. Another session survives a logout. A socket
that nothing has closed yet serves nothing more either: each message checks its session."""

from __future__ import annotations

import asyncio
import json
import time

import pytest
from websockets.exceptions import ConnectionClosed

from tests.attacks.targets import PASSWORD, closed_within, send_prompt

NEW_PASSWORD = "a new password 2"


async def end_session(target, player, ending):
    if ending == "logout":
        assert (await player.http.post("/api/logout")).status_code == 204
    elif ending == "password change":
        assert await target.cli("users", "passwd", player.username, "--password-stdin", stdin=NEW_PASSWORD + "\n") == 0
    else:
        assert await target.cli("users", "disable", player.username) == 0


@pytest.mark.parametrize("ending", ["logout", "password change", "disabled"])
async def test_an_ended_session_loses_its_token_and_its_sockets(target, ledger, ending):
    player = await target.player()
    other = await target.login(player.username, PASSWORD)  # the same user, another device
    spare_ticket = await player.ticket()
    async with await player.socket() as ws, await other.socket() as other_ws:
        assert (await player.ask("before", "b1", ws=ws))[-1]["type"] == "done"
        await end_session(target, player, ending)
        # From the moment the end is committed (the CLI's own start-up is not the server's delay).
        started = time.monotonic()
        code = await closed_within(ws, 3)
        elapsed = time.monotonic() - started
        ledger.attempt(target.path, "ended sessions")
        assert code == target.session_end_close
        assert elapsed < 1.0, elapsed
        if ending == "logout":  # only that session ended
            assert (await other.ask("still here", "o1", ws=other_ws))[-1]["type"] == "done"
        else:  # every session of the user ended
            assert await closed_within(other_ws, 1) == target.session_end_close
    for route in ("/api/conversations", "/api/models"):
        assert (await player.http.get(route)).status_code == 401
    refusal, ws = await target.try_socket(f"ticket={spare_ticket}")
    assert ws is None and refusal == target.refused


async def events_until_closed(ws, seconds):
    """Every event the server sends until it closes ``ws``, and the close code (None if still open)."""
    events = []
    try:
        async with asyncio.timeout(seconds):
            while True:
                events.append(json.loads(await ws.recv()))
    except ConnectionClosed as closed:
        return events, closed.rcvd.code if closed.rcvd else None
    except TimeoutError:
        return events, None


@pytest.mark.parametrize("ending", ["logout", "password change", "disabled"])
async def test_a_socket_still_open_after_its_session_ended_serves_nothing(target, ledger, ending):
    # Closing the sockets comes late, or never: on AWS the session-end function reads the table's stream a few
    # times a second, finds sockets through an index that lags, and gives up after three retries.
    player = await target.player()
    async with await player.socket() as ws:
        assert (await player.ask("before", "b1", ws=ws))[-1]["type"] == "done"
        asked = len(target.upstream.chat_requests)
        async with target.session_end_stalled():
            await end_session(target, player, ending)
            assert await closed_within(ws, 0.5) is None  # the fault holds: nothing has closed it
            await send_prompt(ws, "after the end", "a1")
            events, code = await events_until_closed(ws, 3)
        ledger.fault(target.path, "session ends not closing their sockets")
        ledger.attempt(target.path, "messages after a session ended")
    assert [event for event in events if event.get("msgid") == "a1"] == []
    assert code == target.session_end_close
    await asyncio.sleep(0.5)  # a queued answer would have reached the model by now
    assert len(target.upstream.chat_requests) == asked
    # Nothing was saved either: the user, back with a session that stands, has the one conversation from before.
    if ending == "disabled":
        assert await target.cli("users", "enable", player.username) == 0
    again = await target.login(player.username, NEW_PASSWORD if ending == "password change" else PASSWORD)
    conversations = (await again.http.get("/api/conversations")).json()["items"]
    assert len(conversations) == 1
