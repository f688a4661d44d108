"""API keys and the OpenAI-compatible endpoint under attack, on both paths: forged, garbled, revoked and expired
keys, a disabled user's key, a key where a session belongs and a session where a key belongs, a key in a URL, key
names with markup, and another user's key id. Every refusal on /v1 is OpenAI's error shape."""

from __future__ import annotations

import time
import uuid

from parley.core.auth.api_keys import KEY_PREFIX, key_hash, new_key_text
from parley.core.store.base import ApiKey
from parley.core.store.registry import open_stores

CHAT = {"model": "fake-model", "messages": [{"role": "user", "content": "hi"}]}


def _refused_as_openai(response, status: int = 401) -> None:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    if status == 401:
        assert error["code"] == "invalid_api_key"


async def _key(player, name: str = "script", **options) -> dict:
    response = await player.http.post("/api/keys", json={"name": name, **options})
    assert response.status_code == 201, response.text
    made: dict = response.json()
    return made


async def test_only_a_genuine_live_key_opens_v1(target, ledger):
    alice = await target.player()
    made = await _key(alice)
    genuine = made["key"]
    async with target.client() as http:
        ok = await http.get("/v1/models", headers={"Authorization": f"Bearer {genuine}"})
        assert ok.status_code == 200 and ok.json()["data"][0]["id"] == "fake-model"  # the control

        body = genuine[len(KEY_PREFIX) :]
        forged = {
            "random key of the right shape": new_key_text(),
            "one character changed": genuine[:-8] + ("x" if genuine[-8] != "x" else "y") + genuine[-7:],
            "checksum recomputed over a changed body": None,
            "truncated": genuine[:-1],
            "prefix only": KEY_PREFIX,
            "another prefix": "sk-" + body,
            "lower-cased": genuine.lower(),
            "with a suffix": genuine + "A",
            "junk characters": genuine[:20] + "\u00e9\u0000" + genuine[22:],
            "its hash": key_hash(genuine),
            "a session token": alice.token,
        }
        forged["checksum recomputed over a changed body"] = _rechecksummed(genuine)
        for name, value in forged.items():
            headers = {"Authorization": f"Bearer {value}"} if value.isascii() else {"Authorization": "Bearer x"}
            _refused_as_openai(await http.get("/v1/models", headers=headers))
            _refused_as_openai(await http.post("/v1/chat/completions", json=CHAT, headers=headers))
            ledger.attempt(target.path, f"forged key: {name}")
        for scheme in ("", "Basic ", "Token ", "bearer  "):
            response = await http.get("/v1/models", headers={"Authorization": f"{scheme}{genuine}"})
            assert response.status_code == (200 if scheme == "bearer  " else 401), scheme
        # Never from the URL, where it would be logged.
        _refused_as_openai(await http.get(f"/v1/models?api_key={genuine}"))
        _refused_as_openai(await http.get(f"/v1/models?key={genuine}"))
        _refused_as_openai(await http.get("/v1/models"))
    assert target.upstream.chat_requests == []


def _rechecksummed(genuine: str) -> str:
    """A key whose body differs but whose checksum is right for it: the shape check passes, the lookup fails."""
    from parley.core.auth.api_keys import _checksum

    body = genuine[len(KEY_PREFIX) : -6]
    changed = body[:-1] + ("a" if body[-1] != "a" else "b")
    return f"{KEY_PREFIX}{changed}{_checksum(changed)}"


async def test_revoked_expired_and_disabled_keys_are_refused_at_once(target, ledger):
    alice = await target.player()
    made = await _key(alice)
    auth = {"Authorization": f"Bearer {made['key']}"}
    async with target.client() as http:
        assert (await http.get("/v1/models", headers=auth)).status_code == 200
        assert await target.cli("users", "disable", alice.username) == 0
        _refused_as_openai(await http.post("/v1/chat/completions", json=CHAT, headers=auth))
        assert await target.cli("users", "enable", alice.username) == 0
        assert (await http.get("/v1/models", headers=auth)).status_code == 200  # a key outlives the sessions
        alice = await target.login(alice.username)  # disabling ended alice's sessions

        assert (await alice.http.delete(f"/api/keys/{made['id']}")).status_code == 204
        revoked_at = time.monotonic()
        _refused_as_openai(await http.post("/v1/chat/completions", json=CHAT, headers=auth))
        assert time.monotonic() - revoked_at < 1.0

        expired = await _expired_key(target, alice.username)
        _refused_as_openai(await http.get("/v1/models", headers={"Authorization": f"Bearer {expired}"}))
        ledger.attempt(target.path, "revoked, expired and disabled keys", 3)

        # A removed user's key goes with them.
        other = await target.player()
        theirs = await _key(other)
        assert await target.cli("users", "remove", other.username) == 0
        _refused_as_openai(await http.get("/v1/models", headers={"Authorization": f"Bearer {theirs['key']}"}))
    assert target.upstream.chat_requests == []


async def _expired_key(target, username: str) -> str:
    """A key whose expiry has passed, written straight into the path's store (no clock to move on a server)."""
    text = new_key_text()
    async with open_stores(target.settings.store, target.settings) as stores:
        user = await stores.users.get_user_by_name(username)
        assert user is not None
        await stores.api_keys.create_key(
            ApiKey(
                id=uuid.uuid4().hex,
                user_id=user.id,
                name="expired",
                prefix=text[:11],
                key_hash=key_hash(text),
                created_at=time.time() - 86400 * 2,
                expires_at=time.time() - 1,
            )
        )
    return text


