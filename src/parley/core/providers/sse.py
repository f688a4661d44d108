"""Server-sent events read incrementally from a byte stream, as OpenAI-compatible servers send them.

Only what a chat stream uses: ``data:`` lines (several in one event are joined by newlines), an optional
``event:`` name, comments and other fields ignored, lines ending in ``\\n`` or ``\\r\\n``. The bytes arrive
in arbitrary pieces; an event is returned once the blank line that ends it has arrived.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ServerSentEvent:
    data: bytes
    event: str | None = None


class SSEDecoder:
    def __init__(self) -> None:
        self._pending = b""  # an unfinished line
        self._data: list[bytes] = []
        self._event: str | None = None

    def feed(self, piece: bytes) -> list[ServerSentEvent]:
        """The events that ``piece`` completes, in order."""
        lines = (self._pending + piece).split(b"\n")
        self._pending = lines.pop()
        events: list[ServerSentEvent] = []
        for line in lines:
            if line.endswith(b"\r"):
                line = line[:-1]
            if not line:
                if self._data:
                    events.append(ServerSentEvent(b"\n".join(self._data), self._event))
                self._data, self._event = [], None
            elif line.startswith(b"data:"):
                value = line[5:]
                self._data.append(value[1:] if value.startswith(b" ") else value)
            elif line.startswith(b"event:"):
                self._event = line[6:].strip().decode("utf-8", "replace")
        return events
