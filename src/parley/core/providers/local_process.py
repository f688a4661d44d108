"""The server's handle on the local model's process (``local_worker``): start it, talk to it, notice its end.

Blocking calls (``start``, ``close``) run in worker threads. Replies are read on the event loop itself, with no
thread between: each read hands ``on_replies`` every complete reply line that has arrived (usually one token's,
more when the loop was busy), and once the output ends ``on_exit`` learns how the process ended.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from parley.errors import ConfigError

log = logging.getLogger(__name__)

Reply = dict[str, Any]
WORKER_MODULE = "parley.core.providers.local_worker"


def describe_exit(returncode: int | None) -> str:
    """``killed by SIGKILL`` or ``exit status 3``: what a log line says about a process that ended."""
    if returncode is None:
        return "still running"
    if returncode < 0:
        try:
            return f"killed by {signal.Signals(-returncode).name}"
        except ValueError:
            return f"killed by signal {-returncode}"
    return f"exit status {returncode}"


def _read_first_line(fd: int) -> tuple[bytes, bytes]:
    """The first line from ``fd`` (empty if it ends first) and whatever arrived after it. Blocking."""
    received = bytearray()
    while b"\n" not in received:
        data = os.read(fd, 4096)
        if not data:
            return bytes(received), b""
        received += data
    first, _, rest = bytes(received).partition(b"\n")
    return first, rest


class _ReplyReader(asyncio.Protocol):
    """The process's output, split into reply lines on the event loop."""

    def __init__(self, pending: bytes, on_replies: Callable[[list[Reply]], None], on_end: Callable[[], None]) -> None:
        self._buffer = bytearray(pending)
        self._on_replies = on_replies
        self._on_end = on_end

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        if self._buffer:
            self.data_received(b"")

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        end = self._buffer.rfind(b"\n")
        if end < 0:
            return
        lines = self._buffer[:end].split(b"\n")
        del self._buffer[: end + 1]
        replies: list[Reply] = []
        for line in lines:
            try:
                replies.append(json.loads(line))
            except ValueError:
                log.warning("the local model process wrote a line that is not a reply")
        if replies:
            self._on_replies(replies)

    def eof_received(self) -> bool | None:
        return None  # close the transport: connection_lost follows

    def connection_lost(self, exc: Exception | None) -> None:
        self._on_end()


class ModelProcess:
    """One running ``local_worker``; made by ``start``, which returns once the model is loaded."""

    def __init__(self, popen: subprocess.Popen[str], stdin: IO[str], stdout_fd: int, pending: bytes) -> None:
        self._popen = popen
        self._stdin = stdin
        self._stdout_fd = stdout_fd
        self._pending = pending  # what arrived after the ready line
        self._write_lock = threading.Lock()
        self._reaped: asyncio.Future[None] | None = None  # set once on_exit has been called
        self._reaping: asyncio.Task[None] | None = None

    @property
    def pid(self) -> int:
        return self._popen.pid

    @classmethod
    def start(cls, model: Path, *, context_window: int, threads: int) -> ModelProcess:
        """Start the process and wait for the model to load. Blocking: run it in a thread.

        Raises ``ConfigError`` when the model cannot be loaded, whether the worker says why or dies trying.
        """
        command = [
            sys.executable,
            "-m",
            WORKER_MODULE,
            "--model",
            str(model),
            "--context",
            str(context_window),
            "--threads",
            str(threads),
        ]
        # Its output comes through a pipe of our own, read unbuffered, so that nothing after the ready line is
        # left in a Python buffer when the event loop takes the pipe over.
        stdout_fd, child_stdout = os.pipe()
        try:
            popen = subprocess.Popen(  # noqa: S603 - our own interpreter and module, no shell
                command,
                stdin=subprocess.PIPE,
                stdout=child_stdout,
                text=True,
                encoding="utf-8",
                bufsize=1,
            )
        except BaseException:
            os.close(stdout_fd)
            raise
        finally:
            os.close(child_stdout)
        assert popen.stdin is not None
        first, pending = _read_first_line(stdout_fd)
        try:
            reply: Reply = json.loads(first) if first else {}
        except ValueError:
            reply = {}
        if reply.get("event") == "ready":
            return cls(popen, popen.stdin, stdout_fd, pending)
        popen.stdin.close()
        returncode = popen.wait()
        os.close(stdout_fd)
        if reply.get("event") == "load_error":
            raise ConfigError(str(reply.get("message")))
        raise ConfigError(f"The local model process ended while loading {model} ({describe_exit(returncode)}).")

    async def watch(self, on_replies: Callable[[list[Reply]], None], on_exit: Callable[[int], None]) -> None:
        """Read its replies on the running loop from now on. Once its output has ended and it has exited,
        ``on_exit`` gets the return code (``ended()`` waits for that)."""
        loop = asyncio.get_running_loop()
        pipe = os.fdopen(self._stdout_fd, "rb", buffering=0)
        self._reaped = loop.create_future()

        def output_ended() -> None:
            self._reaping = loop.create_task(self._reap(on_exit), name=f"parley-local-exit-{self.pid}")

        try:
            await loop.connect_read_pipe(lambda: _ReplyReader(self._pending, on_replies, output_ended), pipe)
        except BaseException:
            pipe.close()
            raise
        self._pending = b""

    async def _reap(self, on_exit: Callable[[int], None]) -> None:
        try:
            returncode = await asyncio.to_thread(self._popen.wait)
            await asyncio.to_thread(self._close_stdin)
            on_exit(returncode)
        finally:
            if self._reaped is not None and not self._reaped.done():
                self._reaped.set_result(None)

    async def ended(self) -> None:
        """Wait until ``on_exit`` has been called (at once if the output was never watched)."""
        if self._reaped is not None:
            await asyncio.shield(self._reaped)

    def _close_stdin(self) -> None:
        # Closing a pipe whose reader is gone raises BrokenPipeError while flushing: nothing to do about it.
        with self._write_lock, contextlib.suppress(OSError):
            self._stdin.close()

    def send(self, **request: Any) -> bool:
        """Write one request; False when the process is gone (``on_exit`` reports how it ended)."""
        line = json.dumps(request) + "\n"
        try:
            with self._write_lock:
                self._stdin.write(line)
                self._stdin.flush()
        except (BrokenPipeError, ValueError, OSError):  # ValueError: the pipe was already closed by us
            return False
        return True

    def close(self, timeout: float = 10.0) -> int:
        """Close its input (it stops what runs and ends), wait, and kill it if it will not end. Blocking."""
        self._close_stdin()
        if self._reaped is None:  # never watched: its output is still ours to close
            with contextlib.suppress(OSError):
                os.close(self._stdout_fd)
        try:
            return self._popen.wait(timeout)
        except subprocess.TimeoutExpired:
            log.warning("the local model process did not end in %.0f s; killing it", timeout)
            self._popen.kill()
            return self._popen.wait()
