"""Usage and budgets in the browser: an answer's tokens show on the usage page's chart and table, and a used-up
budget (set by the CLI, as an admin would) shows its clear error where the answer would be."""

from __future__ import annotations

import datetime
import re

from playwright.sync_api import Page, expect

from e2e.support import Server, User, answers, login, on_both_homes, run_axe, send, use_theme, wait_idle
from parley.testing.fake_openai import FakeOpenAI

server = on_both_homes()


def today() -> str:
    return datetime.datetime.now(datetime.UTC).date().isoformat()


def test_an_answer_shows_on_the_usage_page(page: Page, user: User, fake: FakeOpenAI, server: Server) -> None:
    login(page, user)
    send(page, "Count my tokens")
    expect(answers(page).first).to_contain_text("Hello from the fake model.")
    wait_idle(page)
    model = fake.chat_requests[-1].body["model"]

    page.get_by_role("button", name="Settings", exact=True).click()
    page.get_by_role("dialog", name="Settings").get_by_role("link", name="Tokens used and your budget").click()
    expect(page).to_have_url(f"{server.base_url}/usage")
    usage = page.get_by_role("main", name="Usage")
    # The fake upstream counts 3 prompt words and sends 6 tokens: its figures, exactly.
    row = usage.get_by_role("row").filter(has_text=today())
    expect(row.get_by_role("cell")).to_have_text([today(), model, "3", "6", "9", "1"])
    bar = usage.locator(f'svg rect[data-model="{model}"]')
    expect(bar).to_have_count(1)
    expect(bar).to_have_attribute("data-tokens", "9")
    chart = usage.get_by_role("img")
    expect(chart).to_have_accessible_name(re.compile(rf"^Tokens per day of {user.name}, .* to {today()} \(UTC\)"))
    expect(chart).to_have_accessible_description(re.compile(rf"^9 tokens from .* to {today()}, by {model};"))
    expect(usage.get_by_role("status")).to_have_text("9 tokens (3 prompt, 6 completion) in 1 answer")

    # The page's own address, loaded afresh, shows it again (the server answers /usage with the app); in either
    # theme nothing on it fails axe's serious checks (contrast included).
    page.reload()
    expect(page.get_by_role("main", name="Usage").locator("svg rect")).to_have_count(1)
    for theme in ("dark", "light"):
        use_theme(page, theme)
        assert run_axe(page) == [], theme


def test_a_used_up_budget_shows_when_it_resets(page: Page, user: User, fake: FakeOpenAI, server: Server) -> None:
    login(page, user)
    send(page, "A first question")
    expect(answers(page).first).to_contain_text("Hello from the fake model.")
    wait_idle(page)
    server.cli("budget", "set", user.name, "5")
    asked = len(fake.chat_requests)
    send(page, "One more, please")
    reset = datetime.datetime.now(datetime.UTC).replace(day=1) + datetime.timedelta(days=32)
    expected = f"Your monthly budget of 5 tokens is used up; it resets on 1 {reset:%B %Y} (UTC)."
    expect(answers(page).nth(1)).to_contain_text(expected)
    wait_idle(page)
    assert len(fake.chat_requests) == asked  # the refused prompt never reached the model

    page.goto("/usage")
    expect(page.get_by_text("Monthly budget: 9 of 5 tokens used")).to_be_visible()
