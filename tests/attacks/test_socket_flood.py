"""A connection flood from one user: 1,000 WebSocket attempts, each with a fresh ticket, in concurrent batches.
No more than ``max_sockets_per_user`` are ever open at once; every other attempt is refused (a 4xx handshake
or a close code that says why, never a server error); a socket closed frees its place; health answers."""

from __future__ import annotations

import asyncio
import time
from collections import Counter

import pytest

ATTEMPTS = 1000
BATCH = 50
OPEN_BUDGET = {"requests_per_minute": 100_000}  # the tickets themselves must not hit the request budget
# How a refusal may look: the local server accepts, then closes with 1013 (try again later); API Gateway's
# $connect can only refuse the handshake, with a 4xx. 1008 (policy) is a refusal too; 1011 is a crash.
REFUSAL_CLOSE_CODES = {1008, 1013}


def is_refusal(refused) -> bool:
    kind, code = refused
    return (kind == "http" and 400 <= code < 500) or (kind == "close" and code in REFUSAL_CLOSE_CODES)


# On the serverless path each attempt crosses the emulated gateway, the authorizer and moto twice (ticket,
# $connect): about a minute on an idle machine, so the suite's 120 s default leaves too little room.
@pytest.mark.timeout(300)
@pytest.mark.target_settings(**OPEN_BUDGET)
async def test_a_thousand_sockets_from_one_user_never_hold_more_than_the_cap(target, ledger):
    player = await target.player()
    cap = target.settings.max_sockets_per_user
    held = []  # every socket the server let in stays open to the end, so the cap stays full
    refusals: Counter = Counter()
    slowest_health = 0.0
    try:
        for start in range(0, ATTEMPTS, BATCH):
            tickets = await asyncio.gather(*(player.ticket() for _ in range(BATCH)))
            outcomes = await asyncio.gather(*(target.try_socket(f"ticket={ticket}") for ticket in tickets))
            for refused, ws in outcomes:
                if ws is not None:
                    held.append(ws)
                else:
                    refusals[refused] += 1
            assert len(held) <= cap, f"{len(held)} sockets open at once after {start + BATCH} attempts (cap {cap})"
            async with target.client() as http:
                started = time.monotonic()
                assert (await http.get("/api/health")).status_code == 200
                slowest_health = max(slowest_health, time.monotonic() - started)
        ledger.attempt(target.path, "WebSocket connection attempts", ATTEMPTS)

        assert len(held) == cap  # the cap is a cap, not a lower one
        assert sum(refusals.values()) == ATTEMPTS - cap
        assert all(is_refusal(refused) for refused in refusals), refusals
        assert slowest_health < 2.0, slowest_health

        # Closing a socket frees its place, and the socket that takes it is served.
        await held[0].close()
        held.pop(0)
        await asyncio.sleep(0.5)  # $disconnect runs after the close on the serverless path
        refused, ws = await target.try_socket(f"ticket={await player.ticket()}")
        assert refused is None, refused
        held.append(ws)
        assert (await player.ask("still answering?", "after-flood", ws=ws))[-1]["type"] == "done"
    finally:
        await asyncio.gather(*(ws.close() for ws in held))
