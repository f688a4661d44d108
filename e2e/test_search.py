"""Search in the sidebar finds words in messages, not only titles, and opens the chat at the message found,
on its branch, scrolled into view and marked for a moment. On both paths: ``parley serve`` and the
serverless emulation (``make aws-local``)."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from e2e.support import Server, User, login, on_both_homes, screenshot
from parley.testing.fake_openai import FakeOpenAI, Script

FILLER = "Paragraph after paragraph of something else entirely. " * 40


server = on_both_homes()


def test_a_word_said_long_ago_on_another_branch_opens_there(
    page: Page, server: Server, user: User, fake: FakeOpenAI
) -> None:
    with server.api(user) as http:

        def ask(prompt: str, answer: str, **extra: str) -> dict:
            fake.script = Script(tokens=(answer,))
            response = http.post("/api/chat", json={"prompt": prompt, **extra})
            response.raise_for_status()
            return response.json()

        found = ask("Which mammals lay eggs?", "Monotremes: the <b>ornithorhynchus</b> and the echidna.")
        chat_id = found["conversation_id"]
        for turn in range(6):  # a long branch, so the answer found is far above the end
            ask(f"Tell me more, part {turn}", FILLER, conversation_id=chat_id)
        first_question = http.get(f"/api/conversations/{chat_id}").json()["messages"][0]["id"]
        # Edit the first question: the branch shown no longer holds the answer that will be found.
        ask(
            "Which birds cannot fly?",
            "Penguins and ostriches.",
            conversation_id=chat_id,
            edit_message_id=first_question,
        )
        ask("Something unrelated", "Nothing about eggs here.")

    login(page, user)
    sidebar = page.get_by_role("navigation", name="Chats")
    sidebar.get_by_role("searchbox", name="Search chats").fill("ORNITHORHYNCHUS")
    hits = sidebar.get_by_role("region", name="Found in messages")
    hit = hits.get_by_role("link")
    expect(hit).to_have_count(1)
    expect(hit).to_contain_text("Which mammals lay eggs?")  # the chat's title
    # The snippet is text: the answer's tags show as written, and only the word found is marked.
    expect(hit).to_contain_text("Monotremes: the <b>ornithorhynchus</b> and the echidna.")
    expect(hit.locator("mark")).to_have_text(["ornithorhynchus"])
    assert hit.locator("b, script, img").count() == 0
    screenshot(page, f"search-hits-{server.base_url.rsplit(':', 1)[1]}")

    hit.click()
    expect(page).to_have_url(re.compile(rf"/c/{chat_id}$"))
    answer = page.locator("article.message.assistant", has_text="ornithorhynchus")
    expect(answer).to_be_in_viewport()
    expect(answer).to_have_class(re.compile(r"\bfound\b"))  # marked for a moment
    expect(answer).not_to_have_class(re.compile(r"\bfound\b"), timeout=5000)
    first = page.locator("article.message.user").first
    expect(first.locator(".bubble")).to_have_text("Which mammals lay eggs?")
    expect(first.get_by_role("group", name="Version 1 of 2")).to_be_visible()  # the older version, switched to
    # The branch switched to is kept: after a reload the conversation still shows it.
    page.reload()
    expect(first.locator(".bubble")).to_have_text("Which mammals lay eggs?")


def test_titles_stay_in_the_list_and_messages_are_found_below(
    page: Page, server: Server, user: User, fake: FakeOpenAI
) -> None:
    with server.api(user) as http:
        fake.script = Script(tokens=("Quokkas smile.",))
        http.post("/api/chat", json={"prompt": "Tell me about quokkas"}).raise_for_status()
    login(page, user)
    sidebar = page.get_by_role("navigation", name="Chats")
    sidebar.get_by_role("searchbox", name="Search chats").fill("quokkas")
    chats = sidebar.locator("li.conversation").get_by_role("link")
    expect(chats).to_have_text(["Tell me about quokkas"])  # the title, as before
    hits = sidebar.get_by_role("region", name="Found in messages").get_by_role("link")
    expect(hits).to_have_count(2)  # the answer (shorter, so ranked first) and the question
    expect(hits.locator("mark")).to_have_text(["Quokkas", "quokkas"])
    sidebar.get_by_role("searchbox", name="Search chats").fill("wallabies")
    expect(sidebar).to_contain_text("No chats match your search.")
