"""``parley serve``'s shutdown: on SIGTERM or Ctrl-C no new answers are taken, the running ones may finish within
the grace period (their readers, SSE or WebSocket, keep streaming), the rest are cut and saved as interrupted, and
only then are the connections closed and the process exits 0.

uvicorn alone would close every WebSocket at once (1012) and cancel what still runs after its timeout, which
would lose the live stream of every answer under way.
"""

from __future__ import annotations

import socket
from types import FrameType
from typing import Any

import uvicorn

from parley.core.chat.service import ChatService


class GracefulServer(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, app: Any, *, grace_seconds: float) -> None:
        super().__init__(config)
        self._app = app
        self._grace_seconds = grace_seconds

    def _chat(self) -> ChatService | None:
        runtime = getattr(self._app.state, "runtime", None)  # set once the app has started
        return None if runtime is None else runtime.chat

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        chat = self._chat()
        if chat is not None:
            chat.begin_shutdown(self._grace_seconds)  # refuse new answers from this moment
        super().handle_exit(sig, frame)

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        for server in self.servers:
            server.close()  # no new connections while the running answers finish
        chat = self._chat()
        if chat is not None and not self.force_exit:  # a second Ctrl-C skips the wait
            await chat.aclose()
        await super().shutdown(sockets)
        # uvicorn re-raises the signals it caught once it is done, so that SIGTERM would end the process "killed";
        # a shutdown that saved everything is a clean exit (0), as service managers expect.
        if not self.force_exit:
            self._captured_signals.clear()
