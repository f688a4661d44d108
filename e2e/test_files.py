"""Files in chat: attached with the button, dropped on the chat or pasted; each uploads with its progress shown, is
read by the server, and the message waits until it is ready. A document's sources show under the answer, an image
inline in the question; an image for a model that cannot see comes back with the reason.

Every test runs on both homes: ``parley serve`` (the file is posted to the server) and the serverless emulation
(posted straight to the files bucket, read by the worker its event starts). The fake upstream here also offers a
model that can see (``fake-vision``: an id with "vision" in it is known to take images)."""

from __future__ import annotations

import base64
import re
import struct
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Locator, Page, Route, expect

from e2e.support import (
    HOMES,
    UPSTREAM_KEY,
    PageWatch,
    Server,
    User,
    answers,
    login,
    open_context,
    run_aws_local,
    run_axe,
    run_server,
    screenshot,
    send,
    use_theme,
    wait_idle,
)
from parley.testing import sample_files
from parley.testing.fake_openai import FakeOpenAI

READY_TIMEOUT = 30_000  # ms: on the serverless path a file is read by a worker its bucket event starts


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeOpenAI]:
    with FakeOpenAI(api_key=UPSTREAM_KEY, models=("fake-model",), vision_models=("fake-vision",)).run_in_thread() as up:
        yield up


@pytest.fixture(scope="module", params=HOMES)
def home(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="module")
def server(home: str, tmp_path_factory: pytest.TempPathFactory, fake: FakeOpenAI) -> Iterator[Server]:
    """This module's own server on each home, with the fake that offers a model that can see."""
    work = tmp_path_factory.mktemp(f"files-{home}")
    running = (
        run_aws_local(work, fake, "aws-local-files.log")
        if home == "aws-local"
        else run_server(work, fake, "server-files.log")
    )
    with running as started:
        yield started


@pytest.fixture
def storage(home: str, server: Server) -> tuple[str, ...]:
    """The origins the page may post files to besides the app's: the files bucket, on the serverless path."""
    return (server.env["AWS_ENDPOINT_URL"],) if home == "aws-local" else ()


@pytest.fixture
def context(browser: Browser, server: Server, storage: tuple[str, ...]) -> Iterator[tuple[BrowserContext, PageWatch]]:
    opened, watch = open_context(browser, server, also_reach=storage)
    yield opened, watch
    opened.close()


@pytest.fixture
def page(context: tuple[BrowserContext, PageWatch], storage: tuple[str, ...]) -> Iterator[Page]:
    opened, watch = context
    new_page = opened.new_page()
    yield new_page
    assert not watch.page_errors, f"uncaught errors in the page: {watch.page_errors}"
    assert not watch.unexpected_console_errors(), f"console errors: {watch.unexpected_console_errors()}"
    elsewhere = [url for url in watch.foreign_requests if not url.startswith(tuple(o + "/" for o in storage))]
    assert not elsewhere, f"requests to other origins: {elsewhere}"
    assert not watch.dialogs, f"unexpected dialogs: {watch.dialogs}"