async def test_keys_and_sessions_each_open_only_their_own_door(target, ledger):
    alice = await target.player()
    made = await _key(alice)
    key = {"Authorization": f"Bearer {made['key']}"}
    async with target.client() as http:
        # A key on the app's API: refused everywhere, key management included (a leaked key cannot make more).
        for method, path in (
            ("GET", "/api/conversations"),
            ("GET", "/api/keys"),
            ("POST", "/api/keys"),
            ("DELETE", f"/api/keys/{made['id']}"),
            ("POST", "/api/ws-ticket"),
            ("GET", "/api/models"),
        ):
            body = {"name": "more"} if method == "POST" else None
            response = await http.request(method, path, headers=key, json=body)
            assert response.status_code == 401, (method, path, response.text)
            ledger.attempt(target.path, "key on /api")
        # A session (its token, or the web app's cookie) on /v1: refused.
        _refused_as_openai(await alice.http.get("/v1/models"))
        _refused_as_openai(await alice.http.post("/v1/chat/completions", json=CHAT))
        proof = {"X-Parley-CSRF": "1", "Origin": target.url}
        login = {"username": alice.username, "password": alice.password, "cookie": True}
        assert (await http.post("/api/login", json=login, headers=proof)).status_code == 200
        assert http.cookies, "the web app's session cookie"
        assert (await http.get("/api/keys", headers=proof)).status_code == 200  # the cookie works where it belongs
        _refused_as_openai(await http.get("/v1/models", headers=proof))
        _refused_as_openai(await http.post("/v1/chat/completions", json=CHAT, headers=proof))
        ledger.attempt(target.path, "session on /v1", 3)
    assert (await alice.http.get("/api/keys")).json()["keys"][0]["revoked"] is False


async def test_another_users_key_id_is_not_found(target, ledger):
    alice, bob = await target.player(), await target.player()
    made = await _key(alice)
    for key_id in (made["id"], "0" * 32, "../" + made["id"], made["id"].upper()):
        response = await bob.http.delete(f"/api/keys/{key_id}")
        assert response.status_code in (404, 405), (key_id, response.text)
        assert response.json()["error"]["code"] in ("not_found", "method_not_allowed")
        ledger.attempt(target.path, "another user's key id")
    assert (await bob.http.get("/api/keys")).json()["keys"] == []
    listed = (await alice.http.get("/api/keys")).json()["keys"]
    assert [(key["id"], key["revoked"]) for key in listed] == [(made["id"], False)]
    async with target.client() as http:
        assert (await http.get("/v1/models", headers={"Authorization": f"Bearer {made['key']}"})).status_code == 200


async def test_key_names_are_data_never_markup(target, ledger):
    alice = await target.player()
    names = ['<img src=x onerror="alert(1)">', "<script>alert(1)</script>", "{{7*7}}", "' OR 1=1 --", "名前 🔑"]
    for name in names:
        made = await _key(alice, name)
        assert made["name"] == name
        ledger.attempt(target.path, "key name with markup")
    response = await alice.http.get("/api/keys")
    assert response.headers["content-type"].startswith("application/json")
    assert response.headers["x-content-type-options"] == "nosniff"
    assert [key["name"] for key in response.json()["keys"]] == names
    assert "key" not in response.json()["keys"][0]  # the key itself never comes back
    # Names a list could not show sensibly are refused, with the reason.
    for bad in ("", " ", "a" * 65, "tab\there", "new\nline"):
        response = await alice.http.post("/api/keys", json={"name": bad})
        assert response.status_code in (400, 422), bad
    duplicate = await alice.http.post("/api/keys", json={"name": names[0].upper()})
    assert duplicate.status_code == 409 and "already have a key" in duplicate.json()["error"]["message"]


async def test_v1_bad_requests_are_openai_errors_and_reach_no_model(target, ledger):
    alice = await target.player()
    made = await _key(alice)
    auth = {"Authorization": f"Bearer {made['key']}"}
    bad_bodies = {
        "no messages": {"model": "fake-model"},
        "empty messages": {"model": "fake-model", "messages": []},
        "unknown role": {"model": "fake-model", "messages": [{"role": "wizard", "content": "x"}]},
        "tool role": {"model": "fake-model", "messages": [{"role": "tool", "content": "x", "tool_call_id": "1"}]},
        "image part": {"model": "fake-model", "messages": [{"role": "user", "content": [{"type": "image_url"}]}]},
        "n=2": {**CHAT, "n": 2},
        "temperature out of range": {**CHAT, "temperature": 50},
        "negative max_tokens": {**CHAT, "max_tokens": -1},
        "too many stops": {**CHAT, "stop": ["a", "b", "c", "d", "e"]},
        "only a system message": {"model": "fake-model", "messages": [{"role": "system", "content": "x"}]},
        "not JSON": None,
    }
    async with target.client() as http:
        for name, body in bad_bodies.items():
            if body is None:
                response = await http.post(
                    "/v1/chat/completions", content=b"{not json", headers={**auth, "Content-Type": "application/json"}
                )
            else:
                response = await http.post("/v1/chat/completions", json=body, headers=auth)
            _refused_as_openai(response, 400)
            ledger.attempt(target.path, f"bad /v1 request: {name}")
        unknown = await http.post("/v1/chat/completions", json={**CHAT, "model": "gpt-404"}, headers=auth)
        _refused_as_openai(unknown, 404)
        assert unknown.json()["error"]["code"] == "model_not_found"
    assert target.upstream.chat_requests == []
