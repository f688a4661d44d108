from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import replace

import httpx
import jwt
import pytest

from parley.core.auth.throttle import BLOCKED_ADDRESS_CHECKS
from parley.core.auth.tokens import ALGORITHM
from parley.server.app import create_app
from parley.server.embedded import serving
from tests.conftest import PASSWORD


async def test_login_returns_a_token_for_valid_credentials(client, runtime):
    await runtime.auth.create_user("alice", PASSWORD)
    response = await client.post("/api/login", json={"username": "alice", "password": PASSWORD})
    assert response.status_code == 200
    body = response.json()
    assert body["username"] == "alice"
    assert body["expires_at"] > time.time() + 11 * 3600
    claims = jwt.decode(body["token"], options={"verify_signature": False})
    assert claims["typ"] == "session"
    assert {"sub", "iat", "exp", "iss", "aud", "jti"} <= claims.keys()
    assert jwt.get_unverified_header(body["token"])["alg"] == "HS256"


async def test_unknown_user_and_wrong_password_get_the_same_answer(client, runtime):
    await runtime.auth.create_user("alice", PASSWORD)
    wrong_password = await client.post("/api/login", json={"username": "alice", "password": "nope-nope"})
    unknown_user = await client.post("/api/login", json={"username": "mallory", "password": "nope-nope"})
    assert wrong_password.status_code == unknown_user.status_code == 401
    assert wrong_password.json() == unknown_user.json()


async def test_disabled_user_cannot_log_in_and_loses_sessions(client, runtime, alice):
    await runtime.auth.set_disabled("alice", True)
    assert (await client.get("/api/models", headers=alice.headers)).status_code == 401
    response = await client.post("/api/login", json={"username": "alice", "password": PASSWORD})
    assert response.status_code == 401


async def test_logout_revokes_the_token(client, alice):
    assert (await client.get("/api/conversations", headers=alice.headers)).status_code == 200
    assert (await client.post("/api/logout", headers=alice.headers)).status_code == 204
    assert (await client.get("/api/conversations", headers=alice.headers)).status_code == 401


async def test_password_change_revokes_every_token(client, runtime, alice):
    await runtime.auth.change_password("alice", "a brand new password")
    assert (await client.get("/api/conversations", headers=alice.headers)).status_code == 401
    response = await client.post("/api/login", json={"username": "alice", "password": "a brand new password"})
    assert response.status_code == 200


async def test_login_is_throttled_per_username_with_retry_after(client, runtime, settings):
    await runtime.auth.create_user("alice", PASSWORD)
    limit = settings.throttle_per_user.limit
    for _ in range(limit):
        response = await client.post("/api/login", json={"username": "alice", "password": "wrong-password"})
        assert response.status_code == 401
    blocked = await client.post("/api/login", json={"username": "alice", "password": PASSWORD})
    assert blocked.status_code == 429
    assert 0 < int(blocked.headers["Retry-After"]) <= settings.throttle_per_user.window_seconds
    assert blocked.json()["error"]["code"] == "too_many_attempts"


async def test_login_is_throttled_per_address_across_usernames(client, settings):
    limit = settings.throttle_per_address.limit
    statuses = []
    for i in range(limit + 1):
        response = await client.post("/api/login", json={"username": f"user{i}", "password": "wrong-password"})
        statuses.append(response.status_code)
    assert statuses[:limit] == [401] * limit
    assert statuses[limit] == 429


async def test_a_parallel_burst_of_guesses_gets_no_more_than_the_limit(client, runtime, settings):
    # Every guess of a burst is in flight before any is answered: the limit must hold all the same, and the
    # right password, arriving late in the burst, must not open a session.
    await runtime.auth.create_user("alice", PASSWORD)
    limit = settings.throttle_per_user.limit
    passwords = [f"guess-{i}" for i in range(3 * limit)] + [PASSWORD]
    answers = await asyncio.gather(
        *(client.post("/api/login", json={"username": "alice", "password": p}) for p in passwords)
    )
    statuses = [answer.status_code for answer in answers]
    assert statuses.count(401) == limit, statuses
    assert statuses.count(429) == len(passwords) - limit, statuses
    assert statuses[-1] == 429 and "token" not in answers[-1].json()


