"""8. The OpenAI-compatible endpoint: what ``POST /v1/chat/completions`` (streamed) adds through Parley, against
the fake upstream asked directly and against LiteLLM's proxy in front of the same upstream, in the same run.

Each request is a streamed chat completion with a key, as an OpenAI client sends it. The three targets take turns
in rounds, so drift on a shared machine touches all of them alike. Added milliseconds are a target's percentile
minus the upstream's percentile over the same rounds (time to first token, and the whole answer); throughput is
answers completed per second by a closed loop of many clients, as a ratio to the upstream's. The issue names
LiteLLM's overhead as the anchor (p50 2-12 ms added), so the aim is to add less than LiteLLM in the same run.
If LiteLLM cannot be installed or started, its figures say why and Parley's are still measured.
"""

from __future__ import annotations

import math
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager

import httpx

from bench.clients import ParleyClient, StreamTrace, chat_completions_prompt, http_client, upstream_prompt
from bench.harness import Benchmark, Context
from bench.litellm_peer import MASTER_KEY, PeerUnavailable, litellm_proxy
from bench.load import closed_loop
from bench.pace import StreamFn
from bench.peers.open_webui import wait_healthy
from bench.results import Figure, Report, Status
from bench.services import API_KEY, Upstream, create_users, fake_upstream, parley_server
from bench.stats import Summary, ratio
from bench.streams import ANSWER_TOKENS as PACE_TOKENS
from bench.streams import LADDER, Target, climb
from bench.versus_open_webui import MIB, PeakRss

# concurrency -> requests per client and target
SHAPES = {1: 45, 20: 9, 50: 6}
THROUGHPUT_CLIENTS, THROUGHPUT_SECONDS = 50, 8.0
ROUNDS = 3
ANSWER_TOKENS = 20
PROMPT = "How far away is the moon?"
UPSTREAM, PARLEY, LITELLM = "upstream", "Parley /v1", "LiteLLM proxy"

Step = Callable[[int], Awaitable[StreamTrace]]


async def run(ctx: Context, report: Report) -> None:
    async with AsyncExitStack() as stack:
        upstream = await stack.enter_async_context(fake_upstream(ctx.logs, tokens=ANSWER_TOKENS))
        server = await stack.enter_async_context(
            parley_server(ctx.logs, ctx.data_dir("parley"), upstream, users=["api0"])
        )
        http = await stack.enter_async_context(http_client())
        key = await _parley_key(http, server.base_url)
        targets: dict[str, Step] = {
            UPSTREAM: lambda _c: chat_completions_prompt(http, upstream.base_url, API_KEY, PROMPT),
            PARLEY: lambda _c: chat_completions_prompt(http, f"{server.base_url}/v1", key, PROMPT),
        }
        litellm_why = ""
        try:
            peer = await stack.enter_async_context(litellm_proxy(ctx.logs, ctx.data_dir("litellm"), upstream))
            targets[LITELLM] = lambda _c: chat_completions_prompt(http, peer.base_url, MASTER_KEY, PROMPT)
        except PeerUnavailable as why:
            litellm_why = str(why)
            report.add(Figure.unavailable(f"{LITELLM} (the reference)", litellm_why))

        for step in targets.values():  # warm-up: connection pools, the key's first use, LiteLLM's router
            await closed_loop(4, 3, 30, step)
        servers = {PARLEY: server} | ({LITELLM: peer} if not litellm_why else {})
        idle = {name: served.service.rss_bytes() for name, served in servers.items()}
        peaks = PeakRss({name: served.service for name, served in servers.items()})
        for concurrency, per_client in SHAPES.items():
            async with peaks.sampling() if concurrency == max(SHAPES) else _not_sampling():
                traces = await _interleaved(targets, concurrency, per_client, ctx)
            _judge_latency(report, concurrency, traces)
        await _throughput(report, targets, ctx)
        if not litellm_why:
            _memory(report, idle, peaks.peaks)
    if not litellm_why:
        await _startup_and_pace(report, ctx)
    why_no_history = "LiteLLM's proxy keeps no conversations: there are none to list or open (Parley's are in 3)"
    report.add(
        Figure.unavailable(
            "list a page of chats / open one, 10,000 stored (vs LiteLLM)", why_no_history, status=Status.INFO
        )
    )
    report.note(
        f"Fake upstream: first token after {upstream.first_token_delay * 1000:.0f} ms, then one every "
        f"{upstream.token_delay * 1000:.0f} ms, {ANSWER_TOKENS} tokens an answer. Streamed chat completions with a "
        f"key (Parley: a user's API key; LiteLLM {_litellm_version()}: its master key, no database). Targets take "
        f"turns in {ROUNDS} rounds. Added ms = the target's percentile minus the upstream's. Throughput: "
        f"{THROUGHPUT_CLIENTS} clients for {THROUGHPUT_SECONDS:g} s each, answers completed per second."
        + (f" LiteLLM was not measured: {litellm_why}" if litellm_why else "")
    )


