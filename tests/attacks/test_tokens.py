"""Forged, expired and misused credentials: 401 on HTTP, and a refused WebSocket; the genuine token, the
control, is accepted on the same route."""

from __future__ import annotations

import base64
import json
import time

import jwt
import pytest

FORGERIES = (
    "expired",
    "wrong key",
    "wrong aud",
    "wrong iss",
    "wrong typ",
    "alg none",
    "alg noNE",
    "alg NONE",
    "HS/RS confusion",
    "RS256",
    "no exp",
    "future nbf",
    "junk characters",
    "truncated",
    "ticket as token",
)


def _claims(token: str) -> dict:
    return jwt.decode(token, options={"verify_signature": False})


def _signed(secret: str, claims: dict, **changes) -> str:
    merged = {key: value for key, value in {**claims, **changes}.items() if value is not None}
    return jwt.encode(merged, secret, algorithm="HS256")


def _unsigned(claims: dict, alg: str) -> str:
    """A token whose header names ``alg`` (any spelling) and carries no signature."""

    def part(data: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")

    return f"{part({'alg': alg, 'typ': 'JWT'})}.{part(claims)}."


def _hs_rs_confusion(claims: dict) -> str:
    """The classic: an RS256 public key used as an HS256 secret. Parley has no public key at all, so the
    attacker's best guess is some PEM; the server pins HS256 with its own secret and must refuse it."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    public = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key()
    pem = public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    header = {"alg": "HS256", "typ": "JWT"}
    import hashlib
    import hmac

    def part(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).decode().rstrip("=")

    signing_input = f"{part(json.dumps(header).encode())}.{part(json.dumps(claims).encode())}"
    signature = hmac.new(pem, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{part(signature)}"


def _rs256(claims: dict) -> str:
    from cryptography.hazmat.primitives.asymmetric import rsa

    return jwt.encode(claims, rsa.generate_private_key(public_exponent=65537, key_size=2048), algorithm="RS256")


async def forge(kind: str, player, secret: str) -> str:
    claims = _claims(player.token)
    now = int(time.time())
    makers = {
        "expired": lambda: _signed(secret, claims, iat=now - 100, exp=now - 10),
        "wrong key": lambda: _signed("k" * 64, claims),
        "wrong aud": lambda: _signed(secret, claims, aud="someone-else"),
        "wrong iss": lambda: _signed(secret, claims, iss="evil"),
        "wrong typ": lambda: _signed(secret, claims, typ="ticket"),
        "alg none": lambda: _unsigned(claims, "none"),
        "alg noNE": lambda: _unsigned(claims, "noNE"),
        "alg NONE": lambda: _unsigned(claims, "NONE"),
        "HS/RS confusion": lambda: _hs_rs_confusion(claims),
        "RS256": lambda: _rs256(claims),
        "no exp": lambda: _signed(secret, claims, exp=None),
        "future nbf": lambda: _signed(secret, claims, nbf=now + 3600),
        "junk characters": lambda: player.token[:-5] + "@@\u00e9!~",
        "truncated": lambda: player.token.rsplit(".", 1)[0],
    }
    if kind == "ticket as token":
        return await player.ticket()
    return makers[kind]()


@pytest.mark.parametrize("kind", FORGERIES)
async def test_forged_tokens_get_401(target, ledger, kind):
    player = await target.player()
    token = await forge(kind, player, target.signing_secret)
    async with target.client() as http:
        for method, path in (("GET", "/api/conversations"), ("POST", "/api/ws-ticket"), ("GET", "/api/models")):
            response = await http.request(method, path, headers={"Authorization": f"Bearer {token}".encode("latin-1")})
            assert response.status_code == 401, (kind, path, response.text)
            ledger.attempt(target.path, "forged tokens")
    # The control: the genuine token on the same routes.
    assert (await player.http.get("/api/conversations")).status_code == 200


@pytest.mark.parametrize(
    "ticket", ["", "garbage", "session token", "forged token", "used ticket", "another user's used ticket"]
)
async def test_bad_tickets_cannot_open_a_socket(target, ledger, ticket):
    player = await target.player()
    if ticket == "session token":
        ticket = player.token
    elif ticket == "forged token":
        ticket = await forge("alg none", player, target.signing_secret)
    elif ticket.endswith("used ticket"):
        owner = player if ticket == "used ticket" else await target.player()
        ticket = await owner.ticket()
        refusal, ws = await target.try_socket(f"ticket={ticket}")
        assert refusal is None and ws is not None  # the first use opens the socket
        await ws.close()
    refusal, ws = await target.try_socket(f"ticket={ticket}")
    ledger.attempt(target.path, "bad tickets")
    assert ws is None
    assert refusal == target.refused


async def test_a_socket_from_a_foreign_origin_is_refused(target, ledger):
    player = await target.player()
    refusal, ws = await target.try_socket(f"ticket={await player.ticket()}", origin="https://evil.example")
    ledger.attempt(target.path, "foreign origin")
    assert ws is None
    assert refusal == ("http", 403)
    # The control: the app's own origin.
    refusal, ws = await target.try_socket(f"ticket={await player.ticket()}", origin=target.url)
    assert refusal is None and ws is not None
    await ws.close()
