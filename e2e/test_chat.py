"""Chatting: streaming, stop, reload, regenerate, edit, failures and retry, a lost connection."""

from __future__ import annotations

import contextlib
import re

from playwright.sync_api import Page, WebSocketRoute, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from e2e.support import User, answers, login, send, slow_script, wait_connected, wait_idle
from parley.testing.fake_openai import FakeOpenAI, Script


def test_an_answer_streams_in_and_is_saved(page: Page, user: User, fake: FakeOpenAI) -> None:
    fake.script = slow_script(30, delay=0.05, word="tok")
    login(page, user)
    box = page.get_by_label("Message", exact=True)
    one_line = box.bounding_box()["height"]
    box.fill("first line")
    box.press("Shift+Enter")
    box.press_sequentially("second line")
    expect(box).to_have_value("first line\nsecond line")
    assert box.bounding_box()["height"] > one_line * 1.5  # the box grows with its text
    box.press("Enter")

    # While it streams: the Stop button, part of the text, and the input is ready for the next message.
    expect(page.get_by_role("button", name="Stop generating")).to_be_visible()
    expect(answers(page).first).to_contain_text("tok3")
    expect(box).to_be_focused()
    expect(box).to_have_value("")
    assert "tok29" not in answers(page).first.inner_text()

    wait_idle(page)
    expect(answers(page).first).to_contain_text("tok29")
    expect(page.locator("article.message.user")).to_contain_text("first line\nsecond line")
    expect(page).to_have_url(re.compile(r"/c/[^/]+$"))
    assert fake.chat_requests[-1].body["messages"][-1]["content"] == "first line\nsecond line"

    # Reload: the same chat, with its messages, and in the sidebar.
    page.reload()
    wait_connected(page)
    expect(answers(page).first).to_contain_text("tok0 tok1 tok2")
    expect(answers(page).first).to_contain_text("tok29")
    expect(page.get_by_role("navigation", name="Chats").get_by_role("link", name="first line")).to_be_visible()

    # A new chat, then back to this one from the sidebar.
    page.get_by_role("button", name="New chat").first.click()
    expect(page.get_by_role("heading", name="How can I help you today?")).to_be_visible()
    page.get_by_role("navigation", name="Chats").get_by_role("link", name="first line").click()
    expect(answers(page).first).to_contain_text("tok29")


def test_stop_mid_answer(page: Page, user: User, fake: FakeOpenAI) -> None:
    fake.script = slow_script(200, delay=0.05)
    login(page, user)
    send(page, "Tell me a long story")
    expect(answers(page).first).to_contain_text("word3")
    page.get_by_role("button", name="Stop generating").click()
    expect(answers(page).first).to_contain_text("Stopped.")
    text = answers(page).first.inner_text()
    assert "word199" not in text
    wait_idle(page)

    page.reload()
    wait_connected(page)
    expect(answers(page).first).to_contain_text("Stopped.")
    expect(answers(page).first).to_contain_text("word3")


def test_escape_stops_too(page: Page, user: User, fake: FakeOpenAI) -> None:
    fake.script = slow_script(200, delay=0.05)
    login(page, user)
    send(page, "Go on")
    expect(answers(page).first).to_contain_text("word2")
    page.keyboard.press("Escape")
    expect(answers(page).first).to_contain_text("Stopped.")


def test_a_reload_mid_answer_shows_what_was_saved_and_rejoins_it(page: Page, user: User, fake: FakeOpenAI) -> None:
    fake.script = slow_script(40, delay=0.1)
    login(page, user)
    send(page, "Count slowly")
    expect(answers(page).first).to_contain_text("word12")  # > 1 s in: the server has saved part of it
    page.reload()
    wait_connected(page)
    answer = answers(page).first
    expect(answer).to_contain_text("word5")
    expect(answer).to_have_attribute("aria-busy", "true")
    expect(page.get_by_role("button", name="Stop generating")).to_be_visible()
    expect(answer).to_contain_text("word39", timeout=15_000)
    expect(answer).to_have_attribute("aria-busy", "false")
    wait_idle(page)


def test_regenerate_and_edit(page: Page, user: User, fake: FakeOpenAI) -> None:
    login(page, user)
    fake.enqueue(Script(tokens=("First answer.",)), Script(tokens=("Second answer.",)))
    send(page, "Question one")
    expect(answers(page)).to_have_text(re.compile("First answer"))
    wait_idle(page)
    page.get_by_role("button", name="Regenerate answer").click()
    expect(answers(page)).to_have_count(1)
    expect(answers(page).first).to_contain_text("Second answer.")
    wait_idle(page)
    assert [m["content"] for m in fake.chat_requests[-1].body["messages"] if m["role"] == "user"] == ["Question one"]

    fake.enqueue(Script(tokens=("Edited answer.",)))
    user_message = page.locator("article.message.user").first
    user_message.hover()
    user_message.get_by_role("button", name="Edit message").click()
    editor = page.get_by_label("Edit your message")
    expect(editor).to_have_value("Question one")
    editor.fill("Question one, edited")
    page.get_by_role("button", name="Send", exact=True).click()
    expect(answers(page).first).to_contain_text("Edited answer.")
    expect(answers(page)).to_have_count(1)
    expect(page.locator("article.message.user .bubble")).to_have_text(["Question one, edited"])
    wait_idle(page)
    assert fake.chat_requests[-1].body["messages"][-1]["content"] == "Question one, edited"

    page.reload()
    wait_connected(page)
    expect(page.locator("article.message.user .bubble")).to_have_text(["Question one, edited"])
    expect(answers(page)).to_have_count(1)


