"""Every route in the OpenAPI spec, walked without credentials and with credentials where they do not
belong (query string, cookie, other headers): only the public routes answer."""

from __future__ import annotations

import re

import pytest

PUBLIC = {("POST", "/api/login"), ("GET", "/api/health"), ("GET", "/config.json")}


@pytest.fixture
async def operations(client):
    spec = (await client.get("/openapi.json")).json()
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
        {"params": {"token": token, "access_token": token, "ticket": token}, "headers": {}},
        {"params": {}, "headers": {"Cookie": f"token={token}; session={token}"}},
        {"params": {}, "headers": {"X-Auth-Token": token, "X-Api-Key": token, "Authorization": token}},
        {"params": {}, "headers": {"Authorization": f"Basic {token}"}},
    ]


async def test_only_public_routes_answer_without_a_bearer_token(client, alice, operations):
    assert len(operations) >= 12
    walked = 0
    for method, path in operations:
        for attempt in misplaced(alice.token):
            response = await client.request(
                method, path, params=attempt["params"], headers=attempt["headers"], json={"prompt": "x", "title": "x"}
            )
            walked += 1
            if (method, path) in PUBLIC:
                assert response.status_code < 500
            else:
                assert response.status_code == 401, (method, path, attempt, response.text)
    assert walked == len(operations) * 5


async def test_the_same_routes_answer_with_the_token_in_its_place(client, alice, operations):
    for method, path in operations:
        response = await client.request(method, path, headers=alice.headers, json={"prompt": "x", "title": "x"})
        assert response.status_code != 401, (method, path)
        assert response.status_code < 500, (method, path, response.text)
