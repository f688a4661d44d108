"""First run: `parley serve` with no account prints a setup link; its code makes the admin, and each start makes a
new code (the one printed before stops working)."""

from __future__ import annotations

import logging
import re
from dataclasses import replace

import httpx
import pytest

from parley.errors import InvalidInput
from parley.server.app import create_app, first_user_hint
from parley.server.embedded import serving
from tests.conftest import PASSWORD

LINK = re.compile(r"http://127\.0\.0\.1:8000/setup#code=([A-Za-z0-9_-]{40,})")


async def start_and_read_code(settings, caplog) -> tuple[str | None, str]:
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="parley.server.app"):
        async with (
            serving(create_app(settings), settings=settings) as port,
            httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http,
        ):
            health = (await http.get("/api/health")).json()
    match = LINK.search(caplog.text)
    return (match.group(1) if match else None), str(health["setup_required"])


async def test_each_start_without_accounts_prints_a_new_link_and_the_last_one_works(settings, tmp_path, caplog):
    web = tmp_path / "web"
    web.mkdir()
    (web / "index.html").write_text("<!doctype html>")
    settings = replace(settings, web_dir=web)
    first, _ = await start_and_read_code(settings, caplog)
    second, _ = await start_and_read_code(settings, caplog)
    assert first and second and first != second
    assert "parley users add YOURNAME --admin" in caplog.text  # the CLI way is still offered
    caplog.clear()
    async with (
        serving(create_app(settings), settings=settings) as port,
        httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http,
    ):
        third = LINK.search(caplog.text)
        assert third is not None and third.group(1) not in (first, second)
        refused = await http.post("/api/setup", json={"code": first, "username": "root", "password": PASSWORD})
        assert refused.status_code == 403 and "not valid" in refused.json()["error"]["message"]
        created = await http.post("/api/setup", json={"code": third.group(1), "username": "root", "password": PASSWORD})
        assert created.status_code == 201, created.text
        login = await http.post("/api/login", json={"username": "root", "password": PASSWORD})
        assert login.status_code == 200
    code, setup_required = await start_and_read_code(settings, caplog)
    assert code is None and setup_required == "False"
    assert "No users yet" not in caplog.text


async def test_a_setup_refuses_a_weak_password_before_spending_the_code(runtime):
    code = await runtime.setup.new_code()
    assert code is not None
    with pytest.raises(InvalidInput):
        await runtime.setup.create_admin(code, "root", "short")
    user = await runtime.setup.create_admin(code, "root", PASSWORD)
    assert user.is_admin


def test_the_hint_without_a_web_app_names_only_the_command():
    hint = first_user_hint(None)
    assert "users add YOURNAME --admin" in hint and "/setup" not in hint
    assert "http://h:1/setup#code=c" in first_user_hint("http://h:1/setup#code=c")
