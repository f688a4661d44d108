"""What the browser tests share: the server process, users, page watching and small helpers."""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Page,
    Request,
    Route,
)

from parley.testing.fake_openai import FakeOpenAI, Script

REPO = Path(__file__).resolve().parents[1]
WEB_DIST = REPO / "web" / "dist"
RESULTS = REPO / "e2e" / "results"
CHROMIUM = Path(os.environ.get("PARLEY_E2E_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
UPSTREAM_KEY = "sk-e2e-upstream"
PASSWORD = "e2e password 123"  # noqa: S105 - a test account
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 375, "height": 740}


@dataclass
class Server:
    """A running Parley (``parley serve`` or the serverless emulation) and the environment in which
    ``parley users add`` creates accounts there."""

    base_url: str
    env: dict[str, str]
    process: subprocess.Popen[bytes]
    users: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def add_user(self, name: str | None = None, password: str = PASSWORD) -> User:
        name = name or f"user{next(self.users)}"
        subprocess.run(  # noqa: S603 - our own command
            [_parley(), "users", "add", name, "--password-stdin"],
            input=password.encode(),
            env=self.env,
            check=True,
            capture_output=True,
            timeout=60,
        )
        return User(name, password)

    @contextlib.contextmanager
    def api(self, user: User) -> Iterator[httpx.Client]:
        """An HTTP client logged in as ``user``, for setting up state quickly."""
        with httpx.Client(base_url=self.base_url, timeout=10) as client:
            response = client.post("/api/login", json={"username": user.name, "password": user.password})
            response.raise_for_status()
            client.headers["Authorization"] = f"Bearer {response.json()['token']}"
            yield client


@dataclass(frozen=True)
class User:
    name: str
    password: str


def _parley() -> str:
    found = shutil.which("parley", path=str(Path(sys.executable).parent))
    assert found, "the parley command is not installed next to this Python"
    return found


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _app_env(upstream: FakeOpenAI) -> dict[str, str]:
    """What both paths share: the built web app, and the fake upstream as the only provider."""
    return {
        "PARLEY_WEB_DIR": str(WEB_DIST),
        "PARLEY_LOCAL_MODEL": "off",
        "OPENAI_BASE_URL": upstream.base_url,
        "OPENAI_API_KEY": UPSTREAM_KEY,
        "PARLEY_LOG_LEVEL": "WARNING",
        # A test's server is stopped with SIGTERM: an answer a test left running need not hold that up.
        "PARLEY_SHUTDOWN_GRACE_SECONDS": "2",
    }


@contextlib.contextmanager
def run_server(data_dir: Path, upstream: FakeOpenAI, log_name: str) -> Iterator[Server]:
    assert (WEB_DIST / "index.html").is_file(), "build the web app first: make web-build"
    port = _free_port()
    env = {
        **os.environ,
        **_app_env(upstream),
        "PARLEY_DATA_DIR": str(data_dir),
        "PARLEY_HOST": "127.0.0.1",
        "PARLEY_PORT": str(port),
    }
    base_url = f"http://127.0.0.1:{port}"
    with _process([_parley(), "serve"], env, log_name, stop=signal.SIGTERM) as process:
        _wait_for(process, "parley serve", lambda: _healthy(base_url), seconds=30)
        yield Server(base_url=base_url, env=env, process=process)


@contextlib.contextmanager
def run_aws_local(work_dir: Path, upstream: FakeOpenAI, log_name: str = "aws-local.log") -> Iterator[Server]:
    """The serverless path (``python -m parley.aws.local``): the real Lambda functions behind a local API
    Gateway, with DynamoDB and SNS from moto. Accounts go into its DynamoDB table (``Server.env``)."""
    assert (WEB_DIST / "index.html").is_file(), "build the web app first: make web-build"
    port = _free_port()
    cli_env_file = work_dir / "cli-env.json"
    command = [sys.executable, "-m", "parley.aws.local", "--port", str(port), "--cli-env-file", str(cli_env_file)]
    base_url = f"http://127.0.0.1:{port}"
    # SIGINT, not SIGTERM: it unwinds the deployment (answers drained, moto stopped, temporary data removed).
    with _process(command, {**os.environ, **_app_env(upstream)}, log_name, stop=signal.SIGINT) as process:
        # The file is written only once the deployment is serving, so it is the signal that it is up.
        _wait_for(process, "python -m parley.aws.local", lambda: cli_env_file.exists() and _healthy(base_url), 60)
        cli_env = json.loads(cli_env_file.read_text(encoding="utf-8"))
        yield Server(base_url=base_url, env={**os.environ, **cli_env}, process=process)


@contextlib.contextmanager
def _process(
    command: list[str], env: dict[str, str], log_name: str, stop: signal.Signals
) -> Iterator[subprocess.Popen[bytes]]:
    with (RESULTS / log_name).open("wb") as log:
        process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)  # noqa: S603
        try:
            yield process
        finally:
            process.send_signal(stop)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _wait_for(process: subprocess.Popen[bytes], name: str, ready: Callable[[], bool], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited with {process.returncode}; see e2e/results/")
        if ready():
            return
        time.sleep(0.1)
    raise RuntimeError(f"{name} did not start within {seconds} s")


def _healthy(base_url: str) -> bool:
    with contextlib.suppress(httpx.HTTPError):
        return httpx.get(f"{base_url}/api/health", timeout=1).status_code == 200
    return False


@dataclass
class PageWatch:
    """What a page did that a test may need to fail on."""

    origin: str
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    foreign_requests: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)
    allowed: list[re.Pattern[str]] = field(default_factory=list)

    def allow_console(self, pattern: str) -> None:
        """Expect console errors matching ``pattern`` (e.g. the 401 of a wrong password)."""
        self.allowed.append(re.compile(pattern))

    def unexpected_console_errors(self) -> list[str]:
        return [m for m in self.console_errors if not any(p.search(m) for p in self.allowed)]


