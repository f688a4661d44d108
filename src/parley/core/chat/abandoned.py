"""Answers whose process died before they ended (a crash, a killed server, a worker stopped at its time limit).

Such an answer would read as streaming forever, and its question could not be edited: one left unsaved for longer
than any live answer is settled when it is read, as interrupted (or error, if empty), and saved so.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable

from parley.core.store.base import Message, MessageLog, MessageStatus
from parley.errors import AnswerAbandoned

log = logging.getLogger(__name__)


class AbandonedAnswers:
    def __init__(
        self, messages: MessageLog, abandoned_after: float, *, wall_clock: Callable[[], float] = time.time
    ) -> None:
        self._messages = messages
        self.abandoned_after = abandoned_after
        self._wall_clock = wall_clock  # the stores' timestamps are wall-clock times

    async def settled_messages(self, user_id: str, conversation_id: str) -> list[Message] | None:
        """Every message of the conversation, abandoned answers settled; None when it is not the user's."""
        messages = await self._messages.all_messages(user_id, conversation_id)
        if messages is None:
            return None
        return [await self.settle(user_id, message) for message in messages]

    async def settle(self, user_id: str, message: Message) -> Message:
        if message.status != MessageStatus.STREAMING:
            return message
        if self._wall_clock() - message.updated_at <= self.abandoned_after:
            return message
        status = MessageStatus.INTERRUPTED if message.content else MessageStatus.ERROR
        await self._messages.update(
            user_id,
            message.conversation_id,
            message.id,
            parts=message.parts,
            status=status,
            finish_reason=AnswerAbandoned.code,
        )
        log.warning("answer %s was abandoned mid-way; saved as %s", message.id, status.value)
        return dataclasses.replace(message, status=status, finish_reason=AnswerAbandoned.code)
