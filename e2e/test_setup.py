"""First run in the browser: a fresh `parley serve` prints a setup link; the page it opens creates the admin, who
logs in; the link is dead afterwards. And sign-up, when the owner turns it on."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

from playwright.sync_api import Browser, Page, expect

from e2e.support import PASSWORD, RESULTS, open_context, run_server, screenshot, wait_connected
from parley.testing.fake_openai import FakeOpenAI

LINK = re.compile(r"http://127\.0\.0\.1:\d+(/setup#code=[A-Za-z0-9_-]+)")


def printed_link(log_name: str, seconds: float = 15) -> str:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        match = LINK.search((RESULTS / log_name).read_text(encoding="utf-8", errors="replace"))
        if match:
            return match.group(1)
        time.sleep(0.1)
    raise AssertionError(f"no setup link in {RESULTS / log_name}")


def test_the_printed_link_creates_the_admin_once(browser: Browser, fake: FakeOpenAI, tmp_path) -> None:
    with run_server(tmp_path / "fresh", fake, "server-setup.log") as fresh:
        link = printed_link("server-setup.log")
        context, watch = open_context(browser, fresh)
        page = context.new_page()
        page.goto(link)
        expect(page.get_by_role("heading", name="Set up Parley")).to_be_visible()
        expect(page).to_have_url(re.compile(r"/setup$"))  # the code is taken out of the address bar
        page.get_by_label("Username").fill("owner")
        page.get_by_label("Password", exact=True).fill(PASSWORD)
        page.get_by_label("Repeat the password").fill(PASSWORD + "x")
        expect(page.get_by_role("alert")).to_contain_text("The passwords do not match.")
        page.get_by_label("Repeat the password").fill(PASSWORD)
        screenshot(page, "setup")
        page.get_by_role("button", name="Create the administrator account").click()

        # The login page follows, the new account's name filled in; logging in opens the chat.
        expect(page.get_by_role("heading", name="Log in to Parley")).to_be_visible()
        expect(page.locator(".notice")).to_contain_text("The administrator account owner is ready")
        expect(page.get_by_label("Username")).to_have_value("owner")
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Log in").click()
        wait_connected(page)
        context.close()
        assert not watch.unexpected_console_errors() and not watch.foreign_requests

        # The same link again: the server is set up, and the code is spent.
        context, watch = open_context(browser, fresh)
        watch.allow_console(r"status of 403")
        page = context.new_page()
        page.goto(link)
        expect(page.get_by_text("Parley is set up already")).to_be_visible()
        response = page.request.post(
            "/api/setup",
            data={"code": link.split("code=")[1], "username": "intruder", "password": PASSWORD},
            headers={"Content-Type": "application/json"},
        )
        assert response.status == 403
        context.close()
        assert not watch.foreign_requests


def test_the_setup_page_without_its_code_says_where_to_find_it(browser: Browser, fake: FakeOpenAI, tmp_path) -> None:
    with run_server(tmp_path / "nocode", fake, "server-setup-nocode.log") as fresh:
        context, watch = open_context(browser, fresh)
        page = context.new_page()
        page.goto("/setup")
        expect(page.get_by_text("This page needs the setup link.")).to_be_visible()
        context.close()
        assert not watch.unexpected_console_errors() and not watch.foreign_requests


def test_sign_up_waits_for_approval_then_logs_in(browser: Browser, fake: FakeOpenAI, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("PARLEY_SIGNUP", "approval")
    with run_server(tmp_path / "signup", fake, "server-signup.log") as server:
        server.add_user("admin")
        context, watch = open_context(browser, server)
        watch.allow_console(r"status of 403")
        page = context.new_page()
        page.goto("/")
        page.get_by_role("link", name="Create account").click()
        expect(page.get_by_role("heading", name="Create an account on Parley")).to_be_visible()
        page.get_by_label("Username").fill("visitor")
        page.get_by_label("Password", exact=True).fill(PASSWORD)
        page.get_by_label("Repeat the password").fill(PASSWORD)
        page.get_by_label("Email (optional)").fill("visitor@example.org")
        screenshot(page, "signup")
        page.get_by_role("button", name="Create account").click()
        expect(page.locator(".notice")).to_contain_text("waits for an administrator's approval")
        expect(page.get_by_label("Username")).to_have_value("visitor")
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Log in").click()
        expect(page.get_by_role("alert")).to_contain_text("waiting for an administrator's approval")

        subprocess.run(  # noqa: S603 - our own command
            [str(Path(sys.executable).parent / "parley"), "users", "approve", "visitor"],
            env=server.env,
            check=True,
            capture_output=True,
            timeout=60,
        )
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Log in").click()
        wait_connected(page)
        context.close()
        assert not watch.foreign_requests


def test_the_login_page_offers_no_sign_up_while_it_is_off(page: Page) -> None:
    page.goto("/")
    expect(page.get_by_role("heading", name="Log in to Parley")).to_be_visible()
    page.wait_for_load_state("networkidle")
    expect(page.get_by_role("link", name="Create account")).to_have_count(0)
