"""Parley against Open WebUI, in the same run, in front of the same fake upstream (``make bench-peers``).

Every figure is Parley's next to Open WebUI's, the ratio Parley / Open WebUI. Both are driven through
their own APIs as their users call them: Parley through ``/api/chat`` (SSE) and its WebSocket, logged in;
Open WebUI through ``POST /api/chat/completions`` with its session token. One run goes:

1. both servers start (Parley with its users, Open WebUI fresh, offline: ``bench.peers.open_webui``);
   idle resident memory after one request;
2. added time to first token at 1 and 50 concurrent streams, the modes (upstream direct, Parley
   WebSocket, Parley SSE, Open WebUI) taking turns in rounds; peak resident memory during the 50-stream turns;
3. the most simultaneous streams kept at the upstream's pace, both climbing the same ladder in turns
   (``bench.streams``), and CPU-seconds per 1,000 tokens at the largest level both kept;
4. 10,000 chats of 4 messages: written into Parley's database by ``bench.seed``, imported into Open WebUI
   through ``POST /api/v1/chats/import`` (its export format); both servers are then restarted over those
   data directories, which times start-up to the first answered request; then listing a page of 60 and
   opening a chat, requests alternating between the servers.
"""

from __future__ import annotations

import asyncio
import itertools
import math
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection

from bench import seed as seeding
from bench.clients import ParleyClient, SocketPool, StreamTrace, http_client, upstream_prompt, ws_prompt
from bench.harness import Benchmark, Context
from bench.load import closed_loop, sampled, timed
from bench.pace import Level, StreamFn
from bench.peer_env import PeerEnv, environment
from bench.peers.open_webui import (
    CHAT_PAGE,
    OFFLINE_SETTINGS,
    OpenWebUIClient,
    open_webui_server,
    wait_healthy,
)
from bench.peers.open_webui_export import export_chat
from bench.peers.registry import OPEN_WEBUI
from bench.procs import Service
from bench.results import Figure, Report, Status
from bench.services import MODEL, HttpServer, Upstream, fake_upstream, parley_server, stream_users
from bench.stats import Summary, ratio
from bench.streams import LADDER, Target, climb, socket_streams

PEER = "Open WebUI"
PROMPT = "How far away is the moon?"
AIM = "Parley ahead (ratio < 1)"
AIM_HIGHER = "Parley ahead (ratio > 1)"


@dataclass(frozen=True)
class Plan:
    """How much work a run does; ``quick`` is for checking the harness end to end, not for figures."""

    ttft: dict[int, tuple[int, int]]  # concurrency → (prompts per simulated user and mode, tokens per answer)
    rounds: int
    ladder: tuple[int, ...]
    chats: int
    samples: int

    @classmethod
    def of(cls, quick: bool) -> Plan:
        if quick:
            return cls(ttft={1: (12, 3), 50: (2, 50)}, rounds=2, ladder=(10, 22, 50), chats=10_000, samples=40)
        return cls(ttft={1: (60, 3), 50: (6, 50)}, rounds=3, ladder=LADDER, chats=10_000, samples=200)


STREAM_TOKENS = 100  # the streams climb: two seconds per stream at 50 tokens/s
# Open WebUI's import commits each message on its own (about 3 ms each here, growing with the table): 10,000 chats
# of 20 messages would take most of an hour to import, so both sides store 10,000 chats of 4 messages.
CHAT_MESSAGES = 4
MIB = 1024 * 1024


@dataclass(frozen=True)
class Both:
    """The two servers under test, running side by side, with a logged-in client for each."""

    http: httpx.AsyncClient
    upstream: Upstream
    parley: ParleyClient
    tokens: list[str]  # Parley session tokens, one per account
    owui: OpenWebUIClient
    parley_http: HttpServer
    owui_http: HttpServer


