"""The server's handle on the local model's process (``local_worker``): start it, talk to it, notice its end.

Blocking calls (``start``, ``close``) run in worker threads; a reader thread turns each reply line into a
call of ``on_reply`` and, at the end of the output, reports how the process ended with ``on_exit``.
"""

from __future__ import annotations

import contextlib
import json
import logging
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


class ModelProcess:
    """One running ``local_worker``; made by ``start``, which returns once the model is loaded."""

    def __init__(self, popen: subprocess.Popen[str], stdin: IO[str], stdout: IO[str]) -> None:
        self._popen = popen
        self._stdin = stdin
        self._stdout = stdout
        self._write_lock = threading.Lock()

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
        popen = subprocess.Popen(  # noqa: S603 - our own interpreter and module, no shell
            command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            encoding="utf-8",
            bufsize=1,
        )
        assert popen.stdin is not None and popen.stdout is not None
        first = popen.stdout.readline()
        try:
            reply: Reply = json.loads(first) if first else {}
        except ValueError:
            reply = {}
        if reply.get("event") == "ready":
            return cls(popen, popen.stdin, popen.stdout)
        popen.stdin.close()
        returncode = popen.wait()
        popen.stdout.close()
        if reply.get("event") == "load_error":
            raise ConfigError(str(reply.get("message")))
        raise ConfigError(f"The local model process ended while loading {model} ({describe_exit(returncode)}).")

    def watch(self, on_reply: Callable[[Reply], None], on_exit: Callable[[int], None]) -> None:
        """Start the reader thread. ``on_exit`` gets the return code once the process's output has ended."""
        threading.Thread(target=self._read, args=(on_reply, on_exit), name="parley-local-replies", daemon=True).start()

    def _read(self, on_reply: Callable[[Reply], None], on_exit: Callable[[int], None]) -> None:
        with self._stdout:
            for line in self._stdout:
                try:
                    reply = json.loads(line)
                except ValueError:
                    log.warning("the local model process wrote a line that is not a reply")
                    continue
                on_reply(reply)
        returncode = self._popen.wait()
        with self._write_lock, contextlib.suppress(OSError):
            self._stdin.close()
        on_exit(returncode)

    def send(self, **request: Any) -> bool:
        """Write one request; False when the process is gone (the reader thread reports how it ended)."""
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
        # Closing a pipe whose reader is gone raises BrokenPipeError while flushing: nothing to do about it.
        with self._write_lock, contextlib.suppress(OSError):
            self._stdin.close()
        try:
            return self._popen.wait(timeout)
        except subprocess.TimeoutExpired:
            log.warning("the local model process did not end in %.0f s; killing it", timeout)
            self._popen.kill()
            return self._popen.wait()