@asynccontextmanager
async def _not_sampling() -> AsyncIterator[None]:
    yield


def _versus(
    label: str, ours: float, theirs: float, unit: str, *, higher_is_better: bool = False, detail: str = ""
) -> Figure:
    share = ratio(ours, theirs)
    return Figure.judged(
        label,
        ours,
        unit,
        baseline_label=LITELLM,
        baseline=theirs,
        ratio=share,
        aim="Parley ahead (ratio > 1)" if higher_is_better else "Parley ahead (ratio < 1)",
        met=not math.isnan(share) and (share > 1 if higher_is_better else share < 1),
        detail=detail,
    )


def _memory(report: Report, idle: dict[str, int], peaks: dict[str, int]) -> None:
    report.data["rss_bytes"] = {"idle": idle, "peak_at_50": peaks}
    report.add(_versus("RSS idle (vs LiteLLM)", idle[PARLEY] / MIB, idle[LITELLM] / MIB, "MiB", detail="after warm-up"))
    report.add(
        _versus(
            f"RSS under {max(SHAPES)} streams, peak (vs LiteLLM)",
            peaks[PARLEY] / MIB,
            peaks[LITELLM] / MIB,
            "MiB",
            detail="sampled every 100 ms during the 50-stream rounds",
        )
    )


async def _startup_and_pace(report: Report, ctx: Context) -> None:
    """Fresh servers in front of an upstream answering PACE_TOKENS tokens: time from process start to the first
    answered health check, then the most simultaneous streams each keeps at the upstream's pace (the *keeping
    pace* test of benchmark 2), taking turns up the same ladder."""
    async with AsyncExitStack() as stack:
        upstream = await stack.enter_async_context(fake_upstream(ctx.logs, tokens=PACE_TOKENS))
        http = await stack.enter_async_context(http_client())
        data_dir = ctx.data_dir("parley-pace")
        await create_users(data_dir, ["api0"])  # before the clock starts: an account is not start-up
        started = time.perf_counter()
        server = await stack.enter_async_context(parley_server(ctx.logs, data_dir, upstream, name="parley-pace"))
        parley_ready = await wait_healthy(http, server, "/api/health") - started
        started = time.perf_counter()
        peer = await stack.enter_async_context(litellm_proxy(ctx.logs, ctx.data_dir("litellm-pace"), upstream))
        litellm_ready = await wait_healthy(http, peer, "/health/liveliness") - started
        report.add(
            _versus(
                "start-up to the first answered request (vs LiteLLM)",
                parley_ready,
                litellm_ready,
                "s",
                detail="process start to 200 from the health route",
            )
        )
        key = await _parley_key(http, server.base_url)
        ours = Target(PARLEY, server.service, _completions(http, f"{server.base_url}/v1", key))
        theirs = Target(LITELLM, peer.service, _completions(http, peer.base_url, MASTER_KEY))
        await climb([ours, theirs], _probe(http, upstream), ctx, LADDER[:-2] if ctx.quick else LADDER)
    for target in (ours, theirs):
        report.data[f"{target.name} levels"] = [level.to_dict() for level in target.levels]
    report.add(
        _versus(
            "streams kept at pace (vs LiteLLM)",
            ours.capacity,
            theirs.capacity,
            "streams",
            higher_is_better=True,
            detail=f"Parley {ours.capacity_text()}, LiteLLM {theirs.capacity_text()}; {PACE_TOKENS}-token answers",
        )
    )
    kept = {lv.streams for lv in ours.levels if lv.kept_pace} & {lv.streams for lv in theirs.levels if lv.kept_pace}
    if not kept:
        why = "no level of the ladder kept pace on both, so there is no like-for-like load to compare"
        report.add(Figure.unavailable("CPU-s per 1,000 tokens (vs LiteLLM)", why, status=Status.MISSED))
        return
    mine, peer_level = ours.kept(max(kept)), theirs.kept(max(kept))
    assert mine is not None and peer_level is not None
    report.add(
        _versus(
            f"CPU-s per 1,000 tokens at {mine.streams} streams (vs LiteLLM)",
            mine.cpu_per_1000_tokens,
            peer_level.cpu_per_1000_tokens,
            "s",
            detail="server process (and its children) only",
        )
    )


def _completions(http: httpx.AsyncClient, base_url: str, key: str) -> Callable[[int], Awaitable[StreamFn]]:
    async def open_streams(_streams: int) -> StreamFn:
        return lambda _index: chat_completions_prompt(http, base_url, key, PROMPT)

    return open_streams


def _probe(http: httpx.AsyncClient, upstream: Upstream) -> StreamFn:
    return lambda _index: upstream_prompt(http, upstream.base_url, PROMPT)


