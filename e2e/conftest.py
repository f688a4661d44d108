"""Browser tests: Debian's chromium, driven by Playwright, against a real ``parley serve`` process whose
provider is the scripted fake OpenAI upstream (in this process, so tests script answers and read what
the server sent upstream). Nothing here reaches the internet, and Playwright never downloads a browser.
A test module can also run against the serverless emulation (``aws_server``) by overriding ``server``.

Every page fails its test on a console error, an uncaught exception, or a request to another origin
(such requests are aborted and recorded), unless the test says which messages it expects.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, sync_playwright

from e2e.support import (
    CHROMIUM,
    CHROMIUM_ARGS,
    RESULTS,
    UPSTREAM_KEY,
    PageWatch,
    Server,
    User,
    open_context,
    run_aws_local,
    run_server,
)
from parley.testing.fake_openai import FakeOpenAI


def pytest_configure(config: pytest.Config) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)


@pytest.fixture(scope="session")
def fake() -> Iterator[FakeOpenAI]:
    with FakeOpenAI(api_key=UPSTREAM_KEY, models=("fake-model", "fake-large")).run_in_thread() as upstream:
        yield upstream


@pytest.fixture(autouse=True)
def _fresh_script(fake: FakeOpenAI) -> None:
    fake.reset()


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory, fake: FakeOpenAI) -> Iterator[Server]:
    with run_server(tmp_path_factory.mktemp("parley-data"), fake, "server.log") as running:
        yield running


@pytest.fixture(scope="session")
def aws_server(tmp_path_factory: pytest.TempPathFactory, fake: FakeOpenAI) -> Iterator[Server]:
    """``python -m parley.aws.local`` with the same fake upstream; started only if a test asks for it."""
    with run_aws_local(tmp_path_factory.mktemp("parley-aws-local"), fake) as running:
        yield running


@pytest.fixture
def user(server: Server) -> User:
    """A new account for each test, so each starts with an empty chat list."""
    return server.add_user()


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="session")
def browser(playwright: Playwright) -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: `make browser-test` installs Debian's chromium")
    launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
    yield launched
    launched.close()


@pytest.fixture
def context(browser: Browser, server: Server) -> Iterator[tuple[BrowserContext, PageWatch]]:
    opened, watch = open_context(browser, server)
    yield opened, watch
    opened.close()


@pytest.fixture
def watch(context: tuple[BrowserContext, PageWatch]) -> PageWatch:
    return context[1]


@pytest.fixture
def page(context: tuple[BrowserContext, PageWatch]) -> Iterator[Page]:
    opened, watch = context
    new_page = opened.new_page()
    yield new_page
    assert not watch.page_errors, f"uncaught errors in the page: {watch.page_errors}"
    assert not watch.unexpected_console_errors(), f"console errors: {watch.unexpected_console_errors()}"
    assert not watch.foreign_requests, f"requests to other origins: {watch.foreign_requests}"
    assert not watch.dialogs, f"unexpected dialogs: {watch.dialogs}"
