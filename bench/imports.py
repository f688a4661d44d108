"""Benchmark 11: importing a 200 MB ChatGPT export (``conversations.json``) with ``parley import``, its time and
peak memory, against reading the same file with ``json.load`` in the same run (what an importer that loads the
file whole pays before it has saved anything). Parley reads one conversation at a time, so its peak memory should
not grow with the file: that is the figure held to an aim."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from collections.abc import Iterator
from typing import Any

from bench.harness import Benchmark, Context
from bench.results import Figure, Report
from bench.stats import ratio
from parley.testing.sample_exports import (
    T0,
    chatgpt_conversation_record,
    chatgpt_mapping,
    chatgpt_message,
    text,
    write_json_array,
)

FILE_MB = 200
MESSAGES_PER_CONVERSATION = 20
# Peak memory of the import held to a fraction of json.load's: a streaming import's peak does not follow the file.
AIM_MEMORY_RATIO = 0.25
USER = "importer"
PASSWORD = "import bench password 1"  # noqa: S105 - a throwaway account in a throwaway data directory

# Each runs in a fresh interpreter and prints its peak resident memory (KiB) last: what the process itself
# reached, not its parent's. VmHWM, not ru_maxrss: Linux carries ru_maxrss across exec, so a child forked from
# this process (hundreds of MB after the earlier benchmarks of a full run) would report this process's size.
_PEAK = (
    "import re; status = open('/proc/self/status').read(); "
    "peak = re.search(r'VmHWM:\\s+(\\d+)', status).group(1); print(f'peak_kib={peak}', flush=True)"
)
_PARLEY = f"import sys\nfrom parley.cli.main import main\ncode = main(sys.argv[1:])\n{_PEAK}\nsys.exit(code)"
_JSON_LOAD = f"import json, sys\nwith open(sys.argv[1], 'rb') as f:\n    json.load(f)\n{_PEAK}"


def _conversation(ctx: Context, number: int, words: list[str]) -> dict[str, Any]:
    """A linear ChatGPT conversation of prompts and answers of a few hundred words each."""
    nodes: list[tuple[str, str | None, dict[str, Any] | None]] = [("root", None, None)]
    parent = "root"
    at = T0 + number * 60
    for index in range(MESSAGES_PER_CONVERSATION):
        role = "user" if index % 2 == 0 else "assistant"
        length = 60 if role == "user" else 240
        body = " ".join(ctx.rng.choice(words) for _ in range(length))
        node = f"n{index}"
        nodes.append((node, parent, chatgpt_message(role, text(body), at=at + index, model="gpt-4o")))
        parent = node
    return chatgpt_conversation_record(
        f"Conversation {number}", chatgpt_mapping(nodes), parent, conversation_id=f"bench-{number:06d}", at=at
    )


def _conversations(ctx: Context, target_bytes: int) -> Iterator[dict[str, Any]]:
    words = ["the", "a", "of", "tide", "harbour", "ship", "lantern", "rope", "sail", "north", "wind", "calm", "storm"]
    written = number = 0
    while written < target_bytes:
        conversation = _conversation(ctx, number, words)
        written += len(json.dumps(conversation))
        number += 1
        yield conversation


async def _run(code: str, argv: list[str], env: dict[str, str], stdin: bytes | None = None) -> tuple[float, int, str]:
    """Wall seconds, peak RSS in bytes and the output of ``python -c CODE ARGV...`` in a fresh interpreter."""
    began = time.perf_counter()
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        code,
        *argv,
        env=env,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await process.communicate(stdin)
    seconds = time.perf_counter() - began
    output = out.decode(errors="replace")
    if process.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed ({process.returncode}): {output[-500:]}")
    peak = next(line for line in reversed(output.splitlines()) if line.startswith("peak_kib="))
    return seconds, int(peak.split("=")[1]) * 1024, output


async def run(ctx: Context, report: Report) -> None:
    size_mb = 20 if ctx.quick else FILE_MB
    export = ctx.workdir / "conversations.json"
    await asyncio.to_thread(write_json_array, export, _conversations(ctx, size_mb * 1_000_000))
    file_bytes = export.stat().st_size
    env = {**os.environ, "PARLEY_DATA_DIR": str(ctx.data_dir("parley")), "PARLEY_LOCAL_MODEL": "off"}
    env.pop("OPENAI_API_KEY", None)
    await _run(_PARLEY, ["users", "add", USER, "--password-stdin"], env, stdin=f"{PASSWORD}\n".encode())

    baseline_seconds, baseline_peak, _ = await _run(_JSON_LOAD, [str(export)], env)
    seconds, peak, output = await _run(_PARLEY, ["import", str(export), "--user", USER], env)
    summary = output.strip().splitlines()[:-1]
    report.data.update(
        {
            "file_bytes": file_bytes,
            "import_seconds": seconds,
            "import_peak_rss": peak,
            "json_load_seconds": baseline_seconds,
            "json_load_peak_rss": baseline_peak,
            "import_output": summary[-5:],
        }
    )
    mb = file_bytes / 1e6
    report.add(
        Figure(
            f"import of a {mb:.0f} MB ChatGPT export: time",
            seconds,
            "s",
            "json.load of the same file",
            baseline_seconds,
            ratio(seconds, baseline_seconds),
            detail=f"{mb / seconds:.1f} MB/s; {' '.join(summary[-1:])[:160]}",
        )
    )
    memory_ratio = ratio(peak, baseline_peak)
    report.add(
        Figure.judged(
            f"import of a {mb:.0f} MB ChatGPT export: peak memory (RSS of the whole process)",
            peak / 1e6,
            "MB",
            baseline_label="json.load of the same file",
            baseline=baseline_peak / 1e6,
            ratio=memory_ratio,
            aim=f"≤ {AIM_MEMORY_RATIO}x json.load's",
            met=memory_ratio <= AIM_MEMORY_RATIO,
        )
    )
    report.note(
        f"`parley import` into a fresh SQLite data directory ({MESSAGES_PER_CONVERSATION} messages a conversation, "
        "each saved all or nothing); json.load only reads the file into Python objects and saves nothing. Peak RSS "
        "is each process's own (`VmHWM`), interpreter and imports included."
    )


BENCHMARK = Benchmark(11, "imports", "History: importing a 200 MB ChatGPT export", run, budget_seconds=1800)
