"""The browser's session cookie, attacked as a cross-site page would (CSRF).

The web app logs in with ``"cookie": true`` and gets an HttpOnly, SameSite=Strict cookie instead of a token. A
request that carries the cookie may read; to change anything it must also carry the X-Parley-CSRF header and this
server's Origin, which no cross-site form or page can send. On AWS the authorizer refuses such requests before
the app sees them (the emulation answers 401 for every authorizer refusal), locally the app does (403).
"""

from __future__ import annotations

from typing import Any

import httpx

from tests.attacks.targets import PASSWORD, Target

REFUSED = (401, 403)


async def browser(target: Target) -> tuple[httpx.AsyncClient, dict[str, str]]:
    """A logged-in browser tab of the web app: a client holding the cookie, and the headers its fetch adds."""
    username = await target.add_user()
    proof = {"X-Parley-CSRF": "1", "Origin": target.url}
    http = await target._stack.enter_async_context(target.client())
    body = {"username": username, "password": PASSWORD, "cookie": True}
    response = await http.post("/api/login", json=body, headers=proof)
    assert response.status_code == 200, response.text
    assert response.json()["token"] is None
    attributes = {part.strip().lower() for part in response.headers["set-cookie"].split(";")[1:]}
    assert {"httponly", "samesite=strict"} <= attributes  # no script reads it; no other site's page sends it
    return http, proof


async def forged(http: httpx.AsyncClient, conversation: str, headers: dict[str, str]) -> list[httpx.Response]:
    """Everything a cross-site page would like the victim's browser to do."""
    attempts: list[tuple[str, str, Any]] = [
        ("POST", "/api/chat", {"prompt": "forged"}),
        ("POST", "/api/ws-ticket", None),
        ("PATCH", f"/api/conversations/{conversation}", {"title": "forged"}),
        ("PUT", "/api/preferences", {"system_prompt": "forged"}),
        ("DELETE", f"/api/conversations/{conversation}", None),
        ("POST", "/api/logout", None),
    ]
    return [await http.request(method, path, json=body, headers=headers) for method, path, body in attempts]


async def test_the_cookie_without_the_csrf_proof_changes_nothing(target, ledger):
    http, proof = await browser(target)
    created = await http.post("/api/chat", json={"prompt": "mine"}, headers=proof)
    assert created.status_code == 200, created.text
    conversation = created.json()["conversation_id"]
    # A cross-site form sends neither the header nor this Origin; a page of another origin (another port of the
    # same host is the same site, so SameSite lets the cookie go) cannot send the header without a preflight.
    without = [{}, {"Origin": target.url}, {"X-Parley-CSRF": "1"}]
    cross_site = [
        {"X-Parley-CSRF": "1", "Origin": "http://evil.example"},
        {"X-Parley-CSRF": "1", "Origin": target.url.replace("127.0.0.1", "localhost")},
        {"X-Parley-CSRF": "1", "Origin": "null"},
    ]
    tried = 0
    for headers in without + cross_site:
        for response in await forged(http, conversation, headers):
            assert response.status_code in REFUSED, (headers, response.request.url, response.text)
            tried += 1
    ledger.attempt(target.path, "cookie without CSRF proof", tried)
    detail = (await http.get(f"/api/conversations/{conversation}")).json()
    assert detail["title"] != "forged" and detail["messages"][0]["content"] == "mine"
    preferences = (await http.get("/api/preferences")).json()
    assert "forged" not in str(preferences)
    # The control: the same tab, with its proof, can do all of it; the session survived every forgery.
    for response in await forged(http, conversation, proof):
        assert response.status_code < 300, (response.request.url, response.text)
    assert (await http.get("/api/conversations")).status_code in REFUSED  # that last one was a real logout


async def test_a_real_session_cookie_is_the_only_cookie_that_counts(target):
    http, proof = await browser(target)
    cookie = http.cookies.get("parley_session")
    assert cookie
    async with target.client() as stranger:
        for name in ("session", "token", "parley_session_", "Authorization"):
            response = await stranger.get("/api/conversations", headers={"Cookie": f"{name}={cookie}", **proof})
            assert response.status_code == 401, name
        response = await stranger.get("/api/conversations", headers={"Cookie": "parley_session=forged", **proof})
        assert response.status_code == 401
