"""API keys in the web app: make one, read it once, use it with the openai SDK against the same server, revoke it
in the app, and the next call is refused."""

from __future__ import annotations

import re

import openai
import pytest
from playwright.sync_api import Page, expect

from e2e.support import Server, User, login


def test_a_key_made_in_the_app_works_with_the_sdk_until_it_is_revoked(page: Page, user: User, server: Server) -> None:
    login(page, user)
    page.get_by_role("button", name="Settings", exact=True).click()
    drawer = page.get_by_role("dialog", name="Settings")
    keys = drawer.get_by_role("region", name="API keys")
    expect(keys.get_by_text("No keys yet.")).to_be_visible()
    keys.get_by_label("Name").fill("<b>script</b>")
    keys.get_by_role("button", name="Create key").click()

    shown = keys.get_by_test_id("new-api-key")
    expect(shown).to_have_text(re.compile(r"^parley_[0-9A-Za-z]{49}$"))
    key = shown.inner_text()
    expect(keys.get_by_text("it is shown this once")).to_be_visible()
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    keys.get_by_role("button", name="Copy the key").click()
    assert page.evaluate("() => navigator.clipboard.readText()") == key
    # The name is shown as text, never as markup.
    listed = keys.get_by_role("list", name="Your API keys").get_by_role("listitem")
    expect(listed).to_have_count(1)
    expect(listed.first).to_contain_text("<b>script</b>")
    expect(listed.first).to_contain_text(key[:11])
    keys.get_by_role("button", name="Done").click()
    expect(shown).to_have_count(0)  # gone for good: the server keeps only its hash

    with openai.OpenAI(base_url=f"{server.base_url}/v1", api_key=key, max_retries=0) as client:
        stream = client.chat.completions.create(
            model="fake-model", messages=[{"role": "user", "content": "hi"}], stream=True
        )
        assert "".join(c.choices[0].delta.content or "" for c in stream if c.choices) == "Hello from the fake model."

        keys.get_by_role("button", name="Revoke the key <b>script</b>").click()
        confirm = page.get_by_role("dialog", name="Revoke API key?")
        confirm.get_by_role("button", name="Revoke").click()
        expect(keys.get_by_text("No keys yet.")).to_be_visible()
        with pytest.raises(openai.AuthenticationError):
            client.models.list()

    # Reopened later, the list comes from the server: the revoked key is not offered, and no key text is shown.
    page.reload()
    page.get_by_role("button", name="Settings", exact=True).click()
    expect(page.get_by_role("region", name="API keys").get_by_text("No keys yet.")).to_be_visible()
    expect(page.get_by_test_id("new-api-key")).to_have_count(0)
