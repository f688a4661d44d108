"""5. Local model efficiency: tokens per second reaching a WebSocket client from Parley's local model,
against llama-cpp-python's own streaming loop (``bench/peers/llama_loop.py``) on the same GGUF file,
context size and thread count, with the same greedy settings.

The rate is the decode rate: tokens after the first, over the time from the first to the last (prompt
processing is the same work on both sides and is left out). The two take turns, ``ROUNDS`` times.
"""

from __future__ import annotations

import json
from pathlib import Path

from bench.clients import ParleyClient, StreamTrace, http_client, ws_prompt
from bench.harness import Benchmark, Context
from bench.procs import run_python
from bench.results import Figure, Report
from bench.services import parley_server
from bench.stats import median, ratio
from parley.config import Settings
from parley.errors import ConfigError

ROUNDS, RUNS_PER_ROUND = 4, 3
MAX_TOKENS = 128
PROMPT = "Write a long story about a dragon who learns to cook."
PARAMS = {"temperature": 0, "top_p": 1, "max_tokens": MAX_TOKENS}
AIM = 0.95


def decode_rate(trace: StreamTrace) -> float:
    tokens = trace.tokens
    return (len(tokens) - 1) / (tokens[-1] - tokens[0]) if len(tokens) > 1 else 0.0


async def bare_loop(model: Path, threads: int, context_window: int) -> list[StreamTrace]:
    """RUNS_PER_ROUND generations by llama-cpp-python alone, in a fresh process."""
    out = await run_python(
        "-m",
        "bench.peers.llama_loop",
        str(model),
        f"--threads={threads}",
        f"--n-ctx={context_window}",
        f"--max-tokens={MAX_TOKENS}",
        f"--runs={RUNS_PER_ROUND}",
        f"--prompt={PROMPT}",
        max_seconds=300,
    )
    runs = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    return [StreamTrace(sent=r["sent"], tokens=r["tokens"], done=r["done"]) for r in runs]


async def run(ctx: Context, report: Report) -> None:
    from parley.core.providers.local import CONTEXT_WINDOW, find_model_file

    try:
        model = find_model_file()
    except ConfigError as exc:
        report.add(Figure.unavailable("local model tokens/s", exc.message))
        return
    threads = Settings.from_env(env={}).local_model_threads
    bare: list[StreamTrace] = []
    served: list[StreamTrace] = []
    async with (
        parley_server(ctx.logs, ctx.data_dir("parley"), None, users=["reader"], local_model=True) as server,
        http_client() as http,
    ):
        parley = ParleyClient(http, server.base_url)
        ws = await parley.connect(await parley.login("reader"))
        await ws_prompt(ws, PROMPT, params=PARAMS, max_seconds=120)  # warm-up
        for _ in range(ROUNDS):
            bare += await bare_loop(model, threads, CONTEXT_WINDOW)
            for _ in range(RUNS_PER_ROUND):
                served.append(await ws_prompt(ws, PROMPT, params=PARAMS, max_seconds=120))
        await ws.close()
    _judge(report, bare, served, threads)


def _judge(report: Report, bare: list[StreamTrace], served: list[StreamTrace], threads: int) -> None:
    failed = [t.error for t in served if not t.ok]
    ours, theirs = median([decode_rate(t) for t in served if t.ok]), median([decode_rate(t) for t in bare])
    report.data |= {
        "threads": threads,
        "parley_tokens_per_second": [decode_rate(t) for t in served],
        "bare_tokens_per_second": [decode_rate(t) for t in bare],
        "parley_tokens": [len(t.tokens) for t in served],
        "bare_tokens": [len(t.tokens) for t in bare],
    }
    report.add(
        Figure.judged(
            "local model tokens/s to a WebSocket client",
            ours,
            "tok/s",
            baseline_label="bare llama-cpp-python loop",
            baseline=theirs,
            ratio=ratio(ours, theirs),
            aim=f"≥ {AIM}x bare loop",
            met=ratio(ours, theirs) >= AIM and not failed,
            detail=f"median of {len(served)} runs each, {threads} thread{'' if threads == 1 else 's'}"
            + (f"; failed: {failed[0]}" if failed else ""),
        )
    )
    report.note(
        f"SmolLM2-135M, {MAX_TOKENS} tokens at temperature 0 from the same prompt; decode rate (first token to "
        "last). The bare loop runs in its own process while Parley's server sits idle."
    )


BENCHMARK = Benchmark(5, "local_model", "Local model efficiency", run, budget_seconds=180)
