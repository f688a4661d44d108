"""LiteLLM's proxy (``litellm[proxy]`` from PyPI) as a peer in front of the same fake upstream: the reference for
what an OpenAI-compatible proxy adds. It lives in its own virtualenv under ~/.cache/parley/bench-peers/litellm
(``bench.peer_env``, as every peer's: made on first use or by ``make bench-peers``), never in Parley's; it runs
offline on loopback (no telemetry, the bundled model cost map instead of the one it would download, no database)."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx

from bench import peer_env
from bench.peers.registry import LITELLM
from bench.procs import service
from bench.services import API_KEY, MODEL, HttpServer, Upstream

MASTER_KEY = "sk-litellm-bench"  # a throwaway proxy's key, on loopback
_READY = r"Uvicorn running on (http://127\.0\.0\.1:\d+)"


class PeerUnavailable(RuntimeError):
    """The peer could not be installed or started; the message says why (it goes into the results)."""


async def ensure_installed() -> Path:
    """The peer's ``litellm`` command, from its own environment (``bench.peer_env``, installed first if needed)."""
    try:
        env = await asyncio.to_thread(peer_env.ensure, LITELLM)
    except (peer_env.PeerEnvError, subprocess.CalledProcessError) as exc:
        raise PeerUnavailable(f"could not install {' '.join(LITELLM.packages)}: {exc}") from None
    command = env.bin("litellm")
    if not command.exists():
        raise PeerUnavailable(f"{' '.join(LITELLM.packages)} installed no `litellm` command")
    return command


def _write_config(workdir: Path, upstream: Upstream) -> Path:
    workdir.mkdir(parents=True, exist_ok=True)
    route = {"model": f"openai/{MODEL}", "api_base": upstream.base_url, "api_key": API_KEY}
    config = workdir / "litellm.json"  # YAML is a superset of JSON
    config.write_text(
        json.dumps(
            {
                "model_list": [{"model_name": MODEL, "litellm_params": route}],
                "general_settings": {"master_key": MASTER_KEY},
                "litellm_settings": {"telemetry": False, "drop_params": True},
            }
        )
    )
    return config


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@asynccontextmanager
async def litellm_proxy(log_dir: Path, workdir: Path, upstream: Upstream) -> AsyncIterator[HttpServer]:
    """The proxy on a free loopback port, routing ``MODEL`` to ``upstream``; PeerUnavailable if it cannot run."""
    command = await ensure_installed()
    config = await asyncio.to_thread(_write_config, workdir, upstream)
    port = _free_port()
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(workdir),
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",
        "LITELLM_TELEMETRY": "False",
        "PYTHONUNBUFFERED": "1",
        "NO_PROXY": "127.0.0.1,localhost",
    }
    argv = [str(command), "--config", str(config), "--host", "127.0.0.1", "--port", str(port), "--num_workers", "1"]
    started = False
    try:
        async with service("litellm", argv, log_dir=log_dir, env=env, ready=_READY, ready_seconds=120) as (proc, _):
            base = f"http://127.0.0.1:{port}"
            await _wait_ready(base)
            started = True
            yield HttpServer(base, proc)
    except PeerUnavailable:
        raise
    except Exception as exc:
        if started:  # it ran, and something failed while it was measured: not a reason to skip it
            raise
        log = log_dir / "litellm.log"
        tail = log.read_text(errors="replace").strip().splitlines()[-1:] if log.exists() else []
        raise PeerUnavailable(f"litellm did not start ({type(exc).__name__}): {' '.join(tail)[:200]}") from exc


async def _wait_ready(base: str) -> None:
    async with httpx.AsyncClient(timeout=5) as http:
        for _ in range(100):
            try:
                if (await http.get(f"{base}/health/liveliness")).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.2)
    raise PeerUnavailable("litellm's /health/liveliness never answered")