def _is_foreign(url: str, origin: str) -> bool:
    if url.startswith(("data:", "blob:", "about:")):
        return False
    scheme_less = origin.split("://", 1)[1]
    return not (url.startswith(origin + "/") or url == origin or url.startswith(f"ws://{scheme_less}/"))


def open_context(browser: Browser, server: Server, **options: object) -> tuple[BrowserContext, PageWatch]:
    settings: dict[str, object] = {"viewport": DESKTOP, **options}
    context = browser.new_context(base_url=server.base_url, **settings)  # type: ignore[arg-type]
    context.set_default_timeout(10_000)
    watch = PageWatch(origin=server.base_url)

    def guard(route: Route, request: Request) -> None:
        if _is_foreign(request.url, server.base_url):
            watch.foreign_requests.append(request.url)
            route.abort()
        else:
            route.continue_()

    context.route("**/*", guard)
    context.on("page", lambda page: _watch_page(page, watch))
    return context, watch


def _watch_page(page: Page, watch: PageWatch) -> None:
    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            watch.console_errors.append(message.text)

    page.on("console", on_console)
    page.on("pageerror", lambda error: watch.page_errors.append(str(error)))
    page.on("request", lambda request: _record_foreign(request, watch))

    def on_dialog(dialog: object) -> None:
        watch.dialogs.append(getattr(dialog, "message", ""))
        dialog.dismiss()  # type: ignore[attr-defined]

    page.on("dialog", on_dialog)


def _record_foreign(request: Request, watch: PageWatch) -> None:
    if _is_foreign(request.url, watch.origin) and request.url not in watch.foreign_requests:
        watch.foreign_requests.append(request.url)


def login(page: Page, user: User, path: str = "/") -> None:
    page.goto(path)
    page.get_by_label("Username").fill(user.name)
    page.get_by_label("Password").fill(user.password)
    page.get_by_role("button", name="Log in").click()
    wait_connected(page)


def wait_connected(page: Page) -> None:
    page.locator('.app[data-connection="open"]').wait_for()


def send(page: Page, text: str) -> None:
    box = page.get_by_label("Message", exact=True)
    box.fill(text)
    box.press("Enter")


def answers(page: Page):
    return page.locator("article.message.assistant")


def wait_idle(page: Page) -> None:
    """Wait until no answer is being generated."""
    page.get_by_role("button", name="Send message").wait_for()


def slow_script(count: int = 40, delay: float = 0.08, word: str = "word") -> Script:
    return Script(tokens=tuple(f"{word}{i} " for i in range(count)), token_delay=delay)


def screenshot(page: Page, name: str) -> Path:
    path = RESULTS / f"{name}.png"
    page.screenshot(path=str(path), animations="disabled")  # transitions finished, blinking stopped
    return path


HOMES = ("parley-serve", "aws-local")


def _each_home(request: pytest.FixtureRequest, server: Server) -> Server:
    if request.param == "aws-local":
        aws_server: Server = request.getfixturevalue("aws_server")
        return aws_server
    return server


def on_both_homes() -> Callable[..., Server]:
    """A module's ``server = on_both_homes()`` overrides conftest's ``server`` (``parley serve``) with each home in
    turn; module scope, so every test runs on one home before the next starts."""
    return pytest.fixture(scope="module", params=HOMES, name="server")(_each_home)


def use_theme(page: Page, theme: str) -> None:
    """Emulate the OS theme and wait until the page has taken it (the switch reaches the page a little later)."""
    page.emulate_media(color_scheme=theme)
    if not page.url.startswith("http"):
        return  # nothing loaded yet: the first page will start in this theme
    background = "rgb(255, 255, 255)" if theme == "light" else "rgb(33, 33, 33)"
    page.wait_for_function("(bg) => getComputedStyle(document.body).backgroundColor === bg", arg=background)
    page.evaluate("() => new Promise(done => requestAnimationFrame(() => requestAnimationFrame(done)))")


# axe is injected by evaluate(), which the page's CSP does not govern.
AXE = REPO / "web" / "node_modules" / "axe-core" / "axe.min.js"


def run_axe(page: Page) -> list[str]:
    page.evaluate(AXE.read_text(encoding="utf-8"))
    result = page.evaluate(
        "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
        ".filter(v => v.impact === 'serious' || v.impact === 'critical')"
        ".map(v => v.id + ': ' + v.nodes.slice(0, 3)"
        "  .map(n => n.target.join(' ') + ' (' + n.failureSummary + ')').join(', '))"
    )
    return list(result)
