"""A session that ends takes its credentials with it: the token gets 401, its open sockets close within
a second, and tickets asked for before the end open nothing. Another session survives a logout."""

from __future__ import annotations

import time

import pytest

from tests.attacks.targets import PASSWORD, closed_within


async def end_session(target, player, ending):
    if ending == "logout":
        assert (await player.http.post("/api/logout")).status_code == 204
    elif ending == "password change":
        assert await target.cli("users", "passwd", player.username, "--password-stdin", stdin="a new password 2\n") == 0
    else:
        assert await target.cli("users", "disable", player.username) == 0


@pytest.mark.parametrize("ending", ["logout", "password change", "disabled"])
async def test_an_ended_session_loses_its_token_and_its_sockets(target, ledger, ending):
    player = await target.player()
    other = await target.login(player.username, PASSWORD)  # the same user, another device
    spare_ticket = await player.ticket()
    async with await player.socket() as ws, await other.socket() as other_ws:
        assert (await player.ask("before", "b1", ws=ws))[-1]["type"] == "done"
        started = time.monotonic()
        await end_session(target, player, ending)
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
