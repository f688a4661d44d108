"""The one usage meter every generation path calls: ``reserve`` before a model runs (refusing it when the user's
monthly budget is used up), ``settle`` once it has ended, however it ended.

A reservation is the answer's ``max_tokens`` plus its prompt's estimated tokens, added to the user's counter of
the month at once; settling replaces it with what the answer used. The store adds a reservation only while the
counter is under the budget, so answers running in parallel overshoot it by at most one reservation.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any, Literal

from parley.core.store.base import UsageRecord, UsageStore
from parley.core.usage.months import month_key, next_month_start, utc
from parley.errors import BudgetExceeded

log = logging.getLogger(__name__)

Source = Literal["app", "api"]


@dataclass(frozen=True)
class Reservation:
    """Tokens held in ``user_id``'s counter of ``month`` until the answer settles. Plain data: on AWS it travels
    with the prepared chat from the function that took it to the worker that settles it."""

    user_id: str
    month: str
    tokens: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Reservation:
        return cls(user_id=str(data["user_id"]), month=str(data["month"]), tokens=int(data["tokens"]))


class UsageMeter:
    def __init__(self, store: UsageStore, *, clock: Callable[[], float] = time.time) -> None:
        self._store = store
        self._clock = clock

    async def reserve(self, user_id: str, max_tokens: int, prompt_tokens: int = 0) -> Reservation:
        """Hold ``max_tokens`` (plus the prompt's tokens, when known) of the user's month; BudgetExceeded, with
        when the budget resets, when the user has a budget and it is used up."""
        now = self._clock()
        month = month_key(now)
        tokens = max(0, max_tokens) + max(0, prompt_tokens)
        budget = await self._store.reserve(user_id, month, tokens)
        if budget is not None:
            raise BudgetExceeded(budget, next_month_start(month), utc(now))
        return Reservation(user_id, month, tokens)

    async def settle(
        self,
        reservation: Reservation,
        model: str,
        prompt_tokens: int,
        completion_tokens: int,
        *,
        key_id: str | None = None,
        source: Source = "app",
        estimated: bool = False,
    ) -> None:
        """Record what the answer used and give back the rest of its reservation. Runs to the end even when the
        task calling it is cancelled (the answer's generation was), so a reservation is never left held."""
        record = UsageRecord(
            user_id=reservation.user_id,
            model=model,
            prompt_tokens=max(0, prompt_tokens),
            completion_tokens=max(0, completion_tokens),
            estimated=estimated,
            source=source,
            created_at=self._clock(),
            key_id=key_id,
        )
        await asyncio.shield(self._store.settle(record, reservation.month, reservation.tokens))

    async def release(self, reservation: Reservation, model: str) -> None:
        """Give the whole reservation back: the answer never ran (nothing is recorded)."""
        await self.settle(reservation, model, 0, 0)
