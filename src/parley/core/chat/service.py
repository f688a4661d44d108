"""Chat: assemble context, run the provider in the background, save as it goes, emit typed events.

A generation runs as its own task, not in the request that started it: when the client goes
away the answer still finishes and is saved. Clients read its events from a queue and may stop it.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import aclosing
from dataclasses import asdict, dataclass, field
from typing import Any

from parley.core.chat.context import build_context, title_from_prompt
from parley.core.chat.events import DeltaEvent, DoneEvent, ErrorEvent, StartEvent, StreamEvent
from parley.core.chat.params import ChatParams, resolve_generation_params
from parley.core.chat.upstream import UpstreamPolicy, stream_with_policy
from parley.core.providers.base import (
    ChatMessage,
    FinishChunk,
    GenerationParams,
    TextChunk,
    Usage,
    UsageChunk,
)
from parley.core.providers.registry import ModelRegistry, RegisteredModel
from parley.core.store.base import (
    Conversation,
    ConversationStore,
    Message,
    MessageLog,
    MessageStatus,
    Registration,
    StopSignalStore,
    User,
)
from parley.core.store.parts import text_parts
from parley.core.store.tree import Branch, branch_of, newest_leaf_below, path_to, subtree
from parley.errors import (
    AnswerAbandoned,
    DuplicateRequest,
    InvalidInput,
    NotFound,
    ParleyError,
    ProviderError,
    StreamInterrupted,
    TooManyGenerations,
)

log = logging.getLogger(__name__)

MAX_MSGID_CHARS = 64


@dataclass(frozen=True)
class ChatRequest:
    prompt: str
    conversation_id: str | None = None
    msgid: str | None = None
    params: ChatParams = field(default_factory=ChatParams)
    # Edit and resend: a new user message beside this one (same parent), answered; the branch it starts becomes
    # the current one and the old branch is kept. With the edited message's own text: a new answer beside its
    # answers (regenerate).
    edit_message_id: str | None = None


@dataclass(frozen=True)
class ChatLimits:
    max_prompt_chars: int = 32_000
    context_budget_tokens: int = 6000
    save_interval_seconds: float = 1.0
    title_max_chars: int = 60
    max_generations_per_user: int = 4
    # The latest an answer frees its user's slot if its process dies before saying it ended. Longer than
    # an answer can run on AWS (the worker Lambda is stopped at 15 minutes), so a live answer keeps it.
    slot_lease_seconds: float = 16 * 60
    # How long a msgid stays taken (longer than any answer runs), so a retried request is answered once.
    msgid_ttl_seconds: float = 20 * 60
    # A live answer is saved at least this often, tokens or not (waiting for a first token can take minutes),
    # so an answer whose process died can be told from a slow one soon after.
    heartbeat_seconds: float = 15.0
    # An answer is abandoned once it has gone unsaved this much longer than a live answer ever does. The
    # margin covers a worker that starts late (SNS) and machines whose clocks disagree a little.
    abandoned_margin_seconds: float = 60.0


@dataclass(frozen=True)
class PreparedChat:
    """Everything a generation needs once the request is accepted and the user's message saved.

    Plain data, so one process can prepare a chat and another run it (the serverless path sends it
    through SNS from the ``sendprompt`` handler to the worker).
    """

    user_id: str
    msgid: str
    conversation_id: str
    title: str
    user_message_id: str
    message_id: str
    model: str
    params: GenerationParams
    context: tuple[ChatMessage, ...]

    def start_event(self) -> StartEvent:
        return StartEvent(
            msgid=self.msgid,
            conversation_id=self.conversation_id,
            message_id=self.message_id,
            user_message_id=self.user_message_id,
            model=self.model,
            title=self.title,
        )

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["context"] = [{"role": m.role, "content": m.content} for m in self.context]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PreparedChat:
        fields = dict(data)
        fields["params"] = GenerationParams(**fields["params"])
        fields["context"] = tuple(ChatMessage(m["role"], m["content"]) for m in fields["context"])
        return cls(**fields)


_END = object()


class Generation:
    """One answer being generated. Read ``events()`` once; ``stop()`` ends it early."""

    def __init__(self, user_id: str, msgid: str) -> None:
        self.user_id = user_id
        self.msgid = msgid
        self._queue: asyncio.Queue[StreamEvent | object] = asyncio.Queue()
        self._stop = asyncio.Event()
        self._detached = False
        self.task: asyncio.Task[None] | None = None

    def emit(self, event: StreamEvent) -> None:
        if not self._detached:
            self._queue.put_nowait(event)

    def finish(self) -> None:
        self._queue.put_nowait(_END)

    def stop(self) -> None:
        self._stop.set()

    @property
    def stop_requested(self) -> bool:
        return self._stop.is_set()

    async def wait_stop(self) -> None:
        await self._stop.wait()

    def detach(self) -> None:
        """The client went away: keep generating and saving, but stop queueing events for nobody."""
        self._detached = True
        while not self._queue.empty():
            self._queue.get_nowait()

    async def events(self) -> AsyncIterator[StreamEvent]:
        while True:
            item = await self._queue.get()
            if item is _END:
                return
            assert isinstance(item, StreamEvent)
            yield item

    async def wait(self) -> None:
        if self.task is not None:
            await asyncio.shield(self.task)


@dataclass
class _Answer:
    """What has been generated so far for one assistant message."""

    user_id: str
    conversation_id: str
    message_id: str
    text: list[str] = field(default_factory=list)
    seq: int = 0
    usage: Usage | None = None
    finish_reason: str | None = None
    saved_at: float = 0.0
    # Saves take turns, each writing the text as it is then: a heartbeat never lands after newer text.
    saving: asyncio.Lock = field(default_factory=asyncio.Lock)

    @property
    def content(self) -> str:
        return "".join(self.text)

    @property
    def usage_dict(self) -> dict[str, int] | None:
        if self.usage is None:
            return None
        return {"prompt_tokens": self.usage.prompt_tokens, "completion_tokens": self.usage.completion_tokens}


class ChatService:
    def __init__(
        self,
        conversations: ConversationStore,
        messages: MessageLog,
        generations: StopSignalStore,
        models: ModelRegistry,
        *,
        limits: ChatLimits,
        policy: UpstreamPolicy,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self._conversations = conversations
        self._messages = messages
        self._generations = generations
        self._models = models
        self._limits = limits
        self._policy = policy
        self._clock = clock
        self._wall_clock = wall_clock  # the stores' timestamps are wall-clock times
        self._active: dict[tuple[str, str], Generation] = {}
        # A live answer is saved once a save interval has passed and a chunk arrives, and by its heartbeat.
        self._abandoned_after = (
            max(limits.heartbeat_seconds, limits.save_interval_seconds) + limits.abandoned_margin_seconds
        )

    async def start(self, user: User, request: ChatRequest) -> Generation:
        """Validate, save the user's message, and start generating. Returns once the start event is queued."""
        return self.launch(await self.prepare(user, request))

    async def prepare(self, user: User, request: ChatRequest) -> PreparedChat:
        """Check the request, then save the user's message and an empty answer to fill. Nothing is written
        when the request is refused."""
        prompt = request.prompt
        if not prompt.strip():
            raise InvalidInput("The message is empty.")
        if len(prompt) > self._limits.max_prompt_chars:
            raise InvalidInput(f"The message is longer than {self._limits.max_prompt_chars} characters.")
        msgid = request.msgid or uuid.uuid4().hex
        if len(msgid) > MAX_MSGID_CHARS:
            raise InvalidInput(f"msgid is longer than {MAX_MSGID_CHARS} characters.")

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
                if edited.content == prompt:
                    asked = edited
            else:
                history = await self._messages.path(user.id, conversation.id) or []
        parent_id = history[-1].id if history else None

        # Everything that can refuse the request is checked before anything is written; the last check,
        # a free slot among the user's answers (counted in the store, shared by every process), also
        # records the msgid, or writes nothing.
        budget = min(self._limits.context_budget_tokens, model.info.context_window - params.max_tokens)
        context = build_context(request.params.system_prompt, history, prompt, budget)
        await self._register(user.id, msgid)
        try:
            if conversation is None:
                title = title_from_prompt(prompt, self._limits.title_max_chars)
                conversation = await self._conversations.create_conversation(user.id, title, model_id)
            user_message = asked or await self._append(
                user.id, conversation.id, parent_id, "user", prompt, MessageStatus.COMPLETE, msgid=msgid
            )
            used = {**dataclasses.asdict(params), "model": model_id}
            if request.params.system_prompt is not None:
                used["system_prompt"] = request.params.system_prompt
            placeholder = await self._append(
                user.id,
                conversation.id,
                user_message.id,
                "assistant",
                "",
                MessageStatus.STREAMING,
                model=model_id,
                params=used,
                msgid=msgid,
            )
        except BaseException:
            await self._release(user.id, msgid)  # nothing will run: free the slot now, not when its lease ends
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
        )

    async def _register(self, user_id: str, msgid: str) -> None:
        now = time.time()
        registration = await self._generations.register_generation(
            user_id,
            msgid,
            now + self._limits.msgid_ttl_seconds,
            max_running=self._limits.max_generations_per_user,
            lease_until=now + self._limits.slot_lease_seconds,
        )
        if registration is Registration.DUPLICATE:
            raise DuplicateRequest()
        if registration is Registration.AT_CAPACITY:
            raise TooManyGenerations()

    async def _release(self, user_id: str, msgid: str) -> None:
        try:
            await asyncio.shield(self._generations.finish_generation(user_id, msgid))
        except Exception:
            log.exception("could not mark answer %s finished", msgid)

    def launch(self, prepared: PreparedChat) -> Generation:
        """Start generating a prepared chat in the background; its first event is ``start``."""
        model = self._models.get(prepared.model)
        generation = Generation(prepared.user_id, prepared.msgid)
        generation.emit(prepared.start_event())
        self._active[(prepared.user_id, prepared.msgid)] = generation
        generation.task = asyncio.create_task(
            self._run(
                generation,
                model,
                list(prepared.context),
                prepared.params,
                _Answer(prepared.user_id, prepared.conversation_id, prepared.message_id),
            ),
            name=f"generation-{prepared.msgid}",
        )
        return generation

    @property
    def abandoned_after(self) -> float:
        """Seconds unsaved after which a streaming answer is taken for abandoned (see :meth:`history`)."""
        return self._abandoned_after

    async def history(self, user_id: str, conversation_id: str) -> Branch | None:
        """The conversation's current branch, with each message's siblings; None when it is not the user's.

        An answer whose process died before it ended (a crash, a killed server, a worker stopped at its
        time limit) would read as streaming forever, and its question could not be edited: one left
        unsaved for longer than any live answer is settled here as interrupted (or error, if empty), and saved.
        """
        conversation = await self._conversations.get_conversation(user_id, conversation_id)
        messages = await self._settled_messages(user_id, conversation_id)
        if conversation is None or messages is None:
            return None
        return branch_of(messages, conversation.current_leaf_id)

    async def switch_branch(self, user_id: str, conversation_id: str, message_id: str) -> Branch | None:
        """Show and continue the branch through ``message_id``: to the newest leaf below it (the branch last
        worked on there). None when it is not a message of the user's conversation."""
        messages = await self._settled_messages(user_id, conversation_id)
        leaf = newest_leaf_below(messages or [], message_id)
        if messages is None or leaf is None:
            return None
        if not await self._messages.set_current_leaf(user_id, conversation_id, leaf.id):
            return None  # deleted meanwhile
        return branch_of(messages, leaf.id)

    async def _settled_messages(self, user_id: str, conversation_id: str) -> list[Message] | None:
        messages = await self._messages.all_messages(user_id, conversation_id)
        if messages is None:
            return None
        return [await self._settle_if_abandoned(user_id, message) for message in messages]

    async def _settle_if_abandoned(self, user_id: str, message: Message) -> Message:
        if message.status != MessageStatus.STREAMING:
            return message
        if self._wall_clock() - message.updated_at <= self._abandoned_after:
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

    async def _message_to_edit(
        self, user_id: str, conversation_id: str, message_id: str
    ) -> tuple[Message, list[Message]]:
        """The user message to edit, and the branch before it."""
        messages = await self._settled_messages(user_id, conversation_id) or []
        target = next((m for m in messages if m.id == message_id), None)
        if target is None or target.role != "user":
            raise NotFound("Message not found.")
        # An answer still being written below it would go on into a branch the user just left.
        if any(m.status == MessageStatus.STREAMING for m in subtree(messages, target.id)):
            raise InvalidInput("Wait for the answer to finish (or stop it) before editing.")
        before = path_to(messages, target.parent_id) if target.parent_id is not None else []
        return target, before or []

    async def fail(self, prepared: PreparedChat, error: ParleyError) -> None:
        """Record that a prepared chat could not be answered at all (its user message is kept)."""
        await self._messages.update(
            prepared.user_id,
            prepared.conversation_id,
            prepared.message_id,
            parts=(),
            status=MessageStatus.ERROR,
            finish_reason=error.code,
        )
        await self._generations.finish_generation(prepared.user_id, prepared.msgid)

    def stop(self, user_id: str, msgid: str) -> bool:
        """Ask a running generation of this user to stop; False when there is none."""
        generation = self._active.get((user_id, msgid))
        if generation is None:
            return False
        generation.stop()
        return True

    async def aclose(self) -> None:
        """On shutdown: stop every generation and wait for its partial answer to be saved."""
        generations = list(self._active.values())
        for generation in generations:
            generation.stop()
        for generation in generations:
            await generation.wait()

    async def _append(
        self,
        user_id: str,
        conversation_id: str,
        parent_id: str | None,
        role: str,
        text: str,
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
            parts=text_parts(text),
            status=status,
            model=model,
            params=params,
            client_msgid=msgid,
        )
        if message is None:  # deleted between the check and the write
            raise NotFound("Conversation not found.")
        return message

    async def _run(
        self,
        generation: Generation,
        model: RegisteredModel,
        context: list[ChatMessage],
        params: GenerationParams,
        answer: _Answer,
    ) -> None:
        msgid = generation.msgid
        try:
            async with self._kept_saved(answer):
                stopped = await self._generate(generation, model, context, params, answer)
            status = MessageStatus.STOPPED if stopped else MessageStatus.COMPLETE
            finish_reason = "stopped" if stopped else (answer.finish_reason or "stop")
            await self._save(answer, status, finish_reason=finish_reason)
            generation.emit(DoneEvent(msgid=msgid, finish_reason=finish_reason, usage=answer.usage_dict))
        except asyncio.CancelledError:
            await self._save_quietly(answer, MessageStatus.INTERRUPTED, finish_reason="cancelled")
            raise
        except Exception as exc:
            if isinstance(exc, ParleyError):
                error = exc
                log.warning("generation %s ended with %s: %s", msgid, error.code, error.message)
            else:
                error = ParleyError("The answer failed unexpectedly.")
                log.exception("generation %s failed unexpectedly", msgid)
            # Whatever was generated is kept; an answer with no text at all is an error placeholder.
            status = MessageStatus.INTERRUPTED if answer.text else MessageStatus.ERROR
            await self._save_quietly(answer, status, finish_reason=error.code)
            generation.emit(ErrorEvent(msgid=msgid, code=error.code, message=error.message))
        finally:
            self._active.pop((generation.user_id, msgid), None)
            await self._release(generation.user_id, msgid)
            generation.finish()

    @contextlib.asynccontextmanager
    async def _kept_saved(self, answer: _Answer) -> AsyncIterator[None]:
        """While the block runs, a heartbeat saves the answer whenever no tokens have been saved for a while."""
        done = asyncio.Event()
        heartbeat = asyncio.create_task(self._heartbeat(answer, done), name=f"heartbeat-{answer.message_id}")
        try:
            yield
        finally:
            done.set()
            await heartbeat  # a heartbeat save under way lands before the final save, never after it

    async def _heartbeat(self, answer: _Answer, done: asyncio.Event) -> None:
        interval = self._limits.heartbeat_seconds
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(interval):
                    await done.wait()
            if done.is_set():
                return
            if self._clock() - answer.saved_at < interval:
                continue  # tokens are arriving and being saved
            try:
                await self._save(answer, MessageStatus.STREAMING)
            except Exception:  # the answer goes on; a later save or the final one may still land
                log.warning("could not save answer %s while waiting for the model", answer.message_id, exc_info=True)

    async def _generate(
        self,
        generation: Generation,
        model: RegisteredModel,
        context: list[ChatMessage],
        params: GenerationParams,
        answer: _Answer,
    ) -> bool:
        """Stream into ``answer``; True when the user stopped it.

        The stream is read by one task, cancelled when Stop is pressed: no work per token beyond the token.
        """
        reader = asyncio.create_task(self._read(generation, model, context, params, answer))
        stop_wait = asyncio.create_task(generation.wait_stop())
        try:
            await asyncio.wait({reader, stop_wait}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stop_wait.cancel()
        if reader.done():
            reader.result()  # raises what the provider raised
            return False
        reader.cancel()
        try:
            await reader
        except asyncio.CancelledError:
            if not generation.stop_requested:  # this task itself is being cancelled, not just the reader
                raise
        return True

    async def _read(
        self,
        generation: Generation,
        model: RegisteredModel,
        context: list[ChatMessage],
        params: GenerationParams,
        answer: _Answer,
    ) -> None:
        stream = stream_with_policy(model.provider, model.info.id, context, params, self._policy)
        try:
            async with aclosing(stream):
                async for chunk in stream:
                    if isinstance(chunk, TextChunk) and chunk.text:
                        answer.text.append(chunk.text)
                        answer.seq += 1
                        generation.emit(DeltaEvent(msgid=generation.msgid, seq=answer.seq, text=chunk.text))
                        await self._save_periodically(answer)
                    elif isinstance(chunk, UsageChunk):
                        answer.usage = chunk.usage
                    elif isinstance(chunk, FinishChunk):
                        answer.finish_reason = chunk.reason
        except ProviderError:
            raise
        except Exception as exc:  # a provider that broke its contract: still a broken stream to the user
            raise StreamInterrupted() from exc

    async def _save_periodically(self, answer: _Answer) -> None:
        now = self._clock()
        if now - answer.saved_at >= self._limits.save_interval_seconds:
            await self._save(answer, MessageStatus.STREAMING)

    async def _save(self, answer: _Answer, status: MessageStatus, *, finish_reason: str | None = None) -> None:
        async with answer.saving:
            await self._messages.update(
                answer.user_id,
                answer.conversation_id,
                answer.message_id,
                parts=text_parts(answer.content),
                status=status,
                finish_reason=finish_reason,
                prompt_tokens=answer.usage.prompt_tokens if answer.usage else None,
                completion_tokens=answer.usage.completion_tokens if answer.usage else None,
            )
            answer.saved_at = self._clock()

    async def _save_quietly(self, answer: _Answer, status: MessageStatus, *, finish_reason: str) -> None:
        try:
            await asyncio.shield(self._save(answer, status, finish_reason=finish_reason))
        except Exception:
            log.exception("could not save the partial answer %s", answer.message_id)
