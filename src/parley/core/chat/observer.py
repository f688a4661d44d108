"""What operators watch of every model run, whichever path asked for it (a chat turn, the OpenAI-compatible API):
runs under way, time to first token, tokens, and provider errors, by model.

The core only calls an observer; the edge decides what one does (Prometheus metrics, traces). The calls are cheap
and never raise into a run.
"""

from __future__ import annotations

from typing import Protocol


class RunObserver(Protocol):
    def run_started(self, model: str) -> None: ...

    def first_token(self, model: str, seconds: float) -> None:
        """The first text of a run arrived ``seconds`` after it started."""

    def run_ended(
        self,
        model: str,
        *,
        seconds: float,
        prompt_tokens: int | None,
        completion_tokens: int | None,
        outcome: str,
    ) -> None:
        """A run ended: ``outcome`` is ``complete``, ``stopped``, or the code of the error it ended with. Token
        counts are the provider's (None when it gave none)."""


class NoObserver:
    def run_started(self, model: str) -> None:
        pass

    def first_token(self, model: str, seconds: float) -> None:
        pass

    def run_ended(
        self,
        model: str,
        *,
        seconds: float,
        prompt_tokens: int | None,
        completion_tokens: int | None,
        outcome: str,
    ) -> None:
        pass


class Observers:
    """Several observers as one (metrics and traces together)."""

    def __init__(self, *observers: RunObserver) -> None:
        self._observers = observers

    def run_started(self, model: str) -> None:
        for observer in self._observers:
            observer.run_started(model)

    def first_token(self, model: str, seconds: float) -> None:
        for observer in self._observers:
            observer.first_token(model, seconds)

    def run_ended(
        self,
        model: str,
        *,
        seconds: float,
        prompt_tokens: int | None,
        completion_tokens: int | None,
        outcome: str,
    ) -> None:
        for observer in self._observers:
            observer.run_ended(
                model,
                seconds=seconds,
                prompt_tokens=prompt_tokens,
                completion_tokens=completion_tokens,
                outcome=outcome,
            )