def png(width: int, height: int, rgb: tuple[int, int, int]) -> bytes:
    """A PNG of one colour, made here (no image library needed)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    rows = b"".join(b"\x00" + bytes(rgb) * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


def field_guide(path: Path) -> Path:
    """A markdown document too long to go to the model whole (about 30 KB), so the answer is given the passages that
    match the question, and cites them."""
    topics = [f"Section {n}: tides and shipping lanes of harbour {n}" for n in range(1, 41)]
    topics[26] = "Section 27: the lighthouse keeper's cat"
    sections = []
    for title in topics:
        if "cat" in title:
            body = "The lighthouse keeper's cat is named Biscuit. Biscuit sleeps on the lamp room stairs. " * 4
        else:
            body = f"{title.split(': ')[1].capitalize()} change with the seasons and the weather. " * 10
        sections.append(f"## {title}\n\n{body.strip()}\n")
    path.write_text("# Field guide to the coast\n\n" + "\n".join(sections), encoding="utf-8")
    return path


def composer_chips(page: Page) -> Locator:
    return page.locator("form.composer").get_by_role("listitem")


def send_button(page: Page) -> Locator:
    return page.get_by_role("button", name="Send message")


def attach_with_button(page: Page, *paths: Path) -> None:
    with page.expect_file_chooser() as chooser:
        page.get_by_role("button", name="Attach files").click()
    chooser.value.set_files([str(p) for p in paths])


_NEW_FILES = """(files) => {
  const data = new DataTransfer();
  for (const f of files) {
    const bytes = Uint8Array.from(atob(f.b64), (c) => c.charCodeAt(0));
    data.items.add(new File([bytes], f.name, { type: f.type }));
  }
  return data;
}"""


def _files_arg(name: str, media_type: str, data: bytes) -> list[dict[str, str]]:
    return [{"name": name, "type": media_type, "b64": base64.b64encode(data).decode()}]


def drop_file(page: Page, name: str, media_type: str, data: bytes) -> None:
    """Drag a file over the chat (the drop zone shows) and drop it there, as a file manager would."""
    transfer = page.evaluate_handle(_NEW_FILES, _files_arg(name, media_type, data))
    chat = page.locator("main.chat")
    chat.dispatch_event("dragenter", {"dataTransfer": transfer})
    expect(page.locator(".drop-zone")).to_contain_text("Drop files to attach them")
    chat.dispatch_event("dragover", {"dataTransfer": transfer})
    chat.dispatch_event("drop", {"dataTransfer": transfer})
    expect(page.locator(".drop-zone")).to_have_count(0)


def paste_file(page: Page, name: str, media_type: str, data: bytes) -> None:
    """Paste a file into the message box, as a screenshot tool leaves one on the clipboard."""
    page.get_by_label("Message", exact=True).evaluate(
        f"(box, files) => box.dispatchEvent(new ClipboardEvent('paste', "
        f"{{ clipboardData: ({_NEW_FILES})(files), bubbles: true, cancelable: true }}))",
        _files_arg(name, media_type, data),
    )


def test_a_document_attached_with_the_button_is_read_and_its_sources_shown(
    page: Page, user: User, fake: FakeOpenAI, tmp_path: Path
) -> None:
    guide = field_guide(tmp_path / "field-guide.md")
    login(page, user)
    attach_with_button(page, guide)
    chip = composer_chips(page).first
    expect(chip).to_contain_text("field-guide.md")
    expect(chip).to_have_attribute("data-status", "ready", timeout=READY_TIMEOUT)
    expect(chip).to_contain_text("ready")
    assert run_axe(page) == []

    send(page, "What is the lighthouse keeper's cat called?")
    expect(composer_chips(page)).to_have_count(0)  # sent with the message
    question = page.locator("article.message.user")
    expect(question.get_by_role("link", name=re.compile("field-guide.md"))).to_have_attribute(
        "download", "field-guide.md"
    )
    expect(answers(page).first).to_contain_text("Hello from the fake model.")
    wait_idle(page)

    # The model was given the passages that match, framed as a document not to obey, and the answer cites them.
    given = "\n".join(str(m["content"]) for m in fake.chat_requests[-1].body["messages"])
    assert 'trust="untrusted"' in given
    assert "named Biscuit" in given
    sources = answers(page).first.get_by_role("region", name="Sources")
    expect(sources).to_contain_text("field-guide.md")
    cited = sources.locator("details", has_text="named Biscuit")
    expect(cited.locator("blockquote")).to_be_hidden()
    cited.locator("summary").click()
    expect(cited.locator("blockquote")).to_be_visible()
    expect(cited.locator("blockquote")).to_contain_text("The lighthouse keeper's cat is named Biscuit.")
    assert run_axe(page) == []
    screenshot(page, "files-document-sources")

    # As saved: the file on the question and the sources under the answer, after a reload.
    page.reload()
    expect(page.locator("article.message.user").get_by_role("link", name=re.compile("field-guide.md"))).to_be_visible()
    expect(answers(page).first.get_by_role("region", name="Sources")).to_contain_text("field-guide.md")


def test_an_image_dropped_on_the_chat_shows_inline_in_the_question(page: Page, user: User, fake: FakeOpenAI) -> None:
    image = png(64, 48, (200, 40, 40))
    login(page, user)
    page.get_by_label("Model", exact=True).select_option("fake-vision")
    drop_file(page, "red.png", "image/png", image)
    chip = composer_chips(page).first
    expect(chip).to_have_attribute("data-status", "ready", timeout=READY_TIMEOUT)
    expect(chip.locator("img.chip-thumbnail")).to_be_visible()
    expect(chip).not_to_contain_text("cannot see")

    send(page, "What colour is this?")
    expect(answers(page).first).to_contain_text("Hello from the fake model.")
    wait_idle(page)
    assert len(fake.chat_requests[-1].images) == 1  # the model was shown the image

    shown = page.locator("article.message.user").get_by_role("img", name="red.png")
    expect(shown).to_be_visible()
    assert shown.evaluate("(img) => img.complete && img.naturalWidth") == 64  # served by the app, as re-encoded
    opener = page.locator("article.message.user a.attachment-image")
    expect(opener).to_have_attribute("target", "_blank")  # a middle click opens it in a new tab
    opener.click()
    lightbox = page.get_by_role("dialog", name="red.png")
    expect(lightbox.get_by_role("img", name="red.png")).to_be_visible()
    expect(lightbox.get_by_role("button", name="Close")).to_be_focused()
    assert run_axe(page) == []
    page.keyboard.press("Escape")
    expect(lightbox).to_be_hidden()

    for theme in ("light", "dark"):
        use_theme(page, theme)
        assert run_axe(page) == [], theme
    screenshot(page, "files-image-inline")

    page.reload()
    expect(page.locator("article.message.user").get_by_role("img", name="red.png")).to_be_visible()


def test_a_pdf_and_a_picture_asked_about_together_give_a_grounded_answer_with_page_citations(
    page: Page, user: User, fake: FakeOpenAI, tmp_path: Path
) -> None:
    """The issue's own ask: a PDF and a picture uploaded in the browser, one question about both; the model is shown
    the picture and the PDF's matching passages, and the answer cites them by page."""
    lines = [f"Page {n} lists the tide tables of harbour {n}, which change with the seasons. " * 6 for n in range(30)]
    lines[17] = "The harbour master's boat is painted blue and is called Marigold. " * 6
    report = tmp_path / "harbour-report.pdf"
    report.write_bytes(sample_files.pdf(*lines))
    login(page, user)
    page.get_by_label("Model", exact=True).select_option("fake-vision")
    attach_with_button(page, report)
    drop_file(page, "boat.png", "image/png", png(40, 30, (30, 60, 200)))
    expect(composer_chips(page)).to_have_count(2)
    for chip in composer_chips(page).all():
        expect(chip).to_have_attribute("data-status", "ready", timeout=READY_TIMEOUT)

    send(page, "Is the boat in this picture the harbour master's boat Marigold?")
    expect(answers(page).first).to_contain_text("Hello from the fake model.")
    wait_idle(page)

    asked = fake.chat_requests[-1]
    assert len(asked.images) == 1
    given = "\n".join(str(m["content"]) for m in asked.body["messages"])
    assert "called Marigold" in given and 'trust="untrusted"' in given
    sources = answers(page).first.get_by_role("region", name="Sources")
    cited = sources.locator("details", has_text="harbour-report.pdf").filter(has_text="page 18")
    expect(cited.first).to_be_visible()
    question = page.locator("article.message.user")
    expect(question.get_by_role("img", name="boat.png")).to_be_visible()
    expect(question.get_by_role("link", name=re.compile("harbour-report.pdf"))).to_be_visible()
    assert run_axe(page) == []


