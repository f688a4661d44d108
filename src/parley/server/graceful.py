"""``parley serve``'s shutdown: on SIGTERM or Ctrl-C no new answers are taken, the running ones may finish within
the grace period (their readers, SSE or WebSocket, keep streaming), the rest are cut and saved as interrupted, and
only then are the connections closed and the process exits 0.

The ``/v1`` answers follow the same grace period: new ones get 503 (OpenAI's error shape), running streams go on,
and those still running at its end get an error event and no ``[DONE]``, so an OpenAI client raises rather than
take a cut answer for a whole one.

uvicorn alone would close every WebSocket at once (1012) and cancel what still runs after its timeout, which
would lose the live stream of every answer under way.
"""

from __future__ import annotations

import asyncio
import socket
from types import FrameType
from typing import TYPE_CHECKING, Any

import uvicorn

if TYPE_CHECKING:
    from parley.runtime import Runtime


class GracefulServer(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, app: Any, *, grace_seconds: float) -> None:
        super().__init__(config)
        self._app = app
        self._grace_seconds = grace_seconds

    def _runtime(self) -> Runtime | None:
        runtime: Runtime | None = getattr(self._app.state, "runtime", None)  # set once the app has started
        return runtime

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        runtime = self._runtime()
        if runtime is not None:  # refuse new answers from this moment
            runtime.chat.begin_shutdown(self._grace_seconds)
            runtime.completions.begin_shutdown(self._grace_seconds)
        super().handle_exit(sig, frame)

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        for server in self.servers:
            server.close()  # no new connections while the running answers finish
        runtime = self._runtime()
        if runtime is not None and not self.force_exit:  # a second Ctrl-C skips the wait
            await asyncio.gather(runtime.chat.aclose(), runtime.completions.aclose())
        await super().shutdown(sockets)
        # uvicorn re-raises the signals it caught once it is done, so that SIGTERM would end the process "killed";
        # a shutdown that saved everything is a clean exit (0), as service managers expect.
        if not self.force_exit:
            self._captured_signals.clear()
