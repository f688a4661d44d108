"""1. Added time to first token: Parley's TTFT (WebSocket and SSE) against the fake upstream's own TTFT.

Every user has logged in; prompts continue that user's conversation for up to ten turns, then start a
new one, so the server authenticates each, reads the history, sends it to the model, and saves the user's
message and the answer as it goes, as for a real user. The same prompts go straight to the upstream as
the baseline, interleaved in rounds with Parley's so that drift on a shared machine touches both.
Added milliseconds are Parley's percentile minus the upstream's percentile. A minimal pass-through relay
runs the same rounds as a reference: what any Python relay adds on this machine under the same load.

At one stream the answers are 3 tokens (only the first one matters); at 50 streams they are 50 tokens
(one second at 50 tokens/s), so 50 answers are really streaming while the next prompts arrive.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace

import httpx
from websockets.asyncio.client import ClientConnection

from bench.clients import ParleyClient, StreamTrace, http_client, open_ws, upstream_prompt, ws_prompt
from bench.harness import Benchmark, Context
from bench.load import closed_loop
from bench.results import Figure, Report, Status
from bench.services import Upstream, fake_upstream, parley_server, passthrough_peer
from bench.stats import Summary, ratio

# concurrency → (prompts per simulated user and mode, tokens per answer)
SHAPES = {1: (60, 3), 50: (6, 50)}
ROUNDS = 3  # the modes take turns this many times
TURNS_PER_CONVERSATION = 10
PROMPT = "How far away is the moon?"
AIM_P50_MS, AIM_P99_MS = 5.0, 25.0
LOGIN_PATH_SAMPLES = 10
PEER = "pass-through peer"  # a minimal relay (bench/peers/passthrough.py): what any relay adds on this machine

Step = Callable[[int], Awaitable[StreamTrace]]


class _Users:
    """The logged-in users, one per concurrent stream, each with its open WebSocket and conversations."""

    def __init__(
        self, parley: ParleyClient, tokens: list[str], sockets: list[ClientConnection], peer: list[ClientConnection]
    ) -> None:
        self.parley = parley
        self.tokens = tokens
        self.sockets = sockets
        self.peer = peer  # the same users' sockets to the pass-through peer
        self._turns: dict[tuple[str, int], list[str | None]] = {}

    def continuing(self, mode: str, ask: Callable[[int, str | None], Awaitable[StreamTrace]]) -> Step:
        """Each user's prompts continue its conversation for TURNS_PER_CONVERSATION turns, then start anew."""

        async def step(user: int) -> StreamTrace:
            turns = self._turns.setdefault((mode, user), [])
            if len(turns) == TURNS_PER_CONVERSATION:
                turns.clear()
            trace = await ask(user, turns[-1] if turns else None)
            turns.append(trace.conversation_id)
            return trace

        return step

    def modes(self, http: httpx.AsyncClient, upstream: Upstream, max_tokens: int) -> dict[str, Step]:
        params = {"max_tokens": max_tokens}
        return {
            "upstream": lambda _user: upstream_prompt(http, upstream.base_url, PROMPT, max_tokens=max_tokens),
            PEER: lambda u: ws_prompt(self.peer[u], PROMPT, params=params),
            "WebSocket": self.continuing("ws", lambda u, conv: ws_prompt(self.sockets[u], PROMPT, conv, params=params)),
            "SSE": self.continuing(
                "sse", lambda u, conv: self.parley.sse_prompt(self.tokens[u], PROMPT, conv, params=params)
            ),
        }


