"""6. Memory: resident memory of an idle ``parley serve`` (without the local model, and with it loaded)
against a hello-world ASGI app under uvicorn; and the memory each idle WebSocket costs across 2,000 of
them, against the ``websockets`` library's bare server holding as many.

Idle means started, one request served, then left alone for a moment. Per connection is the growth of
the server's resident memory from before the 2,000 connections open to after, divided by 2,000.
Clients negotiate permessage-deflate, as browsers do.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from websockets.asyncio.client import ClientConnection

from bench.clients import ParleyClient, SocketPool, http_client, open_ws
from bench.harness import Benchmark, Context
from bench.procs import Service
from bench.results import Figure, Report
from bench.services import HttpServer, bare_ws_server, fake_upstream, parley_server, uvicorn_app
from bench.stats import ratio

CONNECTIONS = 2000
SETTLE_SECONDS = 1.0
MIB = 1024 * 1024


async def idle_rss(server: HttpServer, path: str) -> int:
    async with http_client() as http:
        (await http.get(server.base_url + path)).raise_for_status()
    await asyncio.sleep(SETTLE_SECONDS)
    return server.service.rss_bytes()


async def per_connection(service: Service, opener: Callable[[], Awaitable[ClientConnection]]) -> float:
    """Bytes of server memory per idle WebSocket, over CONNECTIONS of them."""
    await asyncio.sleep(SETTLE_SECONDS)
    before = service.rss_bytes()
    async with SocketPool(opener, concurrency=64) as pool:
        await pool.grow(CONNECTIONS)
        await asyncio.sleep(SETTLE_SECONDS)
        after = service.rss_bytes()
    return (after - before) / CONNECTIONS


async def run(ctx: Context, report: Report) -> None:
    from parley.core.providers.local import find_model_file
    from parley.errors import ConfigError

    async with uvicorn_app(ctx.logs, "hello", "bench.peers.hello:app") as hello:
        floor = await idle_rss(hello, "/")
    async with (
        fake_upstream(ctx.logs, tokens=3) as upstream,
        parley_server(ctx.logs, ctx.data_dir("parley"), upstream, users=["idler"]) as server,
        http_client() as http,
    ):
        without_model = await idle_rss(server, "/api/health")
        parley = ParleyClient(http, server.base_url)
        token = await parley.login("idler")
        parley_conn = await per_connection(server.service, lambda: parley.connect(token))
    async with bare_ws_server(ctx.logs) as bare:
        bare_conn = await per_connection(bare.service, lambda: open_ws(bare.ws_url))

    _rss_figure(report, "idle parley serve, no local model", without_model, floor)
    try:
        find_model_file()
    except ConfigError as exc:
        report.add(Figure.unavailable("idle parley serve, local model loaded", exc.message))
    else:
        async with parley_server(ctx.logs, ctx.data_dir("parley-local"), None, local_model=True) as local:
            _rss_figure(report, "idle parley serve, local model loaded", await idle_rss(local, "/api/health"), floor)
    report.add(
        Figure(
            f"memory per idle WebSocket ({CONNECTIONS:,} open)",
            parley_conn / 1024,
            "KiB",
            "bare websockets server",
            bare_conn / 1024,
            ratio(parley_conn, bare_conn),
        )
    )
    report.data |= {
        "hello_rss_bytes": floor,
        "parley_rss_bytes": without_model,
        "parley_bytes_per_connection": parley_conn,
        "bare_bytes_per_connection": bare_conn,
    }
    report.note("No aim is set for memory: these figures are for reading, and for noticing when they grow.")


def _rss_figure(report: Report, label: str, rss: int, floor: int) -> None:
    report.data[f"{label} rss_bytes"] = rss
    report.add(Figure(f"RSS of {label}", rss / MIB, "MiB", "hello-world uvicorn app", floor / MIB, ratio(rss, floor)))


BENCHMARK = Benchmark(6, "memory", "Memory", run, budget_seconds=180)
