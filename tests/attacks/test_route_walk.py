"""Every route, walked without credentials and with credentials where they do not belong (query string,
cookies other than the session cookie, other headers, other schemes): only the public ones answer; everything
else is 401. The session cookie alone reads, and changes nothing without its CSRF proof."""

from __future__ import annotations

import re

from parley.server.browser_headers import API_HEADERS, page_headers
from parley.server.browser_session import SAFE_METHODS, SESSION_COOKIE

# The public surface: login, health, a shared conversation (for whoever holds its link), the web app and its config,
# and the API's own description (it holds no data; the web app's types are generated from it). A one-time export
# link is its own credential, as a presigned S3 link is on AWS (256 random bits, single use, 5 minutes:
# tests/attacks/test_history.py); on AWS the route is behind the authorizer like the rest, and unused.
# Setup needs the one-time code and sign-up is refused unless PARLEY_SIGNUP opens it (tests/attacks/test_setup.py,
# test_signup.py).
PUBLIC_API = {
    ("POST", "/api/login"),
    ("POST", "/api/setup"),
    ("POST", "/api/signup"),
    ("GET", "/api/health"),
    ("GET", "/api/exports/abc123"),
    ("GET", "/api/public/shares/abc123"),
}
PUBLIC_PAGES = ("/", "/index.html", "/c/some-chat", "/s/some-link", "/config.json", "/openapi.json")
# The OpenAI-compatible routes open with an API key, never with a session (its token or its cookie).
KEY_ROUTES = "/v1/"


async def operations(target):
    async with target.client() as http:
        spec = (await http.get("/openapi.json")).json()
    found = [
        (method.upper(), re.sub(r"\{[^}]+\}", "abc123", path))
        for path, methods in spec["paths"].items()
        for method in methods
    ]
    # Logging out ends the session the walk uses: it goes last.
    return sorted(found, key=lambda operation: operation == ("POST", "/api/logout"))


def misplaced(token: str) -> list[dict]:
    return [
        {"params": {}, "headers": {}},
        {"params": {"token": token, "access_token": token, "ticket": token, "authorization": token}, "headers": {}},
        {"params": {}, "headers": {"Cookie": f"token={token}; session={token}; Authorization={token}"}},
        {"params": {}, "headers": {"X-Auth-Token": token, "X-Api-Key": token, "X-Access-Token": token}},
        {"params": {}, "headers": {"Authorization": token}},
        {"params": {}, "headers": {"Authorization": f"Basic {token}"}},
        {"params": {}, "headers": {"Authorization": f"Token {token}"}},
        {"params": {}, "headers": {"Authorization": "Bearer"}},
    ]


async def test_only_the_public_routes_answer_without_a_bearer_token(target, ledger):
    # An admin's token: the admin-only routes then answer it too, so they are walked like every other.
    player = await target.player(admin=True)
    made = await player.http.post("/api/keys", json={"name": "route walk"})
    api_key = made.json()["key"]
    walk = await operations(target)
    assert len(walk) >= 12
    walked = 0
    async with target.client() as http:
        for method, path in walk:
            credentials = [player.token, api_key] if path.startswith(KEY_ROUTES) else [player.token]
            for attempt in [attempt for token in credentials for attempt in misplaced(token)]:
                response = await http.request(
                    method, path, params=attempt["params"], headers=attempt["headers"], json={"prompt": "x"}
                )
                walked += 1
                if (method, path) in PUBLIC_API or path == "/config.json":
                    assert response.status_code < 500, (method, path, response.text)
                else:
                    assert response.status_code == 401, (method, path, attempt, response.text)
        for page in PUBLIC_PAGES:
            assert (await http.get(page)).status_code == 200, page
    ledger.attempt(target.path, "route walk", walked)
    # The web app's cookie, as a cross-site form would send it (no X-Parley-CSRF header, no Origin of this server):
    # reads answer, anything else is refused (403 by the app; on AWS the authorizer's refusal, 401).
    async with target.client() as http:
        for method, path in walk:
            for headers in ({}, {"Origin": "http://evil.example", "X-Parley-CSRF": "1"}):
                cookie = {"Cookie": f"{SESSION_COOKIE}={player.token}", **headers}
                response = await http.request(method, path, headers=cookie, json={"prompt": "x", "title": "x"})
                if (method, path) in PUBLIC_API:
                    assert response.status_code < 500, (method, path, response.text)
                elif path.startswith(KEY_ROUTES):
                    assert response.status_code == 401, (method, path, response.text)
                elif method in SAFE_METHODS:
                    assert response.status_code not in (401, 403), (method, path, response.text)
                else:
                    assert response.status_code in (401, 403), (method, path, headers, response.text)
    # The control: the same token (the key on the OpenAI-compatible routes) in its place opens every route.
    for method, path in walk:
        headers = {"Authorization": f"Bearer {api_key}"} if path.startswith(KEY_ROUTES) else {}
        response = await player.http.request(method, path, json={"prompt": "x", "title": "x"}, headers=headers)
        assert response.status_code != 401, (method, path)
        assert response.status_code < 500, (method, path, response.text)


async def test_no_page_loads_scripts_from_another_origin(target):
    # FastAPI's /docs and /redoc pull Swagger UI and ReDoc from a CDN; Parley does not serve them, so
    # these paths are the web app's own page (the SPA fallback), never a CDN-backed one.
    async with target.client() as http:
        for path in ("/docs", "/redoc"):
            response = await http.get(path)
            assert "cdn.jsdelivr.net" not in response.text and "redoc.standalone" not in response.text


async def test_every_page_carries_the_browser_headers(target):
    # The CSP and its companions on the pages, and nosniff, DENY and no-referrer on the pages and the app's
    # config (a page sets its own Cache-Control). On AWS, CloudFront adds them; the emulation stands in for it.
    data = {name: value for name, value in API_HEADERS.items() if name != "Cache-Control"}
    # On AWS a page may also post an import's file to the history bucket (moto's endpoint, in the emulation).
    bucket = target.settings.aws_endpoint_url if target.path == "aws" else ""
    page = {**data, **page_headers(connect_to=bucket or "")}
    async with target.client() as http:
        for path, expected in (("/", page), ("/c/some-chat", page), ("/s/some-link", page), ("/config.json", data)):
            response = await http.get(path)
            assert {name: response.headers.get(name) for name in expected} == expected, path