async def run(ctx: Context, report: Report) -> None:
    workers = max(SHAPES)
    names = [f"ttft{i}" for i in range(workers)]
    longest = max(tokens for _, tokens in SHAPES.values())
    async with (
        fake_upstream(ctx.logs, tokens=longest) as upstream,
        parley_server(ctx.logs, ctx.data_dir("parley"), upstream, users=names) as server,
        passthrough_peer(ctx.logs, upstream) as peer,
        http_client() as http,
    ):
        parley = ParleyClient(http, server.base_url)
        tokens = list(await asyncio.gather(*(parley.login(name) for name in names)))
        sockets = list(await asyncio.gather(*(parley.connect(token) for token in tokens)))
        peer_sockets = list(await asyncio.gather(*(open_ws(peer.ws_url) for _ in names)))
        users = _Users(parley, tokens, sockets, peer_sockets)
        for mode in users.modes(http, upstream, max_tokens=1).values():  # warm-up: pools, caches
            await closed_loop(workers, 1, 30, mode)

        for concurrency, (per_worker, answer_tokens) in SHAPES.items():
            modes = users.modes(http, upstream, max_tokens=answer_tokens)
            traces = await _interleaved(modes, concurrency, per_worker, ctx)
            _judge(report, concurrency, traces)

        await _login_path(report, parley, lambda: upstream_prompt(http, upstream.base_url, PROMPT, max_tokens=3))
        await asyncio.gather(*(ws.close() for ws in [*sockets, *peer_sockets]))
    report.note(
        f"Fake upstream: first token after {upstream.first_token_delay * 1000:.0f} ms, then one every "
        f"{upstream.token_delay * 1000:.0f} ms. Added ms = Parley's percentile minus the upstream's over the same "
        "rounds; ratio = Parley's TTFT / the upstream's. Answers: 3 tokens at 1 stream, 50 tokens (1 s) at 50 "
        f"streams. Conversations run {TURNS_PER_CONVERSATION} turns, then a new one starts."
    )


async def _interleaved(
    modes: dict[str, Step], concurrency: int, per_worker: int, ctx: Context
) -> dict[str, list[StreamTrace]]:
    traces: dict[str, list[StreamTrace]] = {name: [] for name in modes}
    pause = 0.05 if concurrency > 1 else 0.0  # lets concurrent users drift apart instead of moving in step
    for _ in range(ROUNDS):
        for name, step in modes.items():
            traces[name] += await closed_loop(concurrency, per_worker // ROUNDS, 60, step, pause=pause, rng=ctx.rng)
    return traces


def _ttfts_ms(traces: list[StreamTrace]) -> list[float]:
    return [trace.ttft * 1000 for trace in traces if trace.ok and trace.ttft is not None]


def _judge(report: Report, concurrency: int, traces: dict[str, list[StreamTrace]]) -> None:
    upstream = Summary.of(_ttfts_ms(traces["upstream"]))
    report.data[f"ttft_ms_at_{concurrency}"] = {name: Summary.of(_ttfts_ms(t)).to_dict() for name, t in traces.items()}
    streams = "1 stream" if concurrency == 1 else f"{concurrency} streams"
    for name in ("WebSocket", "SSE", PEER):
        failed = sum(not trace.ok for trace in traces[name])
        through = Summary.of(_ttfts_ms(traces[name]))
        detail = f"n={through.n}" + (f", {failed} failed" if failed else "")
        for label, value, base, aim in (
            ("p50", through.p50, upstream.p50, AIM_P50_MS),
            ("p99", through.p99, upstream.p99, AIM_P99_MS),
        ):
            figure = Figure.judged(
                f"{name} added TTFT {label}, {streams}",
                value - base,
                "ms",
                baseline_label=f"upstream TTFT {label}",
                baseline=base,
                ratio=ratio(value, base),
                aim=f"< {aim:g} ms added",
                met=value - base < aim and failed == 0,
                detail=detail,
            )
            if name == PEER:  # a reference for reading Parley's figures, not held to the aim
                figure = replace(figure, aim="", status=Status.INFO, detail=f"{detail}; reference, not Parley")
            report.add(figure)


async def _login_path(
    report: Report, parley: ParleyClient, upstream_ttft: Callable[[], Awaitable[StreamTrace]]
) -> None:
    """A user's very first answer: log in (argon2id), get a ticket, open the socket, ask. Reported, not judged."""
    whole: list[float] = []
    direct: list[float] = []
    for _ in range(LOGIN_PATH_SAMPLES):
        started = time.perf_counter()
        ws = await parley.connect(await parley.login("ttft0"))
        trace = await ws_prompt(ws, PROMPT, params={"max_tokens": 3})
        await ws.close()
        if trace.ok and trace.tokens:
            whole.append((trace.tokens[0] - started) * 1000)
        baseline = await upstream_ttft()
        if baseline.ttft is not None:
            direct.append(baseline.ttft * 1000)
    through, base = Summary.of(whole), Summary.of(direct)
    report.add(
        Figure(
            "first answer incl. login + ticket + connect, p50",
            through.p50 - base.p50,
            "ms",
            "upstream TTFT p50",
            base.p50,
            ratio(through.p50, base.p50),
            detail=f"added ms; n={through.n}; mostly the argon2id verify",
        )
    )


BENCHMARK = Benchmark(1, "ttft", "Added time to first token", run, budget_seconds=180)