async def test_a_parallel_burst_from_one_address_gets_no_more_than_its_limit(client, settings):
    limit = settings.throttle_per_address.limit
    answers = await asyncio.gather(
        *(
            client.post("/api/login", json={"username": f"user{i}", "password": "wrong-password"})
            for i in range(3 * limit)
        )
    )
    statuses = [answer.status_code for answer in answers]
    assert statuses.count(401) == limit, statuses
    assert statuses.count(429) == 2 * limit, statuses


@pytest.fixture
def client_at(settings, runtime):
    """HTTP clients of the app, each from a client address of the test's choosing."""
    app = create_app(settings, runtime)

    @contextlib.asynccontextmanager
    async def at(address: str) -> AsyncIterator[httpx.AsyncClient]:
        transport = httpx.ASGITransport(app=app, client=(address, 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as http:
            yield http

    return at


async def _fail_made_up_names(http: httpx.AsyncClient, count: int) -> list[int]:
    statuses = []
    for i in range(count):
        response = await http.post("/api/login", json={"username": f"made-up{i}", "password": "wrong-password"})
        statuses.append(response.status_code)
    return statuses


async def test_failures_from_an_address_do_not_stop_a_correct_password_from_it(client_at, runtime, settings):
    await runtime.auth.create_user("alice", PASSWORD)
    limit = settings.throttle_per_address.limit
    async with client_at("203.0.113.7") as http:
        assert (await _fail_made_up_names(http, limit + 1))[-1] == 429
        wrong = await http.post("/api/login", json={"username": "alice", "password": "wrong-password"})
        unknown = await http.post("/api/login", json={"username": "nobody", "password": "wrong-password"})
        assert wrong.status_code == unknown.status_code == 429 and int(wrong.headers["Retry-After"]) > 0
        assert wrong.json()["error"]["code"] == unknown.json()["error"]["code"] == "too_many_attempts"
        right = await http.post("/api/login", json={"username": "alice", "password": PASSWORD})
        assert right.status_code == 200, right.text


async def test_a_blocked_address_gets_few_checks_per_username(client_at, runtime, settings):
    # Past the address limit, each name is checked only a few times more from there, right password or not:
    # enough for a user behind the address to type it, too few to spray guesses over many accounts.
    await runtime.auth.create_user("alice", PASSWORD)
    async with client_at("203.0.113.7") as http:
        await _fail_made_up_names(http, settings.throttle_per_address.limit)
        for _ in range(BLOCKED_ADDRESS_CHECKS):
            response = await http.post("/api/login", json={"username": "alice", "password": "wrong-password"})
            assert response.status_code == 429
        right = await http.post("/api/login", json={"username": "alice", "password": PASSWORD})
        assert right.status_code == 429
    async with client_at("198.51.100.1") as elsewhere:
        assert (await elsewhere.post("/api/login", json={"username": "alice", "password": PASSWORD})).status_code == 200


async def test_logging_in_often_from_one_address_does_not_fill_its_count(client_at, runtime, settings):
    await runtime.auth.create_user("alice", PASSWORD)
    async with client_at("203.0.113.7") as http:
        for _ in range(settings.throttle_per_address.limit + 1):
            response = await http.post("/api/login", json={"username": "alice", "password": PASSWORD})
            assert response.status_code == 200
        assert await _fail_made_up_names(http, 1) == [401]


async def test_ipv6_addresses_are_counted_by_their_64_bit_prefix(client_at, settings):
    limit = settings.throttle_per_address.limit
    async with client_at("2001:db8:1:2::1") as http:
        assert set(await _fail_made_up_names(http, limit)) == {401}
    async with client_at("2001:db8:1:2:ffff:ffff:ffff:fffe") as same_network:
        assert await _fail_made_up_names(same_network, 1) == [429]
    async with client_at("2001:db8:1:3::1") as next_network, client_at("203.0.113.9") as ipv4:
        assert await _fail_made_up_names(next_network, 1) == [401]
        assert await _fail_made_up_names(ipv4, 1) == [401]


@pytest.mark.parametrize("trusted", [True, False])
async def test_the_address_counted_is_the_proxys_client_only_behind_a_trusted_proxy(runtime, settings, trusted):
    # A proxy on loopback names the client in X-Forwarded-For; from any other peer the header is a claim
    # the client makes about itself, and the peer's own address is counted.
    served = replace(settings, forwarded_allow_ips=("127.0.0.1",) if trusted else ("192.0.2.1",))
    limit = settings.throttle_per_address.limit
    async with (
        serving(create_app(served, runtime), settings=served) as port,
        httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http,
    ):

        async def fail_from(i: int) -> int:
            response = await http.post(
                "/api/login",
                json={"username": f"made-up{i}", "password": "wrong-password"},
                headers={"X-Forwarded-For": f"198.51.100.{i}"},
            )
            return response.status_code

        assert [await fail_from(i) for i in range(limit)] == [401] * limit
        assert await fail_from(limit) == (401 if trusted else 429)


async def test_throttle_lifts_when_the_window_ends(runtime, settings):
    from parley.core.auth.throttle import LoginThrottle
    from parley.errors import LoginThrottled

    now = [1000.0]
    throttle = LoginThrottle(
        runtime.stores.throttle,
        per_user=settings.throttle_per_user,
        per_address=settings.throttle_per_address,
        clock=lambda: now[0],
    )
    for _ in range(settings.throttle_per_user.limit):
        await throttle.attempt("carol", "10.0.0.1")
    with pytest.raises(LoginThrottled):
        await throttle.attempt("carol", "10.0.0.1")
    now[0] += settings.throttle_per_user.window_seconds + 1
    await throttle.attempt("carol", "10.0.0.1")


def _forge(secret: str, **overrides) -> str:
    now = int(time.time())
    claims = {
        "sub": "someone",
        "iat": now,
        "exp": now + 3600,
        "iss": "parley",
        "aud": "parley",
        "typ": "session",
        "jti": "x",
        "ver": 0,
    }
    claims.update(overrides)
    claims = {k: v for k, v in claims.items() if v is not None}
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def _secret(settings) -> str:
    return settings.jwt_secret_path.read_text().strip()


def _unsigned(claims: dict, alg: str) -> str:
    """A token whose header names ``alg`` (any spelling) and carries no signature."""
    import base64
    import json

    def part(data: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")

    return f"{part({'alg': alg, 'typ': 'JWT'})}.{part(claims)}."


def _rs256(claims: dict) -> str:
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return jwt.encode(claims, key, algorithm="RS256")


@pytest.mark.parametrize(
    "forgery",
    [
        "expired",
        "wrong_key",
        "wrong_aud",
        "wrong_iss",
        "wrong_typ",
        "alg_none",
        "alg_noNE",
        "rs256",
        "no_exp",
        "future_nbf",
        "junk",
    ],
)
async def test_forged_tokens_are_refused(client, settings, alice, forgery):
    claims = jwt.decode(alice.token, options={"verify_signature": False})
    secret = _secret(settings)
    base = {"sub": claims["sub"], "ver": claims["ver"]}
    tokens = {
        "expired": lambda: _forge(secret, **base, exp=int(time.time()) - 10, iat=int(time.time()) - 100),
        "wrong_key": lambda: _forge("k" * 64, **base),
        "wrong_aud": lambda: _forge(secret, **base, aud="someone-else"),
        "wrong_iss": lambda: _forge(secret, **base, iss="evil"),
        "wrong_typ": lambda: _forge(secret, **base, typ="ticket"),
        "alg_none": lambda: jwt.encode({**claims}, None, algorithm="none"),
        "alg_noNE": lambda: _unsigned(claims, "noNE"),
        "rs256": lambda: _rs256(claims),
        "no_exp": lambda: _forge(secret, **base, exp=None),
        "future_nbf": lambda: _forge(secret, **base, nbf=int(time.time()) + 3600),
        "junk": lambda: alice.token[:-5] + "@@@@@",
    }
    token = tokens[forgery]()
    response = await client.get("/api/conversations", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_token"


async def test_the_real_token_is_accepted(client, alice):
    # The control for the forgeries above: same route, genuine token.
    assert (await client.get("/api/conversations", headers=alice.headers)).status_code == 200


async def test_token_in_query_string_is_not_accepted(client, alice):
    response = await client.get(f"/api/conversations?token={alice.token}")
    assert response.status_code == 401


async def test_ws_ticket_requires_auth_and_is_opaque(client, alice):
    assert (await client.post("/api/ws-ticket")).status_code == 401
    response = await client.post("/api/ws-ticket", headers=alice.headers)
    assert response.status_code == 200
    assert response.json()["expires_in"] == 60
    ticket = response.json()["ticket"]
    # A ticket is not a session token.
    refused = await client.get("/api/conversations", headers={"Authorization": f"Bearer {ticket}"})
    assert refused.status_code == 401
