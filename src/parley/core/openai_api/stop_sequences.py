"""Stop sequences, applied to the text as it streams: no provider interface has to know them.

Text that could be the start of a stop sequence is held back until the next chunk tells whether it is one, so a
client never receives part of a stop sequence.
"""

from __future__ import annotations

from collections.abc import Sequence


class StopScanner:
    def __init__(self, stops: Sequence[str]) -> None:
        self._stops = [stop for stop in stops if stop]
        self._hold = max((len(stop) for stop in self._stops), default=1) - 1
        self._pending = ""
        self.matched = False

    def feed(self, text: str) -> str:
        """The text that can be sent now. Once a stop sequence is seen, ``matched`` is True and nothing follows."""
        if not self._stops:
            return text
        if self.matched:
            return ""
        self._pending += text
        found = [at for at in (self._pending.find(stop) for stop in self._stops) if at >= 0]
        if found:
            self.matched = True
            out, self._pending = self._pending[: min(found)], ""
            return out
        cut = max(0, len(self._pending) - self._hold)
        out, self._pending = self._pending[:cut], self._pending[cut:]
        return out

    def flush(self) -> str:
        """What was held back, once the text has ended without a stop sequence."""
        out, self._pending = ("" if self.matched else self._pending), ""
        return out
