"""Each user's answer slots: at most ``max_generations_per_user`` answers of a user run at once, whatever asked for
them (a chat turn in the web app, a ``/v1`` request with a key), in every process sharing the store. A slot is held
by the answer's id until the answer ends, or at the latest until its lease ends (a process that dies mid-answer
never says so)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from parley.core.chat.request import ChatLimits
from parley.core.store.base import Registration, StopSignalStore
from parley.errors import DuplicateRequest, TooManyGenerations

log = logging.getLogger(__name__)


class AnswerSlots:
    def __init__(
        self, generations: StopSignalStore, limits: ChatLimits, *, clock: Callable[[], float] = time.time
    ) -> None:
        self._generations = generations
        self._limits = limits
        self._clock = clock

    async def take(self, user_id: str, answer_id: str) -> None:
        """Record the answer in a free slot of the user's; DuplicateRequest when the id was taken before (a
        request sent twice), TooManyGenerations when every slot is running."""
        now = self._clock()
        registration = await self._generations.register_generation(
            user_id,
            answer_id,
            now + self._limits.msgid_ttl_seconds,
            max_running=self._limits.max_generations_per_user,
            lease_until=now + self._limits.slot_lease_seconds,
        )
        if registration is Registration.DUPLICATE:
            raise DuplicateRequest()
        if registration is Registration.AT_CAPACITY:
            cap = self._limits.max_generations_per_user
            raise TooManyGenerations(
                f"You already have {cap} answers being generated, the most at once (in the app and through the API"
                " together). Wait for one to finish."
            )

    async def free(self, user_id: str, answer_id: str) -> None:
        """The answer ended: free its slot. Runs to the end even when the caller is cancelled (the client went
        away), and never raises: a slot that could not be freed is freed by its lease."""
        try:
            await asyncio.shield(self._generations.finish_generation(user_id, answer_id))
        except Exception:
            log.exception("could not free the slot of answer %s", answer_id)
