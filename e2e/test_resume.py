"""Rejoining an answer still being generated: after a reload, or a switch to another chat and back, the page
sends ``resume`` with the last seq it has and the answer continues live, ending with exactly the full text (no
gap, no duplicate). Nothing is polled.

Every test runs on both paths: ``parley serve`` and the serverless emulation (``make aws-local``)."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from e2e.support import User, answers, login, on_both_homes, send, wait_connected, wait_idle
from parley.testing.fake_openai import FakeOpenAI, Script

COUNT = 60
# "é": the seq counts characters, not bytes or UTF-16 units; "🙂" is two UTF-16 units but one character.
TOKENS = tuple(f"w{i}é🙂 " for i in range(COUNT))
FULL = "".join(TOKENS).strip()


server = on_both_homes()


def answer_text(page: Page) -> str:
    return answers(page).first.locator(".markdown").inner_text().strip()


def expect_live_to_the_end(page: Page) -> None:
    answer = answers(page).first
    expect(answer).to_have_attribute("aria-busy", "true")  # still being generated: it was rejoined live
    expect(page.get_by_role("button", name="Stop generating")).to_be_visible()
    expect(answer).to_contain_text(f"w{COUNT - 1}é", timeout=20_000)
    expect(answer).to_have_attribute("aria-busy", "false")
    wait_idle(page)
    assert answer_text(page) == FULL  # no gap, no duplicate


def test_a_reload_mid_answer_rejoins_it_live(page: Page, user: User, fake: FakeOpenAI) -> None:
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    fake.script = Script(tokens=TOKENS, token_delay=0.08)
    login(page, user)
    send(page, "Count slowly")
    expect(answers(page).first).to_contain_text("w12é")
    page.reload()
    wait_connected(page)
    expect(answers(page).first).to_contain_text("w5é")
    loaded = len([url for url in requests if "/api/conversations/" in url])
    expect_live_to_the_end(page)
    # Followed on the socket: the conversation was read once after the reload, not polled.
    assert len([url for url in requests if "/api/conversations/" in url]) == loaded

    page.reload()  # and saved whole
    wait_connected(page)
    expect(answers(page).first).to_contain_text(f"w{COUNT - 1}é")
    assert answer_text(page) == FULL


def test_switching_to_another_chat_and_back_rejoins_the_answer(page: Page, user: User, fake: FakeOpenAI) -> None:
    fake.script = Script(tokens=TOKENS, token_delay=0.08)
    login(page, user)
    send(page, "Count for me")
    expect(answers(page).first).to_contain_text("w8é")
    page.get_by_role("button", name="New chat").first.click()
    expect(page.get_by_role("heading", name="How can I help you today?")).to_be_visible()
    page.wait_for_timeout(800)  # the answer goes on meanwhile
    page.get_by_role("navigation", name="Chats").get_by_role("link", name="Count for me").click()
    expect_live_to_the_end(page)