def _litellm_version() -> str:
    from bench.peers.registry import LITELLM_VERSION

    return LITELLM_VERSION


async def _parley_key(http: httpx.AsyncClient, base_url: str) -> str:
    token = await ParleyClient(http, base_url).login("api0")
    response = await http.post(
        f"{base_url}/api/keys", json={"name": "bench"}, headers={"Authorization": f"Bearer {token}"}
    )
    response.raise_for_status()
    key: str = response.json()["key"]
    return key


async def _interleaved(
    targets: dict[str, Step], concurrency: int, per_client: int, ctx: Context
) -> dict[str, list[StreamTrace]]:
    traces: dict[str, list[StreamTrace]] = {name: [] for name in targets}
    pause = 0.05 if concurrency > 1 else 0.0
    for _ in range(ROUNDS):
        for name, step in targets.items():
            traces[name] += await closed_loop(concurrency, per_client // ROUNDS, 60, step, pause=pause, rng=ctx.rng)
    return traces


def _ms(traces: list[StreamTrace], what: Callable[[StreamTrace], float | None]) -> Summary:
    values = [what(trace) for trace in traces if trace.ok]
    return Summary.of([value * 1000 for value in values if value is not None])


def _total(trace: StreamTrace) -> float | None:
    return trace.done - trace.sent if trace.done is not None else None


def _judge_latency(report: Report, concurrency: int, traces: dict[str, list[StreamTrace]]) -> None:
    streams = "1 stream" if concurrency == 1 else f"{concurrency} streams"
    base_ttft = _ms(traces[UPSTREAM], lambda t: t.ttft)
    base_total = _ms(traces[UPSTREAM], _total)
    added: dict[str, dict[str, float]] = {}
    report.data[f"at_{concurrency}"] = {
        name: {"ttft_ms": _ms(t, lambda t: t.ttft).to_dict(), "total_ms": _ms(t, _total).to_dict()}
        for name, t in traces.items()
    }
    for name in (PARLEY, LITELLM):
        if name not in traces:
            continue
        failed = sum(not trace.ok for trace in traces[name])
        ttft, total = _ms(traces[name], lambda t: t.ttft), _ms(traces[name], _total)
        added[name] = {"p50": ttft.p50 - base_ttft.p50, "p99": ttft.p99 - base_ttft.p99}
        detail = f"n={ttft.n}" + (f", {failed} failed" if failed else "")
        for label, value, base in (("p50", ttft.p50, base_ttft.p50), ("p99", ttft.p99, base_ttft.p99)):
            report.add(
                Figure(
                    f"{name} added TTFT {label}, {streams}",
                    value - base,
                    "ms",
                    f"upstream TTFT {label}",
                    base,
                    ratio(value, base),
                    status=Status.INFO,
                    detail=detail + ("" if name == PARLEY else "; reference"),
                )
            )
        report.add(
            Figure(
                f"{name} added total time p50, {streams}",
                total.p50 - base_total.p50,
                "ms",
                "upstream total time p50",
                base_total.p50,
                ratio(total.p50, base_total.p50),
                status=Status.INFO,
                detail=detail,
            )
        )
    if PARLEY in added and LITELLM in added:
        for label in ("p50", "p99"):
            ours, theirs = added[PARLEY][label], added[LITELLM][label]
            report.add(
                Figure.judged(
                    f"Parley's added TTFT {label} vs LiteLLM's, {streams}",
                    ours,
                    "ms",
                    baseline_label=f"LiteLLM added TTFT {label}",
                    baseline=theirs,
                    ratio=ratio(ours, theirs),
                    aim="less than LiteLLM adds",
                    met=ours < theirs and not any(not t.ok for t in traces[PARLEY]),
                )
            )


async def _throughput(report: Report, targets: dict[str, Step], ctx: Context) -> None:
    rates: dict[str, float] = {}
    for name, step in targets.items():
        started = time.perf_counter()
        traces = await closed_loop(THROUGHPUT_CLIENTS, 10_000, THROUGHPUT_SECONDS, step, rng=ctx.rng)
        elapsed = time.perf_counter() - started
        rates[name] = sum(trace.ok for trace in traces) / elapsed
    report.data["answers_per_second"] = rates
    for name in (PARLEY, LITELLM):
        if name in rates:
            report.add(
                Figure(
                    f"{name} throughput, {THROUGHPUT_CLIENTS} clients",
                    rates[name],
                    "answers/s",
                    "upstream answers/s",
                    rates[UPSTREAM],
                    ratio(rates[name], rates[UPSTREAM]),
                    status=Status.INFO,
                    detail="higher is better; the upstream's pace bounds it",
                )
            )


BENCHMARK = Benchmark(8, "openai_api", "OpenAI-compatible endpoint: added latency and throughput", run, 900)