def test_an_image_pasted_for_a_model_that_cannot_see_comes_back_with_the_reason(
    page: Page, user: User, fake: FakeOpenAI
) -> None:
    login(page, user)
    expect(page.get_by_label("Model", exact=True)).to_have_value("fake-model")
    paste_file(page, "screenshot.png", "image/png", png(20, 20, (30, 90, 200)))
    chip = composer_chips(page).first
    expect(chip).to_contain_text("screenshot.png")
    expect(chip).to_contain_text("cannot see images")  # said before sending
    expect(chip).to_have_attribute("data-status", "ready", timeout=READY_TIMEOUT)
    assert run_axe(page) == []

    requests = len(fake.chat_requests)
    send(page, "What is on my screen?")
    expect(page.locator(".toast")).to_be_visible()
    # Nothing was saved: no messages, and the prompt and its image are back in the box to change and send again.
    expect(page.locator("article.message")).to_have_count(0)
    expect(page.get_by_label("Message", exact=True)).to_have_value("What is on my screen?")
    expect(composer_chips(page)).to_have_count(1)
    expect(composer_chips(page).first).to_have_attribute("data-status", "ready")
    assert len(fake.chat_requests) == requests

    page.get_by_label("Model", exact=True).select_option("fake-vision")
    expect(composer_chips(page).first).not_to_contain_text("cannot see")
    page.get_by_label("Message", exact=True).press("Enter")
    expect(page.locator("article.message.user").get_by_role("img", name="screenshot.png")).to_be_visible()
    wait_idle(page)
    assert len(fake.chat_requests[-1].images) == 1


