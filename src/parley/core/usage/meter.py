"""The one usage meter every generation path calls: ``reserve`` before a model runs (refusing it when the user's
monthly budget is used up), ``settle`` once it has ended, however it ended.

A reservation is the answer's ``max_tokens`` plus its prompt's estimated tokens, added to the user's counter of
the month at once; settling replaces it with what the answer used. The store adds a reservation only while the
counter is under the budget, so answers running in parallel overshoot it by at most one reservation.

Each reservation leaves a hold in the store until it settles. If the process running the answer dies first (an AWS
worker killed or out of time, a crashed ``parley serve``), nothing settles it: once the hold expires, the next
reservation or read of the user's counter gives its tokens back, recording nothing as used. A worker that was only
slow and settles after that adds what its answer used (the reservation is not taken off twice); a second settle of
the same reservation changes nothing.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any, Literal

from parley.core.store.base import UsageHold, UsageRecord, UsageStore
from parley.core.usage.months import month_key, next_month_start, utc
from parley.errors import BudgetExceeded

log = logging.getLogger(__name__)

Source = Literal["app", "api"]

# How long a hold lasts: longer than any answer may take to end. On AWS the worker may wait 15 minutes in Lambda's
# queue (``WORKER_QUEUE_AGE``) and then run 15 minutes at most; five more cover a late start and clocks that differ.
HOLD_SECONDS = 35 * 60.0


@dataclass(frozen=True)
class Reservation:
    """Tokens held in ``user_id``'s counter of ``month`` until the answer settles. Plain data: on AWS it travels
    with the prepared chat from the function that took it to the worker that settles it."""

    user_id: str
    month: str
    tokens: int
    # The store's hold of this reservation; None in one taken before holds existed (a prepared chat in flight
    # during a deploy), which settles as reservations did then.
    hold_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Reservation:
        hold_id = data.get("hold_id")
        return cls(
            user_id=str(data["user_id"]),
            month=str(data["month"]),
            tokens=int(data["tokens"]),
            hold_id=None if hold_id is None else str(hold_id),
        )


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
        hold = UsageHold(id=uuid.uuid4().hex, started_at=now, expires_at=now + HOLD_SECONDS)
        budget = await self._store.reserve(user_id, month, tokens, hold)
        if budget is not None:
            raise BudgetExceeded(budget, next_month_start(month), utc(now))
        return Reservation(user_id, month, tokens, hold.id)

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
        """Record what the answer used and give back the rest of its reservation, once: a reservation settled
        already is left as it is. Runs to the end even when the task calling it is cancelled (the answer's
        generation was), so a reservation is never left held."""
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
        settle = self._store.settle(record, reservation.month, reservation.tokens, reservation.hold_id)
        await asyncio.shield(settle)

    async def release(self, reservation: Reservation, model: str) -> None:
        """Give the whole reservation back: the answer never ran (nothing is recorded)."""
        await self.settle(reservation, model, 0, 0)
