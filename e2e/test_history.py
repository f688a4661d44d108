"""Your history out and in, in the browser: a conversation downloaded as Markdown and JSON from the sidebar,
everything as a zip from the settings, and an archive imported with its result shown."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

from playwright.sync_api import Browser, Page, expect

from e2e.support import Server, User, answers, login, open_context, send, wait_idle
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


def test_an_archive_imports_on_the_serverless_path_through_the_bucket(
    browser: Browser, aws_server: Server, tmp_path: Path
) -> None:
    """On AWS the page posts the file straight to the history bucket (moto's, on loopback), and the bucket's
    event runs the import worker: the same settings section, the same result."""
    bucket_endpoint = aws_server.env["AWS_ENDPOINT_URL"]
    context, watch = open_context(browser, aws_server, also_reach=(bucket_endpoint,))
    try:
        page = context.new_page()
        user = aws_server.add_user()
        path = tmp_path / "parley-export.zip"
        path.write_bytes(archive_of(conversation_doc("Moved to the cloud", [message_doc("a", None, text="Hi")])))
        login(page, user)
        drawer = open_data_settings(page)
        drawer.get_by_label("File to import").set_input_files(str(path))
        expect(drawer.get_by_text("Imported 1 conversation(s) from parley-export.zip.")).to_be_visible(timeout=30_000)
        page.keyboard.press("Escape")
        expect(page.get_by_role("link", name="Moved to the cloud")).to_be_visible()
        assert not watch.page_errors and not watch.unexpected_console_errors()
        assert all(url.startswith(bucket_endpoint + "/") for url in watch.foreign_requests), watch.foreign_requests
        assert watch.foreign_requests  # the file went to the bucket, not through a function
    finally:
        context.close()
