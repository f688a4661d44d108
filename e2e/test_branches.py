"""Versions of a turn: regenerating or editing adds one beside the old (nothing is deleted), `< 2 / 2 >` switches
between them, and the server keeps the choice across a reload.

Every test runs on both paths: ``parley serve`` and the serverless emulation (``make aws-local``)."""

from __future__ import annotations

from playwright.sync_api import Browser, Locator, Page, expect

from e2e.support import (
    Server,
    User,
    answers,
    login,
    on_both_homes,
    open_context,
    run_axe,
    screenshot,
    send,
    slow_script,
    use_theme,
    wait_connected,
    wait_idle,
)
from parley.testing.fake_openai import FakeOpenAI, Script

server = on_both_homes()


def versions(message: Locator, position: int, total: int) -> Locator:
    """The message's switcher, found by what it says: its name for a screen reader, "2 / 3" on screen."""
    switcher = message.get_by_role("group", name=f"Version {position} of {total}")
    expect(switcher).to_be_visible()
    expect(switcher).to_have_text(f"{position} / {total}")
    return switcher


def user_messages(page: Page) -> Locator:
    return page.locator("article.message.user")


def questions(page: Page) -> Locator:
    """The text of each user message shown (without its buttons and switcher)."""
    return user_messages(page).locator(".bubble")


def answer_texts(page: Page) -> Locator:
    return answers(page).locator(".markdown")


def test_regenerate_then_switch_back_and_the_choice_outlives_a_reload(page: Page, user: User, fake: FakeOpenAI) -> None:
    login(page, user)
    fake.enqueue(Script(tokens=("The first answer.",)))
    send(page, "Question one")
    expect(answers(page).first).to_contain_text("The first answer.")
    wait_idle(page)
    expect(page.locator(".branch-switcher")).to_have_count(0)  # one version: nothing to switch

    # Regenerate: a second version, shown at once as 2 / 2; the switcher waits while it is written.
    fake.enqueue(slow_script(60, delay=0.05, word="second"))
    answers(page).first.get_by_role("button", name="Regenerate answer").click()
    expect(answers(page).first).to_contain_text("second2")
    switcher = versions(answers(page).first, 2, 2)
    expect(switcher.get_by_role("button", name="Previous version")).to_be_disabled()
    expect(answers(page).first).to_contain_text("second59", timeout=15_000)
    wait_idle(page)
    expect(answers(page)).to_have_count(1)
    assert "The first answer." not in str(fake.chat_requests[-1].body["messages"])  # the old answer is not context

    # Back to the first answer.
    expect(switcher.get_by_role("button", name="Next version")).to_be_disabled()
    switcher.get_by_role("button", name="Previous version").click()
    expect(answers(page).first).to_contain_text("The first answer.")
    expect(answers(page).first).not_to_contain_text("second")
    versions(answers(page).first, 1, 2)
    expect(questions(page)).to_have_text(["Question one"])

    # The server kept the choice.
    page.reload()
    wait_connected(page)
    expect(answers(page).first).to_contain_text("The first answer.")
    switcher = versions(answers(page).first, 1, 2)

    # From the keyboard: the focus stays on the switcher as the version changes under it.
    switcher.get_by_role("button", name="Next version").focus()
    page.keyboard.press("Enter")
    expect(answers(page).first).to_contain_text("second59")
    switcher = versions(answers(page).first, 2, 2)
    expect(switcher.get_by_role("button", name="Previous version")).to_be_focused()  # Next is at its end
    page.keyboard.press("Enter")
    expect(answers(page).first).to_contain_text("The first answer.")
    expect(versions(answers(page).first, 1, 2).get_by_role("button", name="Next version")).to_be_focused()
    expect(page.get_by_role("status").filter(has_text="Showing version 1 of 2.")).to_be_attached()

    # A new question continues the branch shown.
    fake.enqueue(Script(tokens=("A follow-up answer.",)))
    send(page, "And then?")
    expect(answers(page).nth(1)).to_contain_text("A follow-up answer.")
    wait_idle(page)
    sent = [m["content"] for m in fake.chat_requests[-1].body["messages"] if m["role"] == "assistant"]
    assert sent == ["The first answer."]


