"""What operators watch of every model run, whichever path asked for it (a chat turn, the OpenAI-compatible API):
runs under way, time to first token, tokens, and provider errors, by model.

The core only calls an observer; the edge decides what one does (Prometheus metrics, trace spans). A run is
watched from its start: ``run_started`` returns the watch that is told of its first token and its end.
"""

from __future__ import annotations

from typing import Protocol


class RunWatch(Protocol):
    def first_token(self, seconds: float) -> None:
        """The first text of the run arrived ``seconds`` after it started."""

    def ended(self, *, seconds: float, prompt_tokens: int | None, completion_tokens: int | None, outcome: str) -> None:
        """The run ended: ``outcome`` is ``complete``, ``stopped``, ``cancelled`` or the code of the error it ended
        with. Token counts are the provider's (None when it gave none)."""


class RunObserver(Protocol):
    def run_started(self, model: str) -> RunWatch: ...


class _Unwatched:
    def first_token(self, seconds: float) -> None:
        pass

    def ended(self, *, seconds: float, prompt_tokens: int | None, completion_tokens: int | None, outcome: str) -> None:
        pass


_UNWATCHED = _Unwatched()


class NoObserver:
    def run_started(self, model: str) -> RunWatch:
        return _UNWATCHED


class Observers:
    """Several observers as one (metrics and traces together)."""

    def __init__(self, *observers: RunObserver) -> None:
        self._observers = observers

    def run_started(self, model: str) -> RunWatch:
        return _Watches([observer.run_started(model) for observer in self._observers])


class _Watches:
    def __init__(self, watches: list[RunWatch]) -> None:
        self._watches = watches

    def first_token(self, seconds: float) -> None:
        for watch in self._watches:
            watch.first_token(seconds)

    def ended(self, *, seconds: float, prompt_tokens: int | None, completion_tokens: int | None, outcome: str) -> None:
        for watch in self._watches:
            watch.ended(
                seconds=seconds, prompt_tokens=prompt_tokens, completion_tokens=completion_tokens, outcome=outcome
            )
