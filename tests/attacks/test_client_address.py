"""The per-address login limit counts the client that really sent the request. Behind CloudFront (the `aws`
path's site) that is the viewer CloudFront names, not the edge server every viewer comes through; and never
an address a client merely claims in a header, whichever way it comes in."""

from __future__ import annotations

import httpx
import pytest

from parley.config import ThrottleRule
from tests.attacks.targets import PASSWORD

LIMIT = 5
# Two clients on one machine, each from a loopback address of its own (Linux routes all of 127/8 to lo).
ATTACKER, NEIGHBOUR = "127.0.0.2", "127.0.0.3"
# What a client may claim: the header CloudFront's function writes, CloudFront's own, and a guess at the secret.
CLAIMS = {
    "X-Parley-Viewer-Address": "203.0.113.{n}",
    "CloudFront-Viewer-Address": "203.0.113.{n}:443",
    "X-Parley-Origin-Secret": "a guess {n}",
}


def from_address(address: str) -> httpx.AsyncHTTPTransport:
    return httpx.AsyncHTTPTransport(local_address=address)


async def wrong_password(http: httpx.AsyncClient, n: int, claim: bool = False) -> int:
    headers = {name: value.format(n=n) for name, value in CLAIMS.items()} if claim else {}
    response = await http.post("/api/login", json={"username": f"someone{n}", "password": "guess"}, headers=headers)
    return response.status_code


@pytest.mark.target_settings(throttle_per_address=ThrottleRule(LIMIT, 300))
async def test_a_client_at_the_address_limit_blocks_itself_not_its_neighbours(target, ledger):
    real = await target.add_user("real")
    async with target.client(transport=from_address(ATTACKER)) as attacker:
        answers = [await wrong_password(attacker, n) for n in range(LIMIT + 1)]
    ledger.attempt(target.path, "password guesses", LIMIT + 1)
    assert answers == [401] * LIMIT + [429]
    # On AWS both come through the same CloudFront edge: counting the edge would block this one too.
    async with target.client(transport=from_address(NEIGHBOUR)) as neighbour:
        response = await neighbour.post("/api/login", json={"username": real, "password": PASSWORD})
    assert response.status_code == 200, response.text


@pytest.mark.target_settings(throttle_per_address=ThrottleRule(LIMIT, 300))
async def test_a_claimed_viewer_address_is_not_believed(target, ledger):
    # Each guess claims another address, straight to the HTTP API's own URL or through CloudFront (which puts
    # its own viewer address and secret over the claim): all of them count against the one real address.
    async with (
        target.client(url=target.api_url, transport=from_address(ATTACKER)) as direct,
        target.client(transport=from_address(ATTACKER)) as through_cloudfront,
    ):
        ways = [direct, through_cloudfront]
        answers = [await wrong_password(ways[n % 2], n, claim=True) for n in range(LIMIT + 2)]
    ledger.attempt(target.path, "spoofed client addresses", LIMIT + 2)
    assert answers == [401] * LIMIT + [429, 429]
    async with target.client(transport=from_address(NEIGHBOUR)) as neighbour:
        assert await wrong_password(neighbour, 99) == 401  # the claims blocked nobody else
