"""How it looks and reads: screenshots in light and dark at desktop and phone widths, the phone drawer,
nothing wider than the screen, and an automated accessibility check (axe-core, from web/node_modules)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from e2e.support import (
    DESKTOP,
    PHONE,
    Server,
    User,
    answers,
    login,
    open_context,
    run_axe,
    screenshot,
    send,
    use_theme,
    wait_connected,
    wait_idle,
)
from parley.testing.fake_openai import FakeOpenAI, Script

RICH_ANSWER = """Here is a quick comparison of **three languages**:

| Language | Typing | Typical use |
|---|---|---|
| Python | dynamic | scripts, data, web |
| Go | static | network services |
| Rust | static | systems, speed |

A small example in Python:

```python
def greet(name: str) -> str:
    return f"Hello, {name}!"

print(greet("Parley"))
```

- Use `pip` for packages
- Read [the docs](https://docs.python.org/3/) when unsure
"""


def chat_with_rich_answer(page: Page, user: User, fake: FakeOpenAI) -> None:
    fake.script = Script(tokens=tuple(RICH_ANSWER.split(" ")) and _words(RICH_ANSWER))
    login(page, user)
    send(page, "Compare Python, Go and Rust in a table, with a code example")
    expect(answers(page).first.locator("table")).to_be_visible()
    wait_idle(page)
    page.mouse.move(0, 0)


def _words(text: str) -> tuple[str, ...]:
    parts = text.split(" ")
    return tuple(part + (" " if i < len(parts) - 1 else "") for i, part in enumerate(parts))


@pytest.fixture
def phone_page(browser: Browser, server: Server) -> Iterator[Page]:
    context, watch = open_context(browser, server, viewport=PHONE, is_mobile=True, has_touch=True)
    page = context.new_page()
    yield page
    context.close()
    assert not watch.unexpected_console_errors() and not watch.page_errors and not watch.foreign_requests


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_desktop_screenshots(page: Page, user: User, fake: FakeOpenAI, theme: str) -> None:
    use_theme(page, theme)
    chat_with_rich_answer(page, user, fake)
    expect(page.locator(".code-block .hljs-keyword").first).to_be_visible()
    screenshot(page, f"chat-desktop-{theme}")
    page.get_by_role("button", name="Settings", exact=True).click()
    expect(page.get_by_role("dialog", name="Settings")).to_be_visible()
    screenshot(page, f"settings-desktop-{theme}")
    assert_fits(page, DESKTOP["width"])


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_phone_screenshots_and_drawer(phone_page: Page, server: Server, fake: FakeOpenAI, theme: str) -> None:
    page = phone_page
    user = server.add_user()
    page.goto("/")
    use_theme(page, theme)
    expect(page.get_by_label("Username")).to_be_visible()
    assert_fits(page, PHONE["width"])
    if theme == "light":
        screenshot(page, "login-phone")
    chat_with_rich_answer(page, user, fake)
    sidebar = page.get_by_role("navigation", name="Chats")
    expect(sidebar).to_be_hidden()
    assert_fits(page, PHONE["width"])
    screenshot(page, f"chat-phone-{theme}")

    page.get_by_role("button", name="Open sidebar").click()
    expect(sidebar).to_be_visible()
    screenshot(page, f"sidebar-phone-{theme}")
    page.get_by_role("button", name="New chat").first.click()
    expect(sidebar).to_be_hidden()
    expect(page.get_by_role("heading", name="How can I help you today?")).to_be_visible()
    page.get_by_role("button", name="Open sidebar").click()
    sidebar.get_by_role("link").first.click()
    expect(sidebar).to_be_hidden()
    expect(answers(page).first.locator("table")).to_be_visible()


def assert_fits(page: Page, width: int) -> None:
    overflow = page.evaluate("document.documentElement.scrollWidth")
    assert overflow <= width, f"the page is {overflow}px wide on a {width}px screen"


def test_accessibility(browser: Browser, server: Server, fake: FakeOpenAI) -> None:
    # axe is injected by evaluate(), which the page's CSP does not govern; nothing else changes.
    context, _ = open_context(browser, server, reduced_motion="reduce")  # no half-faded dialog
    page = context.new_page()
    user = server.add_user()
    try:
        page.goto("/")
        expect(page.get_by_label("Username")).to_be_visible()
        assert run_axe(page) == []
        for theme in ("light", "dark"):
            use_theme(page, theme)
            if theme == "light":
                chat_with_rich_answer(page, user, fake)
            assert run_axe(page) == [], theme
        page.get_by_role("button", name="Settings", exact=True).click()
        expect(page.get_by_role("dialog", name="Settings")).to_be_visible()
        assert run_axe(page) == []
    finally:
        context.close()


def test_keyboard_only(page: Page, user: User, fake: FakeOpenAI) -> None:
    page.goto("/")
    expect(page.get_by_label("Username")).to_be_focused()
    page.keyboard.type(user.name)
    page.keyboard.press("Tab")
    page.keyboard.type(user.password)
    page.keyboard.press("Enter")
    wait_connected(page)
    box = page.get_by_label("Message", exact=True)
    box.focus()
    page.keyboard.type("Typed without a mouse")
    page.keyboard.press("Enter")
    expect(answers(page).first).to_contain_text("Hello from the fake model.")
    wait_idle(page)
    expect(box).to_be_focused()
    # The settings dialog opens from the keyboard, traps focus, and Esc gives focus back.
    page.get_by_role("button", name="Settings", exact=True).focus()
    page.keyboard.press("Enter")
    dialog = page.get_by_role("dialog", name="Settings")
    expect(dialog).to_be_visible()
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(page.get_by_role("button", name="Settings", exact=True)).to_be_focused()


def test_the_sidebar_collapses_on_a_desktop(page: Page, user: User) -> None:
    login(page, user)
    sidebar = page.get_by_role("navigation", name="Chats")
    expect(sidebar).to_be_visible()
    sidebar.get_by_role("button", name="Close sidebar").click()
    expect(sidebar).to_be_hidden()
    page.reload()
    wait_connected(page)
    expect(sidebar).to_be_hidden()  # remembered
    page.get_by_role("button", name="Open sidebar").click()
    expect(sidebar).to_be_visible()
