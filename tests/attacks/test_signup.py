"""Sign-up: refused while off (the default); a pending account cannot log in until an admin approves it; open
sign-up limited to email domains lets others wait; and sign-ups are throttled per address like logins."""

from __future__ import annotations

import pytest

from parley.config import ThrottleRule
from tests.attacks.targets import PASSWORD


async def sign_up(http, username: str, email: str | None = None):
    body = {"username": username, "password": PASSWORD, **({"email": email} if email else {})}
    return await http.post("/api/signup", json=body)


async def login(http, username: str, password: str = PASSWORD):
    return await http.post("/api/login", json={"username": username, "password": password})


async def test_sign_up_is_refused_while_off(target):
    async with target.client() as http:
        assert (await http.get("/api/health")).json()["signup"] == "off"
        refused = await sign_up(http, "stranger")
        assert refused.status_code == 403 and refused.json()["error"]["code"] == "signup_closed"
        assert (await login(http, "stranger")).status_code == 401
    assert await target.cli("users", "approve", "stranger") == 1  # no such account was made


@pytest.mark.target_settings(signup="approval")
async def test_a_pending_account_cannot_log_in_until_approved(target):
    async with target.client() as http:
        assert (await http.get("/api/health")).json()["signup"] == "approval"
        created = await sign_up(http, "newcomer", "new@example.org")
        assert created.status_code == 201 and created.json() == {"username": "newcomer", "pending": True}
        assert (await sign_up(http, "NEWCOMER")).status_code == 409
        # The right password is told the account waits; a wrong one gets the usual answer.
        waiting = await login(http, "newcomer")
        assert waiting.status_code == 403 and waiting.json()["error"]["code"] == "account_pending"
        assert "approval" in waiting.json()["error"]["message"]
        wrong = await login(http, "newcomer", "not the password")
        unknown = await login(http, "nobody-at-all", "not the password")
        assert wrong.status_code == unknown.status_code == 401 and wrong.json() == unknown.json()
        assert await target.cli("users", "approve", "newcomer") == 0
        assert (await login(http, "newcomer")).status_code == 200
        assert await target.cli("users", "approve", "newcomer") == 1  # approved already
        # Rejecting deletes the account.
        assert (await sign_up(http, "spammer")).status_code == 201
        assert await target.cli("users", "reject", "spammer") == 0
        assert (await login(http, "spammer")).status_code == 401


@pytest.mark.target_settings(signup="open", signup_domains=("example.org",))
async def test_open_sign_up_for_some_domains_lets_others_wait(target):
    async with target.client() as http:
        inside = await sign_up(http, "insider", "me@Example.org")
        assert inside.status_code == 201 and inside.json()["pending"] is False
        assert (await login(http, "insider")).status_code == 200
        outside = await sign_up(http, "outsider", "me@elsewhere.net")
        assert outside.status_code == 201 and outside.json()["pending"] is True
        assert (await login(http, "outsider")).status_code == 403
        no_email = await sign_up(http, "anonymous")
        assert no_email.status_code == 201 and no_email.json()["pending"] is True
        bad = await sign_up(http, "baddress", "not an email")
        assert bad.status_code == 400


LIMIT = 5


@pytest.mark.target_settings(signup="open", throttle_per_address=ThrottleRule(LIMIT, 60))
async def test_sign_ups_from_one_address_are_throttled(target, ledger):
    statuses = []
    async with target.client() as http:
        for i in range(LIMIT + 5):
            response = await sign_up(http, f"bulk{i}")
            statuses.append(response.status_code)
            if response.status_code == 429:
                assert 0 < int(response.headers["retry-after"]) <= 60
    ledger.attempt(target.path, "sign-ups", len(statuses))
    assert statuses[:LIMIT] == [201] * LIMIT
    assert set(statuses[LIMIT:]) == {429}, statuses
