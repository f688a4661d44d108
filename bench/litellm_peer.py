"""LiteLLM's proxy (``litellm[proxy]`` from PyPI) as a peer in front of the same fake upstream: the reference for
what an OpenAI-compatible proxy adds. It lives in its own virtualenv under ~/.cache/parley/bench-peers/litellm,
made by the benchmark on first use, never in Parley's; it runs offline on loopback (no telemetry, the bundled model
cost map instead of the one it would download, no database)."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx

from bench.procs import service
from bench.services import API_KEY, MODEL, HttpServer, Upstream

# The newest whose `proxy` extra installs from PyPI alone (later ones need a separate `litellm-proxy` package).
VERSION = "1.108.0"
HOME = Path.home() / ".cache" / "parley" / "bench-peers" / "litellm"
MASTER_KEY = "sk-litellm-bench"  # a throwaway proxy's key, on loopback
INSTALL_SECONDS = 900
_REQUIREMENT = f"litellm[proxy]=={VERSION}"
_READY = r"Uvicorn running on (http://127\.0\.0\.1:\d+)"


class PeerUnavailable(RuntimeError):
    """The peer could not be installed or started; the message says why (it goes into the results)."""


def _python() -> Path:
    return HOME / "bin" / "python"


async def ensure_installed() -> Path:
    """The peer's ``litellm`` command, installing it first if needed."""
    command = HOME / "bin" / "litellm"
    if command.exists():
        return command
    print(f"  installing litellm[proxy]=={VERSION} into {HOME} (once)", flush=True)
    HOME.parent.mkdir(parents=True, exist_ok=True)
    steps = [
        [sys.executable, "-m", "venv", str(HOME)],
        [str(_python()), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", _REQUIREMENT],
    ]
    for argv in steps:
        process = await asyncio.create_subprocess_exec(
            *argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
        )
        try:
            out, _ = await asyncio.wait_for(process.communicate(), INSTALL_SECONDS)
        except TimeoutError:
            process.kill()
            raise PeerUnavailable(f"installing litellm[proxy] took over {INSTALL_SECONDS} s") from None
        if process.returncode != 0:
            tail = out.decode(errors="replace").strip().splitlines()[-1:] or ["(no output)"]
            raise PeerUnavailable(f"could not install litellm[proxy]=={VERSION}: {tail[0][:200]}")
    if not command.exists():
        raise PeerUnavailable("litellm[proxy] installed no `litellm` command")
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
