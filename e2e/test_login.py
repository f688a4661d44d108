"""Logging in: the first-run hint, wrong passwords, throttling, an unreachable server, logging out."""

from __future__ import annotations

import httpx
from playwright.sync_api import Browser, Page, expect

from e2e.support import Server, User, login, open_context, run_server, screenshot, wait_connected
from parley.testing.fake_openai import FakeOpenAI


def test_a_server_without_users_says_how_to_create_the_first(browser: Browser, fake: FakeOpenAI, tmp_path) -> None:
    with run_server(tmp_path / "empty", fake, "server-empty.log") as empty:
        context, watch = open_context(browser, empty)
        page = context.new_page()
        page.goto("/")
        hint = page.get_by_role("note", name="First-time setup")
        expect(hint).to_contain_text("No accounts yet")
        expect(hint).to_contain_text("/setup#code=")
        expect(hint).to_contain_text("parley users add NAME --admin")
        screenshot(page, "login-first-run")

        # Once an account exists the hint goes away by itself.
        empty.add_user("first")
        expect(hint).to_be_hidden(timeout=15_000)
        context.close()
        assert not watch.unexpected_console_errors() and not watch.foreign_requests


def test_wrong_password_then_right_one(page: Page, user: User, watch) -> None:
    watch.allow_console(r"status of 401")
    page.goto("/")
    expect(page.get_by_role("heading", name="Log in to Parley")).to_be_visible()
    screenshot(page, "login")
    page.get_by_label("Username").fill(user.name)
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("alert")).to_contain_text("Wrong username or password")
    expect(page.get_by_label("Password")).to_have_value("")

    page.get_by_label("Password").fill(user.password)
    page.get_by_role("button", name="Log in").click()
    wait_connected(page)
    expect(page.get_by_role("navigation", name="Chats")).to_contain_text(user.name)


def test_throttled_login_says_when_to_retry(page: Page, server: Server, watch) -> None:
    watch.allow_console(r"status of 429")
    victim = server.add_user()
    with httpx.Client(base_url=server.base_url) as http:
        for _ in range(10):
            http.post("/api/login", json={"username": victim.name, "password": "wrong"})
    page.goto("/")
    page.get_by_label("Username").fill(victim.name)
    page.get_by_label("Password").fill(victim.password)
    page.get_by_role("button", name="Log in").click()
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("Too many")
    expect(alert).to_contain_text("You can try again in")
    expect(page.get_by_role("button", name="Try again in")).to_be_disabled()


def test_an_unreachable_server_is_explained(page: Page, user: User, watch) -> None:
    watch.allow_console(r"net::ERR_FAILED|ERR_CONNECTION")
    page.goto("/")
    page.route("**/api/login", lambda route: route.abort("connectionrefused"))
    page.get_by_label("Username").fill(user.name)
    page.get_by_label("Password").fill(user.password)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("alert")).to_contain_text("Cannot reach the server")


def test_log_out_and_stay_logged_out(page: Page, user: User) -> None:
    login(page, user)
    page.reload()
    wait_connected(page)  # the session survives a reload
    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_label("Username")).to_be_visible()
    page.reload()
    expect(page.get_by_label("Username")).to_be_visible()
