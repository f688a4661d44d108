"""Settings: every parameter reaches the upstream request, limits follow the model, presets, theme."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from e2e.support import User, answers, login, send, wait_connected, wait_idle
from parley.testing.fake_openai import FakeOpenAI


def test_settings_reach_the_upstream_and_persist(page: Page, user: User, fake: FakeOpenAI) -> None:
    login(page, user)
    page.get_by_role("button", name="Settings", exact=True).click()
    drawer = page.get_by_role("dialog", name="Settings")
    drawer.get_by_label("Model", exact=True).select_option("fake-large")
    drawer.get_by_role("slider", name="Temperature").fill("0.35")
    drawer.get_by_role("slider", name="Top P").fill("0.8")
    drawer.get_by_role("slider", name="Max tokens").fill("300")
    drawer.get_by_role("slider", name="Frequency penalty").fill("0.5")
    drawer.get_by_role("slider", name="Presence penalty").fill("-0.25")
    drawer.get_by_role("textbox", name="System prompt").fill("You are terse.")
    expect(drawer.locator(".save-state")).to_have_text("Saved")
    page.keyboard.press("Escape")
    expect(drawer).to_be_hidden()
    expect(page.get_by_label("Model", exact=True)).to_have_value("fake-large")

    send(page, "Hello with settings")
    expect(answers(page).first).to_contain_text("Hello from the fake model.")
    wait_idle(page)
    body = fake.chat_requests[-1].body
    assert body["model"] == "fake-large"
    assert body["temperature"] == 0.35
    assert body["top_p"] == 0.8
    assert body["max_tokens"] == 300
    assert body["frequency_penalty"] == 0.5
    assert body["presence_penalty"] == -0.25
    assert body["messages"][0] == {"role": "system", "content": "You are terse."}

    # Saved for the user: a reload (or another device) has them.
    page.reload()
    wait_connected(page)
    page.get_by_role("button", name="Settings", exact=True).click()
    drawer = page.get_by_role("dialog", name="Settings")
    expect(drawer.get_by_role("slider", name="Temperature")).to_have_value("0.35")
    expect(drawer.get_by_role("slider", name="Max tokens")).to_have_value("300")
    expect(drawer.get_by_role("textbox", name="System prompt")).to_have_value("You are terse.")

    # Back to the model's default: left out of the request.
    drawer.get_by_role("button", name="Reset Temperature to the model default").click()
    model_default = float(drawer.get_by_role("slider", name="Temperature").input_value())
    page.keyboard.press("Escape")
    send(page, "Now with the default temperature")
    expect(answers(page).nth(1)).to_contain_text("Hello from the fake model.")
    wait_idle(page)
    assert fake.chat_requests[-1].body["temperature"] == model_default
    assert fake.chat_requests[-1].body["top_p"] == 0.8


def test_sliders_are_limited_to_the_models_ranges(page: Page, user: User) -> None:
    login(page, user)
    models = page.evaluate(
        """async () => {
            const r = await fetch('/api/models');  // the session cookie goes along
            return (await r.json()).models;
        }"""
    )
    ranges = {m["id"]: m["parameters"] for m in models}
    page.get_by_role("button", name="Settings", exact=True).click()
    drawer = page.get_by_role("dialog", name="Settings")
    for model_id in ("fake-model", "fake-large"):
        drawer.get_by_label("Model", exact=True).select_option(model_id)
        for name, label in (("temperature", "Temperature"), ("max_tokens", "Max tokens"), ("top_p", "Top P")):
            slider = drawer.get_by_role("slider", name=label)
            expect(slider).to_have_attribute("min", f"{ranges[model_id][name]['min']:g}")
            expect(slider).to_have_attribute("max", f"{ranges[model_id][name]['max']:g}")


def test_system_prompt_presets(page: Page, user: User, fake: FakeOpenAI) -> None:
    login(page, user)
    page.get_by_role("button", name="Settings", exact=True).click()
    drawer = page.get_by_role("dialog", name="Settings")
    drawer.get_by_role("textbox", name="System prompt").fill("Answer like a pirate.")
    drawer.get_by_label("Save as", exact=True).fill("Pirate")
    drawer.get_by_role("button", name="Save preset").click()
    drawer.get_by_role("textbox", name="System prompt").fill("Answer in French.")
    drawer.get_by_label("Save as", exact=True).fill("French")
    drawer.get_by_role("button", name="Save preset").click()
    expect(drawer.locator(".save-state")).to_have_text("Saved")

    page.reload()
    wait_connected(page)
    page.get_by_role("button", name="Settings", exact=True).click()
    drawer = page.get_by_role("dialog", name="Settings")
    expect(drawer.get_by_label("Presets", exact=True).locator("option")).to_have_text(
        ["Choose a preset…", "French", "Pirate"]
    )
    drawer.get_by_label("Presets", exact=True).select_option("Pirate")
    expect(drawer.get_by_role("textbox", name="System prompt")).to_have_value("Answer like a pirate.")
    drawer.get_by_role("button", name="Close settings").click()
    send(page, "Ahoy?")
    wait_idle(page)
    assert fake.chat_requests[-1].body["messages"][0] == {"role": "system", "content": "Answer like a pirate."}


def test_theme_is_saved_for_the_user(page: Page, user: User) -> None:
    login(page, user)
    html = page.locator("html")
    expect(html).to_have_attribute("data-theme", "system")
    page.get_by_role("button", name="Settings", exact=True).click()
    drawer = page.get_by_role("dialog", name="Settings")
    drawer.get_by_role("radio", name="Dark").check()
    expect(html).to_have_attribute("data-theme", "dark")
    background = page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert background == "rgb(33, 33, 33)"
    expect(drawer.locator(".save-state")).to_have_text("Saved")
    page.evaluate("localStorage.removeItem('parley.theme')")  # prove it comes from the server
    page.reload()
    wait_connected(page)
    expect(html).to_have_attribute("data-theme", "dark")