def test_failed_and_cut_off_answers_can_be_retried(page: Page, user: User, fake: FakeOpenAI) -> None:
    login(page, user)
    fake.enqueue(Script.error(400, message="The fake upstream refused this."))
    send(page, "Will this work?")
    error = answers(page).first.get_by_role("alert")
    expect(error).to_be_visible()
    wait_idle(page)

    fake.enqueue(Script(tokens=("Half ", "an ", "answer ", "and ", "then"), drop_after=3))
    error.get_by_role("button", name="Retry").click()
    expect(answers(page).first).to_contain_text("Half an answer")
    expect(answers(page).first.get_by_role("alert")).to_contain_text("interrupted")
    wait_idle(page)

    page.reload()  # saved as cut off, too
    wait_connected(page)
    expect(answers(page).first.get_by_role("alert")).to_be_visible()
    answers(page).first.get_by_role("button", name="Retry").click()
    expect(answers(page).first).to_contain_text("Hello from the fake model.")
    expect(answers(page).first.get_by_role("alert")).to_have_count(0)


def test_a_lost_connection_shows_a_banner_and_reconnects(page: Page, user: User, fake: FakeOpenAI, watch) -> None:
    watch.allow_console(r"net::ERR_FAILED")
    sockets: list[WebSocketRoute] = []

    def through(ws: WebSocketRoute) -> None:
        ws.connect_to_server()
        sockets.append(ws)

    page.route_web_socket(re.compile(r"/ws\?"), through)
    login(page, user)
    fake.script = slow_script(30, delay=0.08)
    send(page, "Keep going while I drop")
    expect(answers(page).first).to_contain_text("word2")

    # The connection drops and cannot come back for now (no tickets).
    page.route("**/api/ws-ticket", lambda route: route.abort())
    sockets[-1].close(code=1011)
    banner = page.get_by_role("alert").filter(has_text="Connection lost")
    expect(banner).to_be_visible()
    expect(banner).to_contain_text("Reconnecting")
    expect(page.get_by_role("button", name="Stop generating")).to_be_visible()

    # The answer goes on on the server; once the socket is back, the page rejoins it where it was.
    page.wait_for_timeout(1000)
    page.unroute("**/api/ws-ticket")
    with contextlib.suppress(PlaywrightTimeoutError):  # unless its backoff came round first and it reconnected
        banner.get_by_role("button", name="Retry now").click(timeout=2000)
    expect(banner).to_be_hidden(timeout=15_000)
    wait_connected(page)
    expect(answers(page).first).to_contain_text("word29", timeout=15_000)
    wait_idle(page)
    assert answers(page).first.locator(".markdown").inner_text().strip() == " ".join(f"word{i}" for i in range(30))
    send(page, "Back again")
    expect(answers(page).nth(1)).to_contain_text("word29")


def test_copy_an_answer_and_a_code_block(page: Page, user: User, fake: FakeOpenAI) -> None:
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    fake.script = Script(tokens=("Run this:\n\n", "```sh\n", "make serve\n", "```\n"))
    login(page, user)
    send(page, "How do I start it?")
    wait_idle(page)
    answers(page).first.get_by_role("button", name="Copy code").click()
    expect(answers(page).first.get_by_role("button", name="Copied")).to_be_visible()
    assert page.evaluate("() => navigator.clipboard.readText()") == "make serve"
    answers(page).first.get_by_role("button", name="Copy answer").click()
    assert page.evaluate("() => navigator.clipboard.readText()") == "Run this:\n\n```sh\nmake serve\n```\n"
    page.locator("article.message.user").hover()
    page.get_by_role("button", name="Copy message").click()
    assert page.evaluate("() => navigator.clipboard.readText()") == "How do I start it?"


def test_an_ended_session_goes_back_to_login(page: Page, user: User, watch) -> None:
    watch.allow_console(r"status of 401")
    login(page, user)
    # The session ends behind the page's back (as in another tab): the cookie goes, and the server forgets it.
    page.evaluate("""() => fetch('/api/logout', {method: 'POST', headers: {'X-Parley-CSRF': '1'}})""")
    page.reload()
    expect(page.get_by_role("status").filter(has_text="Your session has ended")).to_be_visible()
    expect(page.get_by_label("Username")).to_be_visible()