def test_a_file_not_ready_holds_the_message(page: Page, user: User, tmp_path: Path) -> None:
    notes = tmp_path / "notes.md"
    notes.write_text("# Notes\n\nBuy milk.\n", encoding="utf-8")
    unusable = tmp_path / "data.bin"
    unusable.write_bytes(bytes(range(256)) * 64)

    # Looking at a file answers "processing" for as long as this route stands.
    file_route = re.compile(r"/api/files/([0-9a-f]{32})$")

    def still_processing(route: Route) -> None:
        found = file_route.search(route.request.url)
        if route.request.method != "GET" or found is None:
            route.fallback()
            return
        processing = {"id": found.group(1), "name": "notes.md", "size": 20, "status": "processing", "media_type": ""}
        blank = {"kind": None, "error": None, "text_chars": 0, "passages": 0, "width": None, "height": None}
        route.fulfill(json={**processing, **blank, "text_truncated": False, "created_at": 0})

    login(page, user)
    page.route(file_route, still_processing)
    page.get_by_label("Message", exact=True).fill("Summarise my notes")
    attach_with_button(page, notes)
    chip = composer_chips(page).first
    expect(chip).to_have_attribute("data-status", "processing", timeout=READY_TIMEOUT)
    expect(chip).to_contain_text("processing…")
    expect(send_button(page)).to_be_disabled()
    expect(page.locator("#composer-hint")).to_have_text("Your message can be sent once its files are ready.")
    page.get_by_label("Message", exact=True).press("Enter")
    expect(page.locator("article.message")).to_have_count(0)  # Enter does not send it either

    page.unroute(file_route, still_processing)
    expect(chip).to_have_attribute("data-status", "ready", timeout=READY_TIMEOUT)
    expect(send_button(page)).to_be_enabled()

    # A file the server cannot read says why, and holds the message until it is taken off.
    attach_with_button(page, unusable)
    failed = composer_chips(page).nth(1)
    expect(failed).to_have_attribute("data-status", "error", timeout=READY_TIMEOUT)
    expect(failed.get_by_role("alert")).not_to_be_empty()
    expect(send_button(page)).to_be_disabled()
    expect(page.locator("#composer-hint")).to_have_text("Remove the files that cannot be used to send your message.")
    assert run_axe(page) == []
    screenshot(page, "files-chips-states")
    remove = failed.get_by_role("button", name="Remove data.bin")
    remove.focus()
    page.keyboard.press("Enter")
    expect(composer_chips(page)).to_have_count(1)
    expect(send_button(page)).to_be_enabled()
    send_button(page).click()
    expect(page.locator("article.message.user").get_by_role("link", name=re.compile("notes.md"))).to_be_visible()