@dataclass
class PeakRss:
    """The largest resident memory of each server seen while it is being sampled."""

    services: dict[str, Service]
    peaks: dict[str, int] = field(default_factory=dict)

    @asynccontextmanager
    async def sampling(self, every: float = 0.1) -> AsyncIterator[None]:
        async def sample() -> None:
            while True:
                for name, service in self.services.items():
                    self.peaks[name] = max(self.peaks.get(name, 0), service.rss_bytes())
                await asyncio.sleep(every)

        task = asyncio.create_task(sample())
        try:
            yield
        finally:
            task.cancel()


async def run(ctx: Context, report: Report) -> None:
    plan = Plan.of(ctx.quick)
    peer = environment(OPEN_WEBUI)
    if not peer.installed():
        report.add(Figure.unavailable(PEER, f"not installed: run `make bench-peers` (installs into {peer.path})"))
        return
    version = await asyncio.to_thread(peer.version)
    report.data["open_webui"] = {"version": version, "venv": str(peer.path), "settings": OFFLINE_SETTINGS}
    workers = max(plan.ttft)
    names = stream_users("peer", max(max(plan.ladder), workers))
    async with (
        fake_upstream(ctx.logs, tokens=STREAM_TOKENS) as upstream,
        http_client() as http,
    ):
        async with (
            parley_server(ctx.logs, ctx.data_dir("parley"), upstream, users=names) as parley_http,
            open_webui_server(peer, ctx.logs, ctx.data_dir("open-webui"), upstream) as owui_http,
        ):
            await wait_healthy(http, owui_http, "/health")
            parley = ParleyClient(http, parley_http.base_url)
            owui = OpenWebUIClient(http, owui_http.base_url)
            await owui.sign_in()
            if "fake-model" not in await owui.models():
                raise RuntimeError("Open WebUI does not list the fake upstream's model")
            tokens = list(await asyncio.gather(*(parley.login(name) for name in names)))
            await _idle_memory(report, http, parley_http, owui_http)
            both = Both(http, upstream, parley, tokens, owui, parley_http, owui_http)
            await _ttft(report, ctx, plan, both)
            await _streams(report, ctx, plan, both)
        await _history(report, ctx, plan, http, upstream, peer)
    report.note(
        f"Open WebUI {version} from PyPI in its own virtualenv ({peer.path}), `open-webui serve` (one uvicorn "
        "worker, SQLite in DATA_DIR), signed in as the admin created from WEBUI_ADMIN_EMAIL/PASSWORD; offline "
        "settings: " + ", ".join(f"{k}={v}" for k, v in OFFLINE_SETTINGS.items() if v) + "."
    )
    report.note(
        "Fake upstream: first token after 200 ms, then one every 20 ms. Ratios are Parley / Open WebUI: below 1 "
        "Parley is faster or smaller, except for streams kept at pace, where above 1 is better. Every Parley "
        "answer is saved as a conversation; Open WebUI's API call without chat_id saves nothing. A negative "
        "added TTFT is noise (below the upstream's own percentile) and makes its ratio meaningless."
    )


def _versus(
    label: str, ours: float, theirs: float, unit: str, *, higher_is_better: bool = False, detail: str = ""
) -> Figure:
    share = ratio(ours, theirs)
    met = share > 1 if higher_is_better else share < 1
    return Figure.judged(
        label,
        ours,
        unit,
        baseline_label=PEER,
        baseline=theirs,
        ratio=share,
        aim=AIM_HIGHER if higher_is_better else AIM,
        met=not math.isnan(share) and met,
        detail=detail,
    )


async def _idle_memory(report: Report, http: httpx.AsyncClient, parley: HttpServer, owui: HttpServer) -> None:
    for server, path in ((parley, "/api/health"), (owui, "/health")):
        (await http.get(server.base_url + path)).raise_for_status()
    await asyncio.sleep(2.0)
    ours, theirs = parley.service.rss_bytes(), owui.service.rss_bytes()
    report.data["idle_rss_bytes"] = {"parley": ours, "open_webui": theirs}
    report.add(_versus("RSS idle", ours / MIB, theirs / MIB, "MiB", detail="after one request"))


