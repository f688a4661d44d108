"""Rejoining an answer from what is saved: the text a reader missed, and how the answer ended.

An answer's saved text is its deltas up to some ``seq`` (a delta's ``seq`` is the answer's length in characters
once its text is added), so the text after any ``seq`` a reader has is exact, saved or live.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from parley.core.chat.abandoned import AbandonedAnswers
from parley.core.chat.events import DoneEvent, ErrorEvent, StreamEvent
from parley.core.chat.live import catch_up
from parley.core.store.base import Message, MessageStatus
from parley.errors import NotFound, StreamInterrupted, message_for_code


@dataclass(frozen=True)
class SavedAnswer:
    """What a reader who has the answer up to ``after_seq`` is owed from the saved answer: the text it missed (as
    one delta) and, once the answer has ended, its done or error event."""

    events: tuple[StreamEvent, ...]
    ended: bool
    message: Message


def answer_of(messages: Sequence[Message], msgid: str) -> Message:
    """The answer a request (``msgid``) asked for; NotFound when there is none among ``messages``."""
    for message in reversed(messages):
        if message.role == "assistant" and message.client_msgid == msgid:
            return message
    raise NotFound("No answer with that msgid.")


def saved_answer(message: Message, msgid: str, after_seq: int) -> SavedAnswer:
    missed = catch_up(msgid, message.content, after_seq)
    ending = ending_of(message, msgid)
    events = tuple(event for event in (missed, ending) if event is not None)
    return SavedAnswer(events=events, ended=ending is not None, message=message)


def ending_of(message: Message, msgid: str) -> StreamEvent | None:
    """The event a live reader got when the answer ended, from the saved answer; None while it is streaming."""
    usage = None
    if message.prompt_tokens is not None and message.completion_tokens is not None:
        usage = {"prompt_tokens": message.prompt_tokens, "completion_tokens": message.completion_tokens}
    if message.status == MessageStatus.COMPLETE:
        return DoneEvent(msgid=msgid, finish_reason=message.finish_reason or "stop", usage=usage)
    if message.status == MessageStatus.STOPPED:
        return DoneEvent(msgid=msgid, finish_reason="stopped", usage=usage)
    if message.status in (MessageStatus.INTERRUPTED, MessageStatus.ERROR):
        code = message.finish_reason or StreamInterrupted.code
        return ErrorEvent(msgid=msgid, code=code, message=message_for_code(code) or StreamInterrupted.default_message)
    return None


class SavedAnswers:
    """Answers as saved, for readers who rejoin them (any process can answer: nothing here is in memory)."""

    def __init__(self, abandoned: AbandonedAnswers) -> None:
        self._abandoned = abandoned

    async def get(self, user_id: str, conversation_id: str, msgid: str, after_seq: int) -> SavedAnswer:
        """What is saved of the answer ``msgid`` asked for, after ``after_seq``; NotFound when the user has none."""
        messages = await self._abandoned.settled_messages(user_id, conversation_id)
        if messages is None:
            raise NotFound("No answer with that msgid.")
        return saved_answer(answer_of(messages, msgid), msgid, after_seq)
