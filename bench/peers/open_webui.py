"""Open WebUI as a peer: started from its own virtualenv, offline, on loopback, in front of the fake upstream;
and a client for the parts of its API a benchmark uses (sign-in, chat completions, chat import, list, open).

Every setting that would download something or reach the internet is turned off (``OFFLINE_SETTINGS``);
they are reported with the results. Accounts: the admin account is created at start-up from
``WEBUI_ADMIN_EMAIL``/``WEBUI_ADMIN_PASSWORD`` (Open WebUI's documented way), and its session token
(``POST /api/v1/auths/signin``) is the bearer of every request, as the web app's own requests carry it.
"""

from __future__ import annotations

import asyncio
import os
import socket
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from bench.clients import StreamTrace, chat_body, openai_stream
from bench.peer_env import PeerEnv
from bench.procs import service
from bench.services import API_KEY, PASSWORD, HttpServer, Upstream

ADMIN_EMAIL = "bench@example.com"
CHAT_PAGE = 60  # GET /api/v1/chats/list?page=N returns this many (fixed by Open WebUI)
IMPORT_BATCH = 500

# What keeps Open WebUI offline and doing only what the benchmark measures. Values are strings, as in its docs.
OFFLINE_SETTINGS: dict[str, str] = {
    "OFFLINE_MODE": "true",  # no version check, HF_HUB_OFFLINE=1, no model auto-updates
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "ENABLE_OLLAMA_API": "false",
    "ENABLE_OPENAI_API": "true",
    # No local embedding model is loaded at start (sentence-transformers would look for one); nothing here is
    # embedded, so the engine is never called.
    "RAG_EMBEDDING_ENGINE": "openai",
    "RAG_RERANKING_MODEL": "",
    "ENABLE_RAG_HYBRID_SEARCH": "false",
    "AUDIO_STT_ENGINE": "openai",  # no local whisper model
    "ENABLE_WEB_SEARCH": "false",
    "ENABLE_IMAGE_GENERATION": "false",
    "ENABLE_CODE_INTERPRETER": "false",
    # Background tasks that would ask the model again after an answer (only for chats the web app manages).
    "ENABLE_TITLE_GENERATION": "false",
    "ENABLE_TAGS_GENERATION": "false",
    "ENABLE_FOLLOW_UP_GENERATION": "false",
    "ENABLE_AUTOCOMPLETE_GENERATION": "false",
    "ENABLE_VERSION_UPDATE_CHECK": "false",
    "ENABLE_COMMUNITY_SHARING": "false",
    "ANONYMIZED_TELEMETRY": "false",
    "DO_NOT_TRACK": "true",
    "SCARF_NO_ANALYTICS": "true",
    "WEBUI_AUTH": "true",
}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def open_webui_env(data_dir: Path, upstream: Upstream, base: Mapping[str, str] | None = None) -> dict[str, str]:
    """The process environment: this one's, without Python or Parley/OpenAI settings that are not Open WebUI's."""
    dropped = ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")
    env = {
        k: v
        for k, v in (base if base is not None else os.environ).items()
        if k not in dropped and not k.startswith(("PARLEY_", "OPENAI_"))
    }
    return (
        env
        | OFFLINE_SETTINGS
        | {
            "DATA_DIR": str(data_dir),
            "WEBUI_SECRET_KEY": "bench-open-webui-secret-of-32-bytes-or-more",
            "WEBUI_ADMIN_EMAIL": ADMIN_EMAIL,
            "WEBUI_ADMIN_PASSWORD": PASSWORD,
            "WEBUI_ADMIN_NAME": "bench",
            "OPENAI_API_BASE_URL": upstream.base_url,
            "OPENAI_API_KEY": API_KEY,
        }
    )


@asynccontextmanager
async def open_webui_server(
    peer: PeerEnv, log_dir: Path, data_dir: Path, upstream: Upstream, *, name: str = "open-webui"
) -> AsyncIterator[HttpServer]:
    """``open-webui serve`` on a free loopback port; yields once its process is running (see ``wait_healthy``)."""
    await asyncio.to_thread(data_dir.mkdir, parents=True, exist_ok=True)
    port = free_port()
    argv = [str(peer.bin("open-webui")), "serve", "--host=127.0.0.1", f"--port={port}"]
    env = open_webui_env(data_dir, upstream)
    # Ready at once: callers wait for /health themselves, which is also how start-up time is measured.
    async with service(name, argv, log_dir=log_dir, env=env, ready="") as (proc, _found):
        yield HttpServer(f"http://127.0.0.1:{port}", proc)


async def wait_healthy(http: httpx.AsyncClient, server: HttpServer, path: str, max_seconds: float = 240) -> float:
    """Poll ``path`` until it answers 200; the ``time.perf_counter()`` at which it did."""
    deadline = time.monotonic() + max_seconds
    while time.monotonic() < deadline:
        if server.service.process.returncode is not None:
            raise RuntimeError(f"{server.service.name} exited:\n{server.service.log()[-2000:]}")
        try:
            response = await http.get(server.base_url + path, timeout=2)
            if response.status_code == 200:
                return time.perf_counter()
        except httpx.TransportError:
            pass
        await asyncio.sleep(0.02)
    raise RuntimeError(f"{server.service.name} did not answer {path} within {max_seconds:.0f} s")


@dataclass
class OpenWebUIClient:
    http: httpx.AsyncClient
    base_url: str
    token: str = ""

    async def sign_in(self, email: str = ADMIN_EMAIL, password: str = PASSWORD) -> str:
        response = await self.http.post(
            f"{self.base_url}/api/v1/auths/signin", json={"email": email, "password": password}
        )
        response.raise_for_status()
        self.token = str(response.json()["token"])
        return self.token

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    async def models(self) -> list[str]:
        response = await self.http.get(f"{self.base_url}/api/models", headers=self._headers())
        response.raise_for_status()
        return [str(model["id"]) for model in response.json()["data"]]

    async def chat(self, prompt: str, *, max_tokens: int | None = None) -> StreamTrace:
        """A streamed answer through ``POST /api/chat/completions``, as an API user calls it."""
        body = chat_body(prompt, max_tokens=max_tokens)
        return await openai_stream(self.http, f"{self.base_url}/api/chat/completions", self.token, body)

    async def import_chats(self, chats: Sequence[dict[str, Any]]) -> list[str]:
        ids: list[str] = []
        for start in range(0, len(chats), IMPORT_BATCH):
            batch = list(chats[start : start + IMPORT_BATCH])
            response = await self.http.post(
                f"{self.base_url}/api/v1/chats/import", json={"chats": batch}, headers=self._headers(), timeout=300
            )
            response.raise_for_status()
            ids += [str(chat["id"]) for chat in response.json()]
        return ids

    async def list_page(self, page: int = 1) -> list[dict[str, Any]]:
        response = await self.http.get(f"{self.base_url}/api/v1/chats/list?page={page}", headers=self._headers())
        response.raise_for_status()
        chats: list[dict[str, Any]] = response.json()
        return chats

    async def open_chat(self, chat_id: str) -> dict[str, Any]:
        response = await self.http.get(f"{self.base_url}/api/v1/chats/{chat_id}", headers=self._headers())
        response.raise_for_status()
        chat: dict[str, Any] = response.json()
        return chat
