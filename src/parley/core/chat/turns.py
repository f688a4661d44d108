"""Preparing a turn: check the request (and its attached files), take one of the user's answer slots, and write the
user's message and the empty answer to fill, through the message log. Nothing is written when the request is
refused."""

from __future__ import annotations

import dataclasses
import logging
import uuid
from collections.abc import Callable
from typing import Any

from parley.core.chat.abandoned import AbandonedAnswers
from parley.core.chat.context import build_context, title_from_prompt
from parley.core.chat.file_context import Attachments, FileContext
from parley.core.chat.params import resolve_generation_params
from parley.core.chat.request import MAX_MSGID_CHARS, ChatLimits, ChatRequest, PreparedChat
from parley.core.chat.slots import AnswerSlots
from parley.core.files.base import FileKind, StoredFile
from parley.core.providers.base import ChatMessage, GenerationParams
from parley.core.providers.registry import ModelRegistry
from parley.core.store.base import (
    Conversation,
    ConversationStore,
    Message,
    MessageLog,
    MessageStatus,
    StopSignalStore,
    User,
)
from parley.core.store.parts import CitationPart, ContentPart, FilePart, parts_of_type, text_parts
from parley.core.store.tree import path_to, subtree
from parley.core.usage.estimate import estimate_prompt_tokens
from parley.core.usage.meter import UsageMeter
from parley.errors import InvalidInput, NotFound, ParleyError

log = logging.getLogger(__name__)

# Told a turn's model id, context and parameters once nothing can refuse it any more (before it is saved).
CheckedTurn = Callable[[str, tuple[ChatMessage, ...], GenerationParams], None]


