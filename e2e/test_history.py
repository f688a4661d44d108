"""Your history out and in, in the browser: a conversation downloaded as Markdown and JSON from the sidebar,
everything as a zip from the settings, and an archive imported with its result shown."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

from playwright.sync_api import Page, expect

from e2e.support import User, answers, login, send, wait_idle
from tests.test_history import archive_of, conversation_doc, message_doc


def open_data_settings(page: Page):
    page.get_by_role("button", name="Settings", exact=True).click()
    drawer = page.get_by_role("dialog", name="Settings")
    expect(drawer.get_by_role("heading", name="Your data")).to_be_visible()
    return drawer


def test_a_conversation_and_everything_download(page: Page, user: User, tmp_path: Path) -> None:
    login(page, user)
    send(page, "Tell me about export formats")
    expect(answers(page).first).to_contain_text("Hello from the fake model.")
    wait_idle(page)
    item = page.locator(".conversation").first
    item.hover()
    page.get_by_role("button", name="Export “Tell me about export formats”").click()
    with page.expect_download() as markdown_download:
        page.get_by_role("menuitem", name="Export as Markdown").click()
    markdown = Path(markdown_download.value.path()).read_text()
    assert markdown_download.value.suggested_filename == "Tell me about export formats.md"
    assert markdown.startswith("# Tell me about export formats\n")
    assert "## User\n\nTell me about export formats" in markdown
    assert "Hello from the fake model." in markdown

    item.hover()
    page.get_by_role("button", name="Export “Tell me about export formats”").click()
    with page.expect_download() as json_download:
        page.get_by_role("menuitem", name="Export as JSON").click()
    document = json.loads(Path(json_download.value.path()).read_text())
    assert document["format"] == "parley-conversation"
    assert [m["role"] for m in document["messages"]] == ["user", "assistant"]

    drawer = open_data_settings(page)
    with page.expect_download() as archive_download:
        drawer.get_by_role("button", name="Export all").click()
    with zipfile.ZipFile(io.BytesIO(Path(archive_download.value.path()).read_bytes())) as archive:
        manifest = json.loads(archive.read("manifest.json"))
        assert (manifest["format"], manifest["conversations"]) == ("parley-export", 1)
        saved = json.loads(archive.read(manifest["files"][0]))
    assert saved["title"] == "Tell me about export formats"


def test_an_archive_imports_with_its_result_shown(page: Page, user: User, tmp_path: Path) -> None:
    path = tmp_path / "parley-export.zip"
    path.write_bytes(
        archive_of(
            conversation_doc(
                "Imported from elsewhere",
                [message_doc("a", None, text="An old question"), message_doc("b", "a", "assistant", "An old answer")],
            ),
            conversation_doc("Odd role", [message_doc("a", None, "wizard")]),
        )
    )
    login(page, user)
    drawer = open_data_settings(page)
    drawer.get_by_label("File to import").set_input_files(str(path))
    expect(drawer.get_by_text("Imported 1 conversation(s) from parley-export.zip.")).to_be_visible(timeout=20_000)
    expect(drawer.locator(".skipped-list")).to_contain_text("Odd role: message 1 has the role 'wizard'")
    page.keyboard.press("Escape")

    page.get_by_role("link", name="Imported from elsewhere").click()
    expect(page.locator("article.message.user")).to_contain_text("An old question")
    expect(answers(page).first).to_contain_text("An old answer")

    drawer = open_data_settings(page)
    drawer.get_by_label("File to import").set_input_files(str(path))
    expect(drawer.get_by_text("1 were imported before and were skipped.", exact=False)).to_be_visible(timeout=20_000)
    page.keyboard.press("Escape")
    expect(page.get_by_role("link", name="Imported from elsewhere")).to_have_count(1)
