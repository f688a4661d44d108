"""The web app's session on `parley serve`: an HttpOnly, SameSite=Strict cookie that page script cannot read, usable
for anything but reading only with the X-Parley-CSRF header and this server's Origin; Bearer use is unchanged."""

from __future__ import annotations

import httpx
import pytest

from parley.server.browser_session import SESSION_COOKIE, parse_cookies, session_token
from tests.conftest import PASSWORD

PAGE = "http://localhost"  # the origin the in-process client's requests are addressed to
PROOF = {"X-Parley-CSRF": "1", "Origin": PAGE}


async def cookie_login(client: httpx.AsyncClient, runtime, headers: dict[str, str] = PROOF) -> httpx.Response:
    await runtime.auth.create_user("alice", PASSWORD)
    body = {"username": "alice", "password": PASSWORD, "cookie": True}
    return await client.post("/api/login", json=body, headers=headers)


def set_cookie_attributes(response: httpx.Response) -> set[str]:
    return {part.strip().lower() for part in response.headers["set-cookie"].split(";")[1:]}


async def test_the_web_app_gets_an_httponly_strict_cookie_and_no_token(client, runtime):
    response = await cookie_login(client, runtime)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token"] is None and body["username"] == "alice"
    assert {"httponly", "samesite=strict", "path=/api"} <= set_cookie_attributes(response)
    assert "secure" not in set_cookie_attributes(response)  # plain http on loopback: a Secure cookie would be dropped
    assert client.cookies.get(SESSION_COOKIE)


async def test_the_cookie_is_secure_when_the_page_is_served_over_https(client, runtime):
    # Behind a TLS proxy the server may see plain http; the page's Origin says what the browser used.
    response = await cookie_login(client, runtime, {"X-Parley-CSRF": "1", "Origin": "https://localhost"})
    assert response.status_code == 200, response.text
    assert "secure" in set_cookie_attributes(response)


async def test_the_cookie_reads_and_with_its_proof_does_everything_until_logout(client, runtime):
    assert (await cookie_login(client, runtime)).status_code == 200
    assert (await client.get("/api/conversations")).status_code == 200
    ticket = await client.post("/api/ws-ticket", headers=PROOF)
    assert ticket.status_code == 200 and ticket.json()["ticket"]
    logout = await client.post("/api/logout", headers=PROOF)
    assert logout.status_code == 204
    assert "max-age=0" in set_cookie_attributes(logout)
    assert SESSION_COOKIE not in client.cookies
    # The cookie's token is revoked, not only forgotten by this browser.
    token = logout.request.headers["cookie"].split("=", 1)[1]
    assert (await client.get("/api/conversations", headers={"Authorization": f"Bearer {token}"})).status_code == 401


@pytest.mark.parametrize(
    "headers",
    [
        {},  # a cross-site form, or fetch without the header
        {"Origin": PAGE},
        {"X-Parley-CSRF": "1"},  # no Origin
        {"X-Parley-CSRF": "1", "Origin": "http://evil.example"},
        {"X-Parley-CSRF": "1", "Origin": "http://localhost:3000"},  # same site, another origin
        {"X-Parley-CSRF": "1", "Origin": "null"},
    ],
)
async def test_the_cookie_without_its_proof_changes_nothing(client, runtime, headers):
    assert (await cookie_login(client, runtime)).status_code == 200
    created = await client.post("/api/chat", json={"prompt": "mine"}, headers=PROOF)
    assert created.status_code == 200, created.text
    conversation = created.json()["conversation_id"]
    for method, path, body in (
        ("POST", "/api/chat", {"prompt": "forged"}),
        ("POST", "/api/ws-ticket", None),
        ("PATCH", f"/api/conversations/{conversation}", {"title": "forged"}),
        ("DELETE", f"/api/conversations/{conversation}", None),
        ("PUT", "/api/preferences", {}),
        ("POST", "/api/logout", None),
    ):
        response = await client.request(method, path, json=body, headers=headers)
        assert response.status_code == 403, (method, path, response.text)
        assert response.json()["error"]["code"] == "cross_site_request"
    detail = (await client.get(f"/api/conversations/{conversation}")).json()
    assert detail["title"] != "forged" and len(detail["messages"]) == 2
    assert (await client.get("/api/conversations")).status_code == 200  # still logged in


async def test_a_cookie_login_needs_the_proof_too(client, runtime):
    response = await cookie_login(client, runtime, {"Origin": "http://evil.example"})
    assert response.status_code == 403
    assert "set-cookie" not in response.headers


async def test_bearer_use_is_unchanged_and_wins_over_a_cookie(client, alice):
    # A script sends no Origin and no CSRF header; its header is what counts, even beside a stray cookie.
    client.cookies.set(SESSION_COOKIE, "junk", path="/api")
    response = await client.post("/api/ws-ticket", headers=alice.headers)
    assert response.status_code == 200
    assert (await client.post("/api/ws-ticket", headers={"Authorization": "Bearer junk"})).status_code == 401


def test_session_token_reads_the_header_then_the_cookie():
    cookies = {SESSION_COOKIE: "from-cookie"}
    assert session_token("POST", {"authorization": "Bearer abc"}, cookies, ()) == "abc"
    assert session_token("GET", {}, cookies, ()) == "from-cookie"
    proof = {"x-parley-csrf": "1", "origin": "https://d1.cloudfront.net", "host": "api.example"}
    assert session_token("DELETE", proof, cookies, ("https://d1.cloudfront.net",)) == "from-cookie"
    assert parse_cookies(["a=1", "parley_session=x=y; b=2"]) == {"a": "1", SESSION_COOKIE: "x=y", "b": "2"}