def test_edit_then_switch_back_to_the_original_question(page: Page, user: User, fake: FakeOpenAI) -> None:
    login(page, user)
    fake.enqueue(Script(tokens=("Answer to the original.",)), Script(tokens=("Answer to the follow-up.",)))
    send(page, "Original question")
    expect(answers(page).first).to_contain_text("Answer to the original.")
    wait_idle(page)
    send(page, "A follow-up")
    expect(answers(page).nth(1)).to_contain_text("Answer to the follow-up.")
    wait_idle(page)

    # Edit the first question: a new branch from there, with the edited question as its 2 / 2.
    fake.enqueue(Script(tokens=("Answer to the edit.",)))
    first = user_messages(page).first
    first.hover()
    first.get_by_role("button", name="Edit message").click()
    page.get_by_label("Edit your message").fill("Edited question")
    page.get_by_role("button", name="Send", exact=True).click()
    expect(answers(page).first).to_contain_text("Answer to the edit.")
    wait_idle(page)
    expect(questions(page)).to_have_text(["Edited question"])
    expect(answers(page)).to_have_count(1)
    switcher = versions(user_messages(page).first, 2, 2)
    expect(answers(page).first.locator(".branch-switcher")).to_have_count(0)  # its answer has no other version

    # Switching back shows the original question and the whole branch below it, as it was.
    switcher.get_by_role("button", name="Previous version").click()
    expect(questions(page)).to_have_text(["Original question", "A follow-up"])
    expect(answer_texts(page)).to_have_text(["Answer to the original.", "Answer to the follow-up."])
    versions(user_messages(page).first, 1, 2)

    page.reload()
    wait_connected(page)
    expect(questions(page)).to_have_text(["Original question", "A follow-up"])
    expect(answer_texts(page)).to_have_text(["Answer to the original.", "Answer to the follow-up."])

    # And forward again to the edit.
    versions(user_messages(page).first, 1, 2).get_by_role("button", name="Next version").click()
    expect(questions(page)).to_have_text(["Edited question"])
    expect(answer_texts(page)).to_have_text(["Answer to the edit."])


def test_the_switcher_passes_the_accessibility_check_in_both_themes(
    browser: Browser, server: Server, fake: FakeOpenAI
) -> None:
    context, watch = open_context(browser, server, reduced_motion="reduce")
    page = context.new_page()
    user = server.add_user()
    try:
        login(page, user)
        fake.enqueue(
            Script(tokens=("One way to say it.",)),
            Script(tokens=("Said better, one way.",)),
            Script(tokens=("Said better, another way.",)),
        )
        send(page, "Say it")
        expect(answers(page).first).to_contain_text("One way")
        wait_idle(page)
        user_messages(page).first.hover()
        user_messages(page).first.get_by_role("button", name="Edit message").click()
        page.get_by_label("Edit your message").fill("Say it better")
        page.get_by_role("button", name="Send", exact=True).click()
        expect(answers(page).first).to_contain_text("Said better, one way.")
        wait_idle(page)
        answers(page).first.get_by_role("button", name="Regenerate answer").click()
        expect(answers(page).first).to_contain_text("Said better, another way.")
        wait_idle(page)
        versions(user_messages(page).first, 2, 2)
        versions(answers(page).first, 2, 2)
        for theme in ("light", "dark"):
            use_theme(page, theme)
            page.mouse.move(0, 0)
            assert run_axe(page) == [], theme
            screenshot(page, f"versions-desktop-{theme}")
    finally:
        context.close()
    assert not watch.unexpected_console_errors() and not watch.page_errors and not watch.foreign_requests
