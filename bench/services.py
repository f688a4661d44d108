"""The servers a benchmark runs against, each in its own process on loopback:
the scripted fake OpenAI upstream, ``parley serve``, and the baselines in ``bench/peers/``."""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from bench.procs import PYTHON, Service, clean_env, service
from parley.config import Settings
from parley.core.chat.service import ChatLimits

PASSWORD = "bench-password-1"  # noqa: S105 - every benchmark user's password, on a throwaway database
API_KEY = "sk-bench"
MODEL = "fake-model"
_PARLEY = str(Path(PYTHON).with_name("parley"))
_URL = r"(http://127\.0\.0\.1:\d+)"


@dataclass(frozen=True)
class Upstream:
    """The fake OpenAI-compatible server: its answer has ``tokens`` tokens, paced as configured."""

    base_url: str
    tokens: int
    first_token_delay: float
    token_delay: float
    service: Service


def answer_text(tokens: int) -> str:
    """An answer of exactly ``tokens`` tokens (the fake streams it word by word)."""
    return " ".join(f"w{i}" for i in range(tokens))


@asynccontextmanager
async def fake_upstream(
    log_dir: Path, *, tokens: int, first_token_delay: float = 0.2, token_delay: float = 0.02
) -> AsyncIterator[Upstream]:
    argv = [
        PYTHON,
        "-m",
        "parley.testing.fake_openai",
        "--port=0",
        f"--first-token-delay={first_token_delay}",
        f"--token-delay={token_delay}",
        f"--answer={answer_text(tokens)}",
        f"--api-key={API_KEY}",
    ]
    ready = rf"listening on {_URL}/v1"
    async with service("fake-upstream", argv, log_dir=log_dir, env=clean_env({}), ready=ready) as (proc, found):
        yield Upstream(f"{found.group(1)}/v1", tokens, first_token_delay, token_delay, proc)


@dataclass(frozen=True)
class HttpServer:
    """A server under test: where to reach it, and its process (for CPU and memory)."""

    base_url: str
    service: Service

    @property
    def ws_url(self) -> str:
        return self.base_url.replace("http://", "ws://", 1) + "/ws"


async def create_users(data_dir: Path, names: Sequence[str]) -> None:
    """Accounts made the way ``parley users add`` makes them, with the configured argon2id parameters."""
    from parley.compose.auth import build_auth
    from parley.core.store.registry import open_stores

    settings = Settings.from_env(env={}, data_dir=data_dir)
    async with open_stores(settings.store, settings) as stores:
        auth = build_auth(settings, stores, before_remove=None)  # it removes no one
        await asyncio.gather(*(auth.create_user(name, PASSWORD) for name in names))


def stream_users(prefix: str, streams: int) -> list[str]:
    """Enough accounts for ``streams`` simultaneous answers within Parley's cap on answers per user."""
    per_user = ChatLimits().max_generations_per_user
    return [f"{prefix}{i}" for i in range(math.ceil(streams / per_user))]


# A benchmark drives a server from a few accounts on purpose (thousands of requests a minute, 2,000 idle sockets
# for one user, 50 API clients on one key), far past the per-user limits that protect a real server from one user
# (600 a minute, 16 sockets, 4 answers at once). The servers under test get limits that fit that load; the
# results' header says which. (The chat benchmarks still spread their streams over enough accounts for 4 each.)
PARLEY_LIMITS = {
    "PARLEY_REQUESTS_PER_MINUTE": "1000000",
    "PARLEY_MAX_SOCKETS_PER_USER": "5000",
    "PARLEY_MAX_GENERATIONS_PER_USER": "1000",
}


def parley_env(data_dir: Path, upstream: Upstream | None, *, local_model: bool) -> dict[str, str]:
    env = {
        "PARLEY_DATA_DIR": str(data_dir),
        "PARLEY_LOCAL_MODEL": "on" if local_model else "off",
        **PARLEY_LIMITS,
    }
    if upstream is not None:
        env |= {"OPENAI_BASE_URL": upstream.base_url, "OPENAI_API_KEY": API_KEY}
    return clean_env(env)


@asynccontextmanager
async def parley_server(
    log_dir: Path,
    data_dir: Path,
    upstream: Upstream | None,
    *,
    users: Sequence[str] = (),
    local_model: bool = False,
    name: str = "parley",
) -> AsyncIterator[HttpServer]:
    """``parley serve`` on a free loopback port over ``data_dir`` (users are created first if asked).
    With the local model, it is ready once the model has loaded."""
    if users:
        await create_users(data_dir, users)
    argv = [_PARLEY, "serve", "--host=127.0.0.1", "--port=0"]
    env = parley_env(data_dir, upstream, local_model=local_model)
    async with service(name, argv, log_dir=log_dir, env=env, ready=rf"running on {_URL}") as (proc, found):
        if local_model:
            await proc.wait_for(r"loaded local model", max_seconds=120)
        yield HttpServer(found.group(1), proc)


@asynccontextmanager
async def uvicorn_app(
    log_dir: Path, name: str, app: str, *, env: dict[str, str] | None = None
) -> AsyncIterator[HttpServer]:
    """An ASGI app from ``bench/peers`` under uvicorn with its defaults (uvloop, httptools, websockets),
    the same stack ``parley serve`` runs on."""
    argv = [PYTHON, "-m", "uvicorn", app, "--host=127.0.0.1", "--port=0"]
    async with service(name, argv, log_dir=log_dir, env=clean_env(env or {}), ready=rf"running on {_URL}") as (
        proc,
        found,
    ):
        yield HttpServer(found.group(1), proc)


def passthrough_peer(log_dir: Path, upstream: Upstream) -> AbstractAsyncContextManager[HttpServer]:
    """The minimal relay of ``bench/peers/passthrough.py`` in front of ``upstream``."""
    env = {"BENCH_UPSTREAM_URL": upstream.base_url, "BENCH_UPSTREAM_KEY": API_KEY, "BENCH_UPSTREAM_MODEL": MODEL}
    return uvicorn_app(log_dir, "passthrough", "bench.peers.passthrough:app", env=env)


@asynccontextmanager
async def bare_ws_server(log_dir: Path) -> AsyncIterator[HttpServer]:
    """The ``websockets`` library's own server, holding connections and doing nothing else."""
    argv = [PYTHON, "-m", "bench.peers.ws_server"]
    ready = r"listening on ws://(127\.0\.0\.1:\d+)"
    async with service("bare-websockets", argv, log_dir=log_dir, env=clean_env({}), ready=ready) as (proc, found):
        yield HttpServer(f"http://{found.group(1)}", proc)
