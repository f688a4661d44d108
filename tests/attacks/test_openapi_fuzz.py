"""A property-based run of the OpenAPI spec (schemathesis), on both paths: the spec is read from the running
target, and every operation gets generated requests, valid and invalid. No answer is a 5xx, invalid input
is refused with a 4xx, answers match the spec, and no protected operation answers without a valid token.

The requests are synchronous (schemathesis uses ``requests``), so they run in a thread: the target is
served by this test's event loop.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import ignored_auth, negative_data_rejection, response_schema_conformance

from parley.config import ThrottleRule
from tests.attacks.targets import PASSWORD

# Per operation and mode: the API has about fifty operations now, each fuzzed on both paths and in two modes, so
# this keeps the run within its time budget on 2 cores.
EXAMPLES = 30
CHECKS = [not_a_server_error, negative_data_rejection, response_schema_conformance, ignored_auth]
OPEN = ThrottleRule(100_000, 60)
# Throttles and the request budget out of the way, so every generated request reaches its route.
FUZZ_SETTINGS = {"throttle_per_user": OPEN, "throttle_per_address": OPEN, "requests_per_minute": 1_000_000}

Headers = Callable[[], dict[str, str]]


# Invalid input may also be refused as too large (413) or too fast (429), besides schemathesis' defaults.
CONFIG = schemathesis.Config.from_dict(
    {
        "checks": {
            "negative_data_rejection": {
                "expected-statuses": [400, 401, 403, 404, 405, 406, 409, 413, 415, 422, 428, 429]
            }
        }
    }
)


async def load_spec(target):
    return await asyncio.to_thread(schemathesis.openapi.from_url, f"{target.url}/openapi.json", config=CONFIG)


def operations_of(schema) -> list:
    return [result.ok() for result in schema.get_all_operations()]


def is_protected(operation) -> bool:
    return bool(operation.definition.raw.get("security"))


def takes_input(operation) -> bool:
    """Whether there is anything to make invalid: parameters (the credentials aside) or a body."""
    parameters = [p for p in operation.iter_parameters() if p.name.lower() != "authorization"]
    return bool(parameters or operation.body)


def fuzz(operation, mode: GenerationMode, base_url: str, headers: Headers, verify: Callable) -> int:
    """Send up to EXAMPLES generated requests for ``operation``; ``verify(case, response, headers)`` judges
    each. Returns how many were sent."""
    sent = 0

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        phases=[Phase.generate],  # no shrinking: a failure is reported as found, with its curl command
        suppress_health_check=list(HealthCheck),
    )
    # The credentials are fixed, not generated: invalid input is about the operation's own parameters.
    @given(case=operation.as_strategy(generation_mode=mode, headers=headers()))
    def run(case) -> None:
        nonlocal sent
        sent_headers = headers()
        response = case.call(base_url=base_url, headers=sent_headers, timeout=20)
        sent += 1
        verify(case, response, sent_headers)

    run()
    return sent


def answered_by_the_gateway(path: str, response) -> bool:
    """API Gateway's own answers ({"message": "Unauthorized"}, {"message": "Not Found"}...) come before any
    Lambda runs: the spec describes the app, so their bodies are not held to it."""
    if path != "aws":
        return False
    try:
        body = response.json()
    except ValueError:
        return False
    return isinstance(body, dict) and set(body) == {"message"}


def follows_the_spec(path: str):
    def verify(case, response, headers) -> None:
        checks = CHECKS
        if answered_by_the_gateway(path, response):
            checks = [check for check in CHECKS if check is not response_schema_conformance]
        case.validate_response(response, checks=checks, headers=headers)

    return verify


def fresh_session(base_url: str, username: str) -> Headers:
    """A new session for every request: for POST /api/logout, which ends the session it is called with."""

    def headers() -> dict[str, str]:
        login = httpx.post(f"{base_url}/api/login", json={"username": username, "password": PASSWORD}, timeout=20)
        login.raise_for_status()
        return {"Authorization": f"Bearer {login.json()['token']}"}

    return headers


# About 1,600 generated requests a path; on the serverless path each goes through the emulated gateway, the
# authorizer and a Lambda container, and the spec grew with search, branches and resume: 120 s is too tight.
@pytest.mark.timeout(360)
@pytest.mark.target_settings(**FUZZ_SETTINGS)
async def test_generated_requests_with_a_token_never_get_a_5xx_and_invalid_ones_are_refused(target, ledger):
    player = await target.player()
    await player.ask("a conversation to find", "fuzz-1")  # something for the list and search routes to return
    schema = await load_spec(target)
    token = {"Authorization": f"Bearer {player.token}"}
    verify = follows_the_spec(target.path)
    sent = 0
    for operation in operations_of(schema):
        ended_by_call = operation.path == "/api/logout"
        headers = fresh_session(target.url, player.username) if ended_by_call else lambda: token
        modes = [GenerationMode.POSITIVE] + ([GenerationMode.NEGATIVE] if takes_input(operation) else [])
        for mode in modes:
            sent += await asyncio.to_thread(fuzz, operation, mode, target.url, headers, verify)
    ledger.attempt(target.path, "OpenAPI generated requests", sent)
    async with target.client() as http:
        assert (await http.get("/api/health")).status_code == 200


# The 401 a protected route answers without a valid token. Locally that is the app's error JSON, as the spec
# says. On AWS, API Gateway answers it itself, before any Lambda runs, with its own body (see
# answered_by_the_gateway): on that path the status and the gateway's body are checked, not the spec's ErrorBody.
def refused_without_a_valid_token(path: str):
    def verify(case, response, headers) -> None:
        label = f"{case.operation.label} with {headers or 'no token'}: {response.status_code} {response.text[:200]}"
        if response.status_code == 404 and answered_by_the_gateway(path, response):
            return  # the emulated gateway routes no path with a line break in it: not served either
        if response.status_code == 404 and case.operation.path.startswith("/v1/") and _unrouted(response):
            return  # a generated id that ends the path (a "?" or "#" in it) leaves no route to serve it
        if case.meta.generation.mode.is_negative:
            # Invalid input without a token may be refused for either reason, but never served.
            assert 400 <= response.status_code < 500, label
            return
        assert response.status_code == 401, label
        if case.operation.path.startswith("/v1/"):  # the OpenAI-compatible function answers itself, in OpenAI's shape
            assert set(response.json()["error"]) == {"code", "message", "type", "param"}, label
        elif path == "aws":
            assert response.json() == {"message": "Unauthorized"}, label
        else:
            assert set(response.json()["error"]) == {"code", "message"}, label

    return verify


def _unrouted(response) -> bool:
    """The /v1 app's answer to a path no route matches (its routes check the key first, so a route never says this
    before the key is valid)."""
    return response.json()["error"] == {
        "message": "Not Found",
        "type": "invalid_request_error",
        "param": None,
        "code": "not_found",
    }


BAD_CREDENTIALS = [
    {},
    {"Authorization": "Bearer not-a-token"},
    {"Authorization": "Bearer "},
    {"Authorization": "Basic YWxpY2U6aHVudGVyMg=="},
    {"Authorization": "bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiIxIn0."},
]


@pytest.mark.target_settings(**FUZZ_SETTINGS)
async def test_every_protected_operation_refuses_generated_requests_without_a_valid_token(target, ledger):
    schema = await load_spec(target)
    protected = [operation for operation in operations_of(schema) if is_protected(operation)]
    assert len(protected) >= 9, [operation.label for operation in protected]
    verify = refused_without_a_valid_token(target.path)
    sent = 0
    credentials = itertools.cycle(BAD_CREDENTIALS)  # each request gets the next kind of bad credentials
    for operation in protected:
        modes = [GenerationMode.POSITIVE] + ([GenerationMode.NEGATIVE] if takes_input(operation) else [])
        for mode in modes:
            sent += await asyncio.to_thread(fuzz, operation, mode, target.url, lambda: dict(next(credentials)), verify)
    ledger.attempt(target.path, "OpenAPI requests without a valid token", sent)
