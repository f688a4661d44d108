"""Slow clients (slow loris): a request head or body sent a byte at a time, or a connection that sends nothing,
is cut off when the read deadline passes, and everyone else is answered as fast as before, throughout."""

from __future__ import annotations

import asyncio
import logging
import time
from urllib.parse import urlsplit

import httpx
import pytest

DEADLINE = 2.0  # seconds (PARLEY_REQUEST_READ_TIMEOUT, 10 by default)
SLACK = 1.5  # the deadline is a timer on a busy 2-core machine
DRIP = 0.5  # seconds between the bytes a slow client sends
HEAD = b"GET /api/health HTTP/1.1\r\nHost: localhost\r\n"
BODY_HEAD = (
    b"POST /api/login HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 4000\r\n\r\n"
)


async def slow_client(url: str, opening: bytes, drip: bytes | None) -> tuple[float, bytes]:
    """Send ``opening``, then one byte of ``drip`` every DRIP seconds (or nothing), until the server hangs up;
    returns how long the connection lasted and what the server said."""
    address = urlsplit(url)
    reader, writer = await asyncio.open_connection(address.hostname, address.port)
    started = time.monotonic()
    writer.write(opening)

    async def dripping() -> None:
        for byte in (drip or b"")[:200]:
            await asyncio.sleep(DRIP)
            writer.write(bytes([byte]))

    sender = asyncio.create_task(dripping())
    try:
        answer = await asyncio.wait_for(reader.read(), DEADLINE + SLACK + 5)
    except ConnectionError:
        answer = b""
    finally:
        sender.cancel()
        writer.close()
    return time.monotonic() - started, answer


async def health_watch(url: str, stop: asyncio.Event) -> list[tuple[int, float]]:
    """GET /api/health on a new connection every 0.1 s until ``stop``; each answer's status and time."""
    answers = []
    while not stop.is_set():
        async with httpx.AsyncClient(base_url=url, timeout=10) as http:
            started = time.monotonic()
            response = await http.get("/api/health")
            answers.append((response.status_code, time.monotonic() - started))
        await asyncio.sleep(0.1)
    return answers


@pytest.mark.target_settings(request_read_timeout=DEADLINE)
async def test_slow_loris_is_cut_off_at_the_deadline_and_health_answers_throughout(target, ledger, caplog):
    stop = asyncio.Event()
    watch = asyncio.create_task(health_watch(target.url, stop))
    slow_heads = [slow_client(target.url, HEAD, b"X-Slow: " + b"a" * 200) for _ in range(20)]
    slow_bodies = [slow_client(target.url, BODY_HEAD, b'{"username": "' + b"a" * 200) for _ in range(20)]
    silent = [slow_client(target.url, b"", None) for _ in range(10)]
    outcomes = await asyncio.gather(*slow_heads, *slow_bodies, *silent)
    ledger.attempt(target.path, "slow-loris connections", len(outcomes))
    stop.set()
    health = await watch

    for lasted, answer in outcomes:
        assert lasted < DEADLINE + SLACK, lasted
    for _, answer in outcomes[:40]:  # a request that began gets a status line; nothing that 408 is not
        assert answer.startswith(b"HTTP/1.1 408 ") or answer == b"", answer
    for _, answer in outcomes[40:]:  # a connection that sent nothing is just closed
        assert answer == b""
    # Answered throughout: every check in time, one after another for as long as the attack lasted (how many fit
    # depends on the machine: each takes its answer's time plus the 0.1 s pause, under a second and a tenth).
    assert {status for status, _ in health} == {200}
    assert max(seconds for _, seconds in health) < 1.0, health
    assert len(health) >= int(DEADLINE / 1.1), health
    async with target.client() as http:
        assert (await http.get("/api/health")).status_code == 200
    # A request cut off mid-body is a client gone, not a server error.
    assert not [record for record in caplog.records if record.levelno >= logging.ERROR]


@pytest.mark.target_settings(request_read_timeout=DEADLINE)
async def test_a_request_sent_promptly_is_not_cut_off(target):
    """The deadline covers what the client sends, not the answer: a request that keeps its connection
    busy for longer than the deadline in total, answer after answer, is served throughout."""
    async with target.client() as http:
        started = time.monotonic()
        while time.monotonic() - started < DEADLINE * 2:
            assert (await http.get("/api/health")).status_code == 200
            await asyncio.sleep(DEADLINE / 4)


async def test_an_oversized_request_head_is_refused(target, ledger):
    address = urlsplit(target.url)
    reader, writer = await asyncio.open_connection(address.hostname, address.port)
    writer.write(HEAD + b"X-Huge: " + b"a" * 100_000 + b"\r\n\r\n")
    try:
        answer = await asyncio.wait_for(reader.read(), 10)
    except ConnectionError:  # refused while the rest was still arriving: the kernel resets the connection
        answer = b""
    writer.close()
    ledger.attempt(target.path, "oversized request heads", 1)
    assert answer.startswith(b"HTTP/1.1 431 ") or answer == b"", answer[:200]
    async with target.client() as http:
        assert (await http.get("/api/health")).status_code == 200
