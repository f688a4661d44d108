"""uvicorn's HTTP protocol with limits on how a client sends its request.

uvicorn waits for a request as long as the client likes: a client that trickles a header byte now and then
(slow loris), or sends a head and then trickles the body, holds a connection and its buffers forever, and a
few thousand of them exhaust the server. httptools also buffers a request head of any size. Here a client
has ``read_timeout`` seconds from its first byte (or from connecting) to send its whole request, head and
body, and a head may be at most ``MAX_HEAD_BYTES``. Once a request is read, the answer takes as long as it
takes (a streamed answer, a WebSocket): the deadline covers only what the client sends.
"""

from __future__ import annotations

import asyncio
import http
import logging
from collections.abc import Callable
from typing import Any, ClassVar

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

log = logging.getLogger(__name__)

# Browsers send a few KiB of headers; 64 KiB leaves room for big cookies behind a proxy and stays small.
MAX_HEAD_BYTES = 64 * 1024
HEAD_SLICE = 16 * 1024
UPLOAD_MIN_BYTES_PER_WINDOW = 64 * 1024


def _no_long_bodies(method: str, path: str) -> bool:
    return False


def _refusal(status: http.HTTPStatus) -> bytes:
    return f"HTTP/1.1 {status.value} {status.phrase}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n".encode()


class BoundedHttpProtocol(HttpToolsProtocol):
    """One connection; set the deadline with :func:`bounded_http_protocol`."""

    read_timeout: ClassVar[float] = 10.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._deadline: asyncio.TimerHandle | None = None
        self._uploading = False  # the body being read is an upload's: judged by its pace, not its total time
        self._window_bytes = 0
        self._head_bytes: int | None = 0  # bytes of a request head still being read; None between heads
        self._upgraded = False  # a WebSocket has taken the connection over

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()  # a client that connects and sends nothing is held to the deadline too

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        # While a head is being read, the parser gets slices: a head too big is caught within a slice of the
        # limit even when it arrives in one read (uvicorn reads up to 256 KiB at a time).
        while self._head_bytes is not None and len(data) > HEAD_SLICE:
            self._parse(data[:HEAD_SLICE])
            data = data[HEAD_SLICE:]
            if self.transport.is_closing() or self._upgraded:
                return
        if self._uploading:
            self._window_bytes += len(data)
        self._parse(data)

    def _parse(self, data: bytes) -> None:
        if self._head_bytes is not None:
            self._head_bytes += len(data)
        super().data_received(data)
        if self._head_bytes is not None and self._head_bytes > MAX_HEAD_BYTES and not self.transport.is_closing():
            self._refuse(http.HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE)

    # Parser callbacks: a request begins, its head is complete, it is complete.

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self._head_bytes is None:
            self._head_bytes = 0
        self._arm()

    def on_headers_complete(self) -> None:
        self._head_bytes = None
        super().on_headers_complete()
        self._uploading = self.long_body(self.scope["method"], self.scope.get("path", ""))

    def long_body(self, method: str, path: str) -> bool:
        """Whether this request's body may take longer than the deadline, as long as it keeps coming."""
        return False
        self._window_bytes = 0

    def on_message_complete(self) -> None:
        self._disarm()
        self._uploading = False
        super().on_message_complete()

    def handle_websocket_upgrade(self) -> None:
        self._disarm()  # the WebSocket protocol takes the connection over from here
        self._upgraded = True
        super().handle_websocket_upgrade()

    # The deadline

    def _arm(self) -> None:
        if self._deadline is None:
            self._deadline = self.loop.call_later(self.read_timeout, self._too_slow)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _too_slow(self) -> None:
        self._deadline = None
        if self.transport.is_closing():
            return
        if self._uploading and self._window_bytes >= UPLOAD_MIN_BYTES_PER_WINDOW:
            self._window_bytes = 0
            self._arm()
            return
        log.info("closing a connection whose request took longer than %s s to arrive", self.read_timeout)
        self._refuse(http.HTTPStatus.REQUEST_TIMEOUT)

    def _refuse(self, status: http.HTTPStatus) -> None:
        # A status line for a request that has begun, unless an answer is already on its way (it is not cut
        # into); a connection that sent nothing is just closed, as a browser's unused preconnect expects.
        answering = self.cycle is not None and self.cycle.response_started and not self.cycle.response_complete
        if self._head_bytes != 0 and not answering:
            self.transport.write(_refusal(status))
        self.transport.close()  # a request being handled sees the client disconnect


def bounded_http_protocol(
    seconds: float, long_body: Callable[[str, str], bool] | None = None
) -> type[BoundedHttpProtocol]:
    """The protocol class for uvicorn's ``http`` option, with this deadline (uvicorn builds one per connection)."""
    allows_long_body = long_body or _no_long_bodies

    class WithDeadline(BoundedHttpProtocol):
        read_timeout = seconds

        def long_body(self, method: str, path: str) -> bool:
            return allows_long_body(method, path)

    return WithDeadline
