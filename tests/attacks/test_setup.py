"""First-run setup: without the current one-time code nobody can create an account, a code makes one admin and
dies with it, and two setups racing with the same code make one account."""

from __future__ import annotations

import asyncio
import re

from tests.attacks.targets import PASSWORD

LINK = re.compile(r"/setup#code=([A-Za-z0-9_-]+)")


async def new_code(target, capsys) -> str:
    capsys.readouterr()
    assert await target.cli("setup-code", "--url", target.url) == 0
    out = capsys.readouterr().out
    match = LINK.search(out)
    assert match and f"{target.url}/setup#code=" in out, out
    return match.group(1)


async def setup(http, code: str, username: str = "root"):
    return await http.post("/api/setup", json={"code": code, "username": username, "password": PASSWORD})


async def test_without_the_code_nobody_creates_an_account(target, capsys):
    code = await new_code(target, capsys)
    async with target.client() as http:
        for guess in ("", "x", code[:-1], code + "x", code.upper() if code.upper() != code else code.lower()):
            response = await setup(http, guess)
            assert response.status_code in (400, 403, 422), (guess, response.text)
        response = await http.post("/api/setup", json={"username": "root", "password": PASSWORD})
        assert response.status_code in (400, 422)
        assert (await http.get("/api/health")).json()["setup_required"] is True
        # The code's holder creates the admin, who logs in; the code is dead afterwards.
        created = await setup(http, code)
        assert created.status_code == 201, created.text
        assert created.json() == {"username": "root", "pending": False}
        assert (await http.get("/api/health")).json()["setup_required"] is False
        assert (await setup(http, code, "another")).status_code == 403
    await target.login("root")
    # Once an account exists no new code is made, so no link can make a second account.
    assert await target.cli("setup-code") == 1


async def test_a_new_code_retires_the_one_before(target, capsys):
    first = await new_code(target, capsys)
    second = await new_code(target, capsys)
    async with target.client() as http:
        assert (await setup(http, first)).status_code == 403
        assert (await setup(http, second)).status_code == 201


async def test_two_setups_racing_with_the_code_make_one_account(target, capsys):
    code = await new_code(target, capsys)
    async with target.client() as first, target.client() as second:
        answers = await asyncio.gather(setup(first, code, "alice"), setup(second, code, "bob"))
    statuses = sorted(response.status_code for response in answers)
    assert statuses == [201, 403], [response.text for response in answers]
    async with target.client() as http:
        assert (await http.get("/api/health")).json()["setup_required"] is False


async def test_the_setup_code_is_made_only_while_no_account_exists(target, capsys):
    await target.add_user("existing")
    capsys.readouterr()
    assert await target.cli("setup-code") == 1
    assert "/setup#code=" not in capsys.readouterr().out