class Turns:
    def __init__(
        self,
        conversations: ConversationStore,
        messages: MessageLog,
        generations: StopSignalStore,
        models: ModelRegistry,
        abandoned: AbandonedAnswers,
        limits: ChatLimits,
        meter: UsageMeter,
        files: FileContext,
    ) -> None:
        self._files = files
        self._conversations = conversations
        self._messages = messages
        self._generations = generations
        self._models = models
        self._abandoned = abandoned
        self._limits = limits
        self._meter = meter
        self._slots = AnswerSlots(generations, limits)

    async def prepare(self, user: User, request: ChatRequest, *, checked: CheckedTurn | None = None) -> PreparedChat:
        """Check the request, then save the user's message and an empty answer to fill. ``checked``, if given,
        is called once everything that can refuse the request has passed and before anything is saved, with
        the model, context and parameters the answer will use (the model can start on them meanwhile)."""
        prompt = request.prompt
        if not prompt.strip():
            if not request.attachments:
                raise InvalidInput("The message is empty.")
            prompt = ""  # files alone are a message ("what is in this?"); blanks around them are not text
        if len(prompt) > self._limits.max_prompt_chars:
            raise InvalidInput(f"The message is longer than {self._limits.max_prompt_chars} characters.")
        msgid = request.msgid or uuid.uuid4().hex
        if len(msgid) > MAX_MSGID_CHARS:
            raise InvalidInput(f"msgid is longer than {MAX_MSGID_CHARS} characters.")
        if len(request.attachments) > self._files.max_attachments:
            raise InvalidInput(f"At most {self._files.max_attachments} files can be attached to a message.")

        model_id = request.params.model or self._models.default_model
        if model_id is None:
            raise InvalidInput("No model is configured on this server.")
        model = self._models.get(model_id)
        params = resolve_generation_params(request.params, model.info)

        if request.edit_message_id is not None and request.conversation_id is None:
            raise InvalidInput("edit_message_id needs the conversation_id it belongs to.")
        conversation: Conversation | None = None
        history: list[Message] = []  # the branch the new turn continues, oldest first
        asked: Message | None = None  # regenerating: the user message answered again
        if request.conversation_id is not None:
            conversation = await self._conversations.get_conversation(user.id, request.conversation_id)
            if conversation is None:
                raise NotFound("Conversation not found.")
            if request.edit_message_id is not None:
                edited, history = await self._message_to_edit(user.id, conversation.id, request.edit_message_id)
                # The same text, and the same files or none named: the question is answered again, with its files.
                edited_files = [part.file_id for part in parts_of_type(edited.parts, FilePart)]
                if edited.content == prompt and set(request.attachments) <= set(edited_files):
                    asked = edited
            else:
                history = await self._messages.path(user.id, conversation.id) or []
        parent_id = history[-1].id if history else None
        attached = await self._files.check(
            user.id, [part.file_id for part in parts_of_type(asked.parts, FilePart)] if asked else request.attachments
        )
        if attached.images:
            self._models.require_vision(model_id)  # ModelCannotSee, naming a model here that can

        # Everything that can refuse the request is checked before anything is written; the last checks,
        # the user's monthly token budget and a free slot among the user's answers (both counted in the store,
        # shared by every process), reserve the answer's tokens and record the msgid, or write nothing.
        budget = min(self._limits.context_budget_tokens, model.info.context_window - params.max_tokens)
        documents = await self._files.documents(
            user.id, await self._documents(user.id, history, attached), prompt, budget
        )
        context = build_context(
            request.params.system_prompt,
            history,
            prompt,
            budget,
            documents=documents.text,
            images=attached.images,
        )
        reservation = await self._meter.reserve(user.id, params.max_tokens, estimate_prompt_tokens(context))
        try:
            await self._slots.take(user.id, msgid)
        except BaseException:
            await self._meter.release(reservation, model_id)
            raise
        try:
            if checked is not None:
                checked(model_id, tuple(context), params)
            if conversation is None:
                named = prompt if prompt.strip() else ", ".join(file.name for file in attached.files)
                title = title_from_prompt(named, self._limits.title_max_chars)
                conversation = await self._conversations.create_conversation(user.id, title, model_id)
            user_message = asked or await self._append(
                user.id,
                conversation.id,
                parent_id,
                "user",
                (*text_parts(prompt), *attached.parts),
                MessageStatus.COMPLETE,
                msgid=msgid,
            )
            used = {**dataclasses.asdict(params), "model": model_id}
            if request.params.system_prompt is not None:
                used["system_prompt"] = request.params.system_prompt
            placeholder = await self._append(
                user.id,
                conversation.id,
                user_message.id,
                "assistant",
                tuple(CitationPart(**vars(citation)) for citation in documents.citations),
                MessageStatus.STREAMING,
                model=model_id,
                params=used,
                msgid=msgid,
            )
        except BaseException:
            await self.release(user.id, msgid)  # nothing will run: free the slot now, not when its lease ends
            await self._meter.release(reservation, model_id)
            raise

        return PreparedChat(
            user_id=user.id,
            msgid=msgid,
            conversation_id=conversation.id,
            title=conversation.title,
            user_message_id=user_message.id,
            message_id=placeholder.id,
            model=model_id,
            params=params,
            context=tuple(context),
            reservation=reservation,
            citations=documents.citations,
        )

    async def _documents(self, user_id: str, history: list[Message], attached: Attachments) -> list[StoredFile]:
        """The documents the turn reads: those attached earlier in the branch, then the new ones."""
        documents = await self._files.earlier_documents(user_id, history)
        seen = {file.id for file in documents}
        documents += [f for f in attached.files if f.kind is FileKind.DOCUMENT and f.id not in seen]
        return documents

    async def fail(self, prepared: PreparedChat, error: ParleyError) -> None:
        """Record that a prepared turn could not be answered at all (its user message is kept)."""
        try:
            await self._messages.update(
                prepared.user_id,
                prepared.conversation_id,
                prepared.message_id,
                parts=(),
                status=MessageStatus.ERROR,
                finish_reason=error.code,
            )
            await self._generations.finish_generation(prepared.user_id, prepared.msgid)
        finally:
            await self._meter.release(prepared.reservation, prepared.model)

    async def release(self, user_id: str, msgid: str) -> None:
        """The answer ended: free its slot (it can no longer be stopped or followed)."""
        await self._slots.free(user_id, msgid)

    async def _message_to_edit(
        self, user_id: str, conversation_id: str, message_id: str
    ) -> tuple[Message, list[Message]]:
        """The user message to edit, and the branch before it."""
        messages = await self._abandoned.settled_messages(user_id, conversation_id) or []
        target = next((m for m in messages if m.id == message_id), None)
        if target is None or target.role != "user":
            raise NotFound("Message not found.")
        # An answer still being written below it would go on into a branch the user just left.
        if any(m.status == MessageStatus.STREAMING for m in subtree(messages, target.id)):
            raise InvalidInput("Wait for the answer to finish (or stop it) before editing.")
        before = path_to(messages, target.parent_id) if target.parent_id is not None else []
        return target, before or []

    async def _append(
        self,
        user_id: str,
        conversation_id: str,
        parent_id: str | None,
        role: str,
        parts: tuple[ContentPart, ...],
        status: MessageStatus,
        *,
        model: str | None = None,
        params: dict[str, Any] | None = None,
        msgid: str | None = None,
    ) -> Message:
        message = await self._messages.append(
            user_id,
            conversation_id,
            parent_id=parent_id,
            role=role,
            parts=parts,
            status=status,
            model=model,
            params=params,
            client_msgid=msgid,
        )
        if message is None:  # deleted between the check and the write
            raise NotFound("Conversation not found.")
        return message
