"""Share links in the browser: share a chat, open the link logged out (a fresh browser), revoke it.

The shared page renders answers with the app's markdown and sanitizer (hostile HTML and links stay inert), says
noindex, and calls nothing but the public share route. Every test runs on both paths: ``parley serve`` and the
serverless emulation (``make aws-local``)."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, Page, expect

from e2e.support import PageWatch, Server, User, answers, login, open_context, screenshot, send, wait_idle
from parley.testing.fake_openai import FakeOpenAI, Script

HOSTILE_ANSWER = (
    "The **plan** is ready.\n\n",
    "<img src=x onerror=\"window.__pwned='img'\"> <script>window.__pwned='script'</script>\n\n",
    "[click me](javascript:window.__pwned='link') and a [real link](https://example.invalid/docs).\n",
)


@pytest.fixture(scope="module", params=["parley-serve", "aws-local"])
def server(request: pytest.FixtureRequest, server: Server) -> Server:
    """Overrides conftest's ``server`` (``parley serve``) with each path in turn."""
    if request.param == "aws-local":
        aws_server: Server = request.getfixturevalue("aws_server")
        return aws_server
    return server


def test_share_open_logged_out_and_revoke(
    page: Page, browser: Browser, server: Server, user: User, fake: FakeOpenAI, watch: PageWatch
) -> None:
    login(page, user)
    fake.script = Script(tokens=HOSTILE_ANSWER, token_delay=0.01)
    send(page, "Draft the launch plan")
    expect(answers(page).first).to_contain_text("real link")
    wait_idle(page)

    page.get_by_role("button", name="Share chat").click()
    dialog = page.get_by_role("dialog", name="Share chat")
    expect(dialog).to_contain_text("snapshot of the branch shown")
    dialog.get_by_role("button", name="Create link").click()
    link = dialog.get_by_role("textbox", name="Link").input_value()
    screenshot(page, "share-dialog")
    assert urlsplit(link).path.startswith("/s/") and link.startswith(server.base_url)
    dialog.get_by_role("button", name="Close").click()

    # Said after sharing: not in the snapshot.
    fake.script = Script(tokens=("A later answer.",))
    send(page, "Something said after sharing")
    expect(answers(page).nth(1)).to_contain_text("A later answer.")
    wait_idle(page)

    # A fresh browser, never logged in, opens the link.
    visitor, visitor_watch = open_context(browser, server)
    try:
        requests: list[str] = []
        shared = visitor.new_page()
        shared.on("request", lambda request: requests.append(request.url))
        shared.goto(link)
        expect(shared.get_by_role("heading", name="Draft the launch plan")).to_be_visible()
        expect(shared.get_by_text("snapshot shared on")).to_be_visible()
        answer = shared.locator("section.message.assistant")
        expect(answer).to_contain_text("The plan is ready.")
        expect(answer.locator("strong")).to_have_text("plan")
        assert shared.locator("section.message").count() == 2
        expect(shared.locator("body")).not_to_contain_text("Something said after sharing")
        expect(shared.locator("body")).not_to_contain_text(user.name)

        # Markdown with the app's safety: raw HTML is text, the javascript: link is dead, real links are safe.
        assert answer.locator("script, img, [onerror]").count() == 0
        expect(answer.get_by_role("link", name="click me")).to_have_count(0)
        answer.get_by_text("click me").click()
        real = answer.get_by_role("link", name="real link")
        expect(real).to_have_attribute("rel", "noopener noreferrer")
        shared.wait_for_timeout(200)
        assert shared.evaluate("window.__pwned") is None

        screenshot(shared, "share-page")
        assert shared.locator('meta[name="robots"]').get_attribute("content") == "noindex, nofollow"
        assert shared.locator('meta[name="referrer"]').get_attribute("content") == "no-referrer"
        assert visitor.cookies() == []
        api_calls = [urlsplit(url).path for url in requests if urlsplit(url).path.startswith(("/api/", "/ws"))]
        assert api_calls and all(path.startswith("/api/public/shares/") for path in api_calls), api_calls
        assert not visitor_watch.page_errors and not visitor_watch.foreign_requests
        assert not visitor_watch.unexpected_console_errors(), visitor_watch.console_errors

        # The owner revokes it from the list of shared links; the link now says so.
        page.get_by_role("button", name="Shared links").click()
        links = page.get_by_role("dialog", name="Shared links")
        expect(links.get_by_role("link", name="Draft the launch plan")).to_be_visible()
        screenshot(page, "shared-links")
        links.get_by_role("button", name="Revoke link to “Draft the launch plan”").click()
        expect(links).to_contain_text("No shared links.")
        links.get_by_role("button", name="Close shared links").click()

        visitor_watch.allow_console(r"status of 404")
        shared.reload()
        expect(shared.get_by_role("heading", name="This link was revoked or never existed.")).to_be_visible()
        expect(shared.locator("body")).not_to_contain_text("The plan is ready.")
        screenshot(shared, "share-page-revoked")
        assert not visitor_watch.unexpected_console_errors(), visitor_watch.console_errors
    finally:
        visitor.close()
