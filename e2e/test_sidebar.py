"""The chat list: newest first, more as you scroll, search, rename, delete with confirmation."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from e2e.support import PageWatch, Server, User, answers, login, send, wait_connected, wait_idle
from parley.testing.fake_openai import FakeOpenAI, Script


def make_chats(server: Server, user: User, titles: list[str]) -> None:
    """Create chats quickly through the API (the fake answers each at once)."""
    with server.api(user) as http:
        for title in titles:
            http.post("/api/chat", json={"prompt": title}).raise_for_status()


def test_scrolling_loads_older_chats(page: Page, server: Server, user: User) -> None:
    make_chats(server, user, [f"Chat number {i:02d}" for i in range(40)])
    login(page, user)
    sidebar = page.get_by_role("navigation", name="Chats")
    links = sidebar.get_by_role("link")
    expect(links.first).to_have_text("Chat number 39")  # newest first
    expect(links).to_have_count(30)
    links.nth(29).scroll_into_view_if_needed()
    expect(links).to_have_count(40)
    expect(links.last).to_have_text("Chat number 00")


def test_search_rename_and_delete(page: Page, server: Server, user: User, watch: PageWatch) -> None:
    watch.allow_console(r"status of 404")  # opening the deleted chat at the end
    make_chats(server, user, ["Planning a trip to Lisbon", "Sourdough starter", "Trip budget"])
    login(page, user)
    sidebar = page.get_by_role("navigation", name="Chats")

    sidebar.get_by_role("searchbox", name="Search chats").fill("trip")
    chats = sidebar.locator("li.conversation").get_by_role("link")  # the messages found are listed below them
    expect(chats).to_have_text(["Trip budget", "Planning a trip to Lisbon"])
    sidebar.get_by_role("searchbox", name="Search chats").fill("nothing like this")
    expect(sidebar).to_contain_text("No chats match your search.")
    sidebar.get_by_role("searchbox", name="Search chats").fill("")
    expect(sidebar.get_by_role("link")).to_have_count(3)

    # Rename in place; the new title is saved.
    sidebar.get_by_role("link", name="Sourdough starter").hover()
    sidebar.get_by_role("button", name="Rename “Sourdough starter”").click()
    field = sidebar.get_by_label("New title")
    expect(field).to_be_focused()
    field.fill("Bread, finally")
    field.press("Enter")
    expect(sidebar.get_by_role("link", name="Bread, finally")).to_be_visible()
    page.reload()
    wait_connected(page)
    expect(sidebar.get_by_role("link", name="Bread, finally")).to_be_visible()

    # Esc cancels a rename.
    sidebar.get_by_role("link", name="Trip budget").hover()
    sidebar.get_by_role("button", name="Rename “Trip budget”").click()
    sidebar.get_by_label("New title").fill("Something else")
    sidebar.get_by_label("New title").press("Escape")
    expect(sidebar.get_by_role("link", name="Trip budget")).to_be_visible()

    # Delete the open chat: confirm first (cancel keeps it), then it is gone and a new chat shows.
    sidebar.get_by_role("link", name="Bread, finally").click()
    expect(page).to_have_url(re.compile(r"/c/"))
    chat_url = page.url
    sidebar.get_by_role("button", name="Delete “Bread, finally”").click()
    dialog = page.get_by_role("dialog", name="Delete chat?")
    expect(dialog).to_contain_text("Bread, finally")
    dialog.get_by_role("button", name="Cancel").click()
    expect(dialog).to_be_hidden()
    expect(sidebar.get_by_role("link", name="Bread, finally")).to_be_visible()

    sidebar.get_by_role("button", name="Delete “Bread, finally”").click()
    page.get_by_role("dialog", name="Delete chat?").get_by_role("button", name="Delete").click()
    expect(sidebar.get_by_role("link", name="Bread, finally")).to_have_count(0)
    expect(page.get_by_role("heading", name="How can I help you today?")).to_be_visible()
    with server.api(user) as http:
        assert http.get(f"/api/conversations/{chat_url.rsplit('/', 1)[1]}").status_code == 404
    page.goto(chat_url)
    expect(page.get_by_text("This chat does not exist")).to_be_visible()


def test_a_new_chat_appears_on_top(page: Page, server: Server, user: User, fake: FakeOpenAI) -> None:
    make_chats(server, user, ["An older chat"])
    login(page, user)
    fake.script = Script(tokens=("Sure.",))
    send(page, "A brand new question")
    sidebar = page.get_by_role("navigation", name="Chats")
    expect(sidebar.get_by_role("link").first).to_have_text("A brand new question")
    expect(sidebar.get_by_role("link", name="A brand new question")).to_have_attribute("aria-current", "page")
    expect(answers(page).first).to_contain_text("Sure.")
    wait_idle(page)