Step = Callable[[int], Awaitable[StreamTrace]]


async def _ttft(report: Report, ctx: Context, plan: Plan, both: Both) -> None:
    http, upstream, parley, tokens, owui = both.http, both.upstream, both.parley, both.tokens, both.owui
    parley_http, owui_http = both.parley_http, both.owui_http
    workers = max(plan.ttft)
    # One socket per simulated user; the users' accounts are shared within Parley's cap on answers per account.
    sockets = list(await asyncio.gather(*(parley.connect(tokens[i % len(tokens)]) for i in range(workers))))
    peaks = PeakRss({"parley": parley_http.service, "open_webui": owui_http.service})
    try:
        for concurrency, (per_worker, answer_tokens) in [(1, (2, 1)), *plan.ttft.items()]:  # the first: warm-up
            modes = _ttft_modes(http, upstream, parley, tokens, sockets, owui, answer_tokens)
            warm_up = answer_tokens == 1
            traces: dict[str, list[StreamTrace]] = {name: [] for name in modes}
            pause = 0.05 if concurrency > 1 else 0.0
            rounds = 1 if warm_up else plan.rounds
            for _ in range(rounds):
                for name, step in modes.items():
                    async with peaks.sampling() if concurrency == workers else _nothing():
                        traces[name] += await closed_loop(
                            concurrency, max(1, per_worker // rounds), 120, step, pause=pause, rng=ctx.rng
                        )
            if not warm_up:
                _judge_ttft(report, concurrency, traces)
    finally:
        await asyncio.gather(*(ws.close() for ws in sockets), return_exceptions=True)
    report.data["peak_rss_bytes_at_50_streams"] = peaks.peaks
    report.add(
        _versus(
            f"RSS under {workers} streams (peak)",
            peaks.peaks["parley"] / MIB,
            peaks.peaks["open_webui"] / MIB,
            "MiB",
            detail="sampled every 100 ms during the TTFT turns at 50 streams",
        )
    )


def _ttft_modes(
    http: httpx.AsyncClient,
    upstream: Upstream,
    parley: ParleyClient,
    tokens: list[str],
    sockets: list[ClientConnection],
    owui: OpenWebUIClient,
    answer_tokens: int,
) -> dict[str, Step]:
    params = {"max_tokens": answer_tokens}

    def direct(_user: int) -> Awaitable[StreamTrace]:
        return upstream_prompt(http, upstream.base_url, PROMPT, max_tokens=answer_tokens)

    def websocket(user: int) -> Awaitable[StreamTrace]:
        return ws_prompt(sockets[user], PROMPT, params=params)

    def sse(user: int) -> Awaitable[StreamTrace]:
        return parley.sse_prompt(tokens[user % len(tokens)], PROMPT, params=params)

    def open_webui(_user: int) -> Awaitable[StreamTrace]:
        return owui.chat(PROMPT, max_tokens=answer_tokens)

    return {"upstream": direct, "WebSocket": websocket, "SSE": sse, PEER: open_webui}


@asynccontextmanager
async def _nothing() -> AsyncIterator[None]:
    yield


def _ttfts_ms(traces: list[StreamTrace]) -> list[float]:
    return [trace.ttft * 1000 for trace in traces if trace.ok and trace.ttft is not None]


def _judge_ttft(report: Report, concurrency: int, traces: dict[str, list[StreamTrace]]) -> None:
    summaries = {name: Summary.of(_ttfts_ms(t)) for name, t in traces.items()}
    failed = {name: sum(not t.ok for t in ts) for name, ts in traces.items()}
    report.data[f"ttft_ms_at_{concurrency}"] = {name: s.to_dict() for name, s in summaries.items()}
    report.data[f"failed_at_{concurrency}"] = failed
    upstream, theirs = summaries["upstream"], summaries[PEER]
    streams = "1 stream" if concurrency == 1 else f"{concurrency} streams"
    for name in ("WebSocket", "SSE"):
        ours = summaries[name]
        for label in ("p50", "p99"):
            base = getattr(upstream, label)
            detail = f"added ms over the upstream's {label} ({base:.0f} ms); n={ours.n}/{theirs.n}" + (
                f"; failed: Parley {failed[name]}, Open WebUI {failed[PEER]}" if failed[name] or failed[PEER] else ""
            )
            report.add(
                _versus(
                    f"{name} added TTFT {label}, {streams}",
                    getattr(ours, label) - base,
                    getattr(theirs, label) - base,
                    "ms",
                    detail=detail,
                )
            )


async def _streams(report: Report, ctx: Context, plan: Plan, both: Both) -> None:
    http, upstream, parley, tokens, owui = both.http, both.upstream, both.parley, both.tokens, both.owui
    parley_http, owui_http = both.parley_http, both.owui_http

    async def owui_streams(_streams: int) -> StreamFn:
        return lambda _index: owui.chat(PROMPT)

    async def sse_streams(_streams: int) -> StreamFn:
        return lambda index: parley.sse_prompt(tokens[index % len(tokens)], PROMPT)

    cycle = itertools.cycle(tokens)
    async with SocketPool(lambda: parley.connect(next(cycle))) as pool:
        websocket = Target("Parley WebSocket", parley_http.service, socket_streams(pool, PROMPT))
        sse = Target("Parley SSE", parley_http.service, sse_streams)
        theirs = Target(PEER, owui_http.service, owui_streams)
        probe = lambda _i: upstream_prompt(http, upstream.base_url, PROMPT)  # noqa: E731 - the levels' baseline
        await climb([websocket, sse, theirs], probe, ctx, plan.ladder)
    for target in (websocket, sse, theirs):
        report.data[f"{target.name} levels"] = [level.to_dict() for level in target.levels]
    for ours in (websocket, sse):
        transport = ours.name.removeprefix("Parley ")
        report.add(
            _versus(
                f"{transport}: streams kept at pace",
                ours.capacity,
                theirs.capacity,
                "streams",
                higher_is_better=True,
                detail=f"Parley {ours.capacity_text()}, Open WebUI {theirs.capacity_text()}",
            )
        )
        common = _largest_common(ours, theirs)
        if common is None:
            why = "no level of the ladder kept pace on both, so there is no like-for-like load to compare"
            report.add(Figure.unavailable(f"{transport}: CPU-s per 1,000 tokens", why, status=Status.MISSED))
            continue
        mine, peer = common
        report.add(
            _versus(
                f"{transport}: CPU-s per 1,000 tokens at {mine.streams} streams",
                mine.cpu_per_1000_tokens,
                peer.cpu_per_1000_tokens,
                "s",
                detail="server process (and its children) only",
            )
        )


def _largest_common(ours: Target, theirs: Target) -> tuple[Level, Level] | None:
    kept = {lv.streams for lv in ours.levels if lv.kept_pace} & {lv.streams for lv in theirs.levels if lv.kept_pace}
    if not kept:
        return None
    streams = max(kept)
    mine, peer = ours.kept(streams), theirs.kept(streams)
    assert mine is not None and peer is not None
    return mine, peer


def open_webui_chats(count: int, ctx: Context) -> list[dict[str, Any]]:
    """``count`` chats of CHAT_MESSAGES messages in Open WebUI's export format, texts as ``bench.seed`` writes."""
    texts = [seeding.random_text(ctx.rng, ctx.rng.randint(20, 150)) for _ in range(500)]
    now = int(time.time()) - count * 60
    chats = []
    for index in range(count):
        turns = [
            ("user" if i % 2 == 0 else "assistant", texts[(index * 7 + i) % len(texts)]) for i in range(CHAT_MESSAGES)
        ]
        chats.append(export_chat(f"Conversation {index}", turns, now + index * 60, model=MODEL))
    return chats


async def _history(
    report: Report, ctx: Context, plan: Plan, http: httpx.AsyncClient, upstream: Upstream, peer: PeerEnv
) -> None:
    owui_dir = ctx.data_dir("open-webui")  # the one started above: its admin exists
    shape = seeding.Shape(conversations=plan.chats, messages_each=CHAT_MESSAGES)
    seeded = await seeding.seed(ctx.data_dir("parley-history"), shape, ctx.rng)
    async with open_webui_server(peer, ctx.logs, owui_dir, upstream, name="open-webui-import") as owui_http:
        await wait_healthy(http, owui_http, "/health")
        owui = OpenWebUIClient(http, owui_http.base_url)
        await owui.sign_in()
        chats = await asyncio.to_thread(open_webui_chats, plan.chats, ctx)
        started = time.perf_counter()
        chat_ids = await owui.import_chats(chats)
        report.data["open_webui_import_seconds"] = time.perf_counter() - started

    spawned = time.perf_counter()
    async with parley_server(ctx.logs, ctx.data_dir("parley-history"), upstream, name="parley-history") as parley_http:
        parley_up = await wait_healthy(http, parley_http, "/api/health") - spawned
        spawned = time.perf_counter()
        async with open_webui_server(peer, ctx.logs, owui_dir, upstream, name="open-webui-history") as owui_http:
            owui_up = await wait_healthy(http, owui_http, "/health") - spawned
            report.add(
                _versus(
                    "start-up to the first answered request",
                    parley_up,
                    owui_up,
                    "s",
                    detail=f"process start to 200 from the health route, over {plan.chats:,} stored chats",
                )
            )
            parley = ParleyClient(http, parley_http.base_url)
            token = await parley.login(seeding.USER)
            owui = OpenWebUIClient(http, owui_http.base_url)
            await owui.sign_in()
            listed = await owui.list_page()
            if len(listed) != CHAT_PAGE:
                raise RuntimeError(f"Open WebUI listed {len(listed)} chats on page 1")
            operations = {
                f"list a page of {CHAT_PAGE} chats": (
                    timed(lambda _i: parley.get(f"/api/conversations?limit={CHAT_PAGE}", token)),
                    timed(lambda _i: owui.list_page()),
                ),
                f"open a chat of {CHAT_MESSAGES} messages": (
                    timed(lambda _i: parley.get(f"/api/conversations/{ctx.rng.choice(seeded.regular)}", token)),
                    timed(lambda _i: owui.open_chat(ctx.rng.choice(chat_ids))),
                ),
            }
            for label, (ours_op, theirs_op) in operations.items():
                await sampled(ours_op, 5, 10)  # warm-up
                await sampled(theirs_op, 5, 10)
                ours_ms: list[float] = []
                theirs_ms: list[float] = []
                deadline = time.monotonic() + 60
                for i in range(plan.samples):
                    if time.monotonic() >= deadline:
                        break
                    ours_ms.append(await ours_op(i) * 1000)
                    theirs_ms.append(await theirs_op(i) * 1000)
                ours, theirs = Summary.of(ours_ms), Summary.of(theirs_ms)
                report.data[f"{label} ms"] = {"parley": ours.to_dict(), "open_webui": theirs.to_dict()}
                report.add(
                    _versus(
                        f"{label}, p95 with {plan.chats:,} stored",
                        ours.p95,
                        theirs.p95,
                        "ms",
                        detail=f"p50 {ours.p50:.1f} vs {theirs.p50:.1f} ms; n={ours.n}, requests alternating",
                    )
                )


BENCHMARK = Benchmark(12, "open_webui", "Parley against Open WebUI", run, budget_seconds=2400)
