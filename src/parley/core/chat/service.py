"""The conversation side of chat: prepare a turn, run it in the background while its answer is saved, and let
readers follow, stop and rejoin it; show a conversation's branches.

A generation runs as its own task, not in the request that started it: when the client goes away the answer
still finishes and is saved. The parts each have a module: ``turns`` (checks and writes a turn), ``pipeline``
(runs a model, saves nothing), ``recorder`` (saves an answer as it is generated), ``live`` (the readers of an
answer in this process), ``resume`` (rejoining from what is saved) and ``abandoned`` (answers whose process died).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence

from parley.core.chat.abandoned import AbandonedAnswers
from parley.core.chat.file_context import FileAccess, FileContext
from parley.core.chat.images import ImageLoader
from parley.core.chat.live import Generation, Subscription
from parley.core.chat.observer import RunObserver
from parley.core.chat.pipeline import ModelRun
from parley.core.chat.recorder import Answer, AnswerRecorder
from parley.core.chat.request import ChatLimits, ChatRequest, PreparedChat
from parley.core.chat.resume import SavedAnswer, SavedAnswers
from parley.core.chat.turns import CheckedTurn, Turns
from parley.core.chat.upstream import UpstreamPolicy
from parley.core.providers.base import ChatMessage, GenerationParams
from parley.core.providers.registry import ModelRegistry
from parley.core.store.base import ConversationStore, MessageLog, StopSignalStore, User
from parley.core.store.parts import CitationPart
from parley.core.store.tree import Branch, branch_of, newest_leaf_below
from parley.core.usage.estimate import estimate_prompt_tokens, estimate_text_tokens
from parley.core.usage.meter import UsageMeter
from parley.errors import AnswerAbandoned, ParleyError, ShuttingDown

__all__ = ["ChatLimits", "ChatRequest", "ChatService", "Generation", "PreparedChat", "SavedAnswer", "Subscription"]

log = logging.getLogger(__name__)

# A client refused during shutdown may try again this many seconds later (another instance, or this one back).
SHUTDOWN_RETRY_AFTER = 5


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
        meter: UsageMeter,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        observer: RunObserver | None = None,
        files: FileAccess | None = None,
    ) -> None:
        self._conversations = conversations
        self._messages = messages
        self._models = models
        self._limits = limits
        self._policy = policy
        self._abandoned = AbandonedAnswers(messages, limits.abandoned_after, wall_clock=wall_clock)
        self._meter = meter
        self._turns = Turns(
            conversations, messages, generations, models, self._abandoned, limits, meter, FileContext(files)
        )
        self._images = ImageLoader(files.blobs if files is not None else None)
        self._saved = SavedAnswers(self._abandoned)
        self._recorder = AnswerRecorder(messages, limits, clock=clock)
        self._active: dict[tuple[str, str], Generation] = {}
        self._clock = clock
        self._observer = observer
        self._drain_deadline: float | None = None  # set once shutdown begins: when running answers are cut

    async def start(self, user: User, request: ChatRequest) -> Generation:
        """Validate, save the user's message, and start generating. Returns once the start event is queued.

        The model is called as soon as the request has passed every check, while the turn is being saved (a
        few writes): its first token is on its way meanwhile, and waits until the answer is launched."""
        early: ModelRun | None = None

        def begin(model_id: str, context: tuple[ChatMessage, ...], params: GenerationParams) -> None:
            nonlocal early
            early = self._model_run(user.id, model_id, context, params)
            early.begin()

        try:
            prepared = await self.prepare(user, request, checked=begin)
        except BaseException:
            if early is not None:
                early.stop()  # hangs up on the model: nothing was saved to answer
            raise
        return self.launch(prepared, early)

    async def prepare(self, user: User, request: ChatRequest, *, checked: CheckedTurn | None = None) -> PreparedChat:
        """Check the request, then save the user's message and an empty answer to fill. Nothing is written
        when the request is refused (ShuttingDown once shutdown has begun)."""
        if self._drain_deadline is not None:
            raise ShuttingDown(SHUTDOWN_RETRY_AFTER)
        return await self._turns.prepare(user, request, checked=checked)

    async def fail(self, prepared: PreparedChat, error: ParleyError) -> None:
        """Record that a prepared chat could not be answered at all (its user message is kept)."""
        await self._turns.fail(prepared, error)

    def launch(self, prepared: PreparedChat, run: ModelRun | None = None) -> Generation:
        """Start generating a prepared chat in the background (with ``run``, the model call begun for it while
        it was prepared); its first event is ``start``."""
        generation = Generation(prepared.user_id, prepared.msgid, prepared.conversation_id)
        generation.emit(prepared.start_event())
        self._active[(prepared.user_id, prepared.msgid)] = generation
        if run is None:
            run = self._model_run(prepared.user_id, prepared.model, prepared.context, prepared.params)
        citations = tuple(CitationPart(**vars(citation)) for citation in prepared.citations)
        answer = Answer(prepared.user_id, prepared.conversation_id, prepared.message_id, citations=citations)
        generation.task = asyncio.create_task(
            self._run(prepared, generation, run, answer), name=f"generation-{prepared.msgid}"
        )
        return generation

    def _model_run(
        self, user_id: str, model_id: str, context: Sequence[ChatMessage], params: GenerationParams
    ) -> ModelRun:
        return ModelRun(
            self._models.get(model_id),
            context,
            params,
            self._policy,
            self._observer,
            images=self._images.load_for(user_id),
        )

    async def _run(self, prepared: PreparedChat, generation: Generation, run: ModelRun, answer: Answer) -> None:
        settled = False

        async def settle() -> None:
            nonlocal settled
            if not settled:
                settled = True
                await self._settle(prepared, run, answer)

        try:
            await self._recorder.record(generation, run, answer, settle)
        finally:
            self._active.pop((generation.user_id, generation.msgid), None)
            await settle()  # when the recorder itself failed before it could
            await self._turns.release(generation.user_id, generation.msgid)
            generation.finish()

    async def _settle(self, prepared: PreparedChat, run: ModelRun, answer: Answer) -> None:
        """Count what the answer used, however it ended: the provider's figures, or an estimate when it gave
        none (stopped, broken off, or a provider without usage). A model that failed before answering anything
        is not charged for the prompt. Never raises: the answer is saved either way."""
        usage = answer.usage
        if usage is not None:
            prompt, completion, estimated = usage.prompt_tokens, usage.completion_tokens, False
        else:
            answered = bool(answer.text) or run.stopped
            prompt = estimate_prompt_tokens(prepared.context) if answered else 0
            completion, estimated = estimate_text_tokens(answer.content), True
        try:
            await self._meter.settle(prepared.reservation, prepared.model, prompt, completion, estimated=estimated)
        except Exception:  # its reservation stays counted: the safe side of a budget
            log.exception("could not record the usage of answer %s", prepared.msgid)

    def stop(self, user_id: str, msgid: str) -> bool:
        """Ask a running generation of this user to stop; False when there is none."""
        generation = self._active.get((user_id, msgid))
        if generation is None:
            return False
        generation.stop()
        return True

    async def resume(
        self, user_id: str, conversation_id: str, msgid: str, after_seq: int
    ) -> Subscription | SavedAnswer:
        """Rejoin the answer that ``msgid`` asked for in the user's conversation, having its text up to
        ``after_seq``: a subscription to it while it runs in this process, else what is saved of it (which is
        still streaming when another process runs it). NotFound when there is no such answer of the user's."""
        generation = self._active.get((user_id, msgid))
        if generation is not None and generation.conversation_id == conversation_id:
            return generation.subscribe(after_seq)
        return await self.saved_answer(user_id, conversation_id, msgid, after_seq)

    async def saved_answer(self, user_id: str, conversation_id: str, msgid: str, after_seq: int) -> SavedAnswer:
        """What is saved of the answer ``msgid`` asked for, after ``after_seq``; NotFound when there is none."""
        return await self._saved.get(user_id, conversation_id, msgid, after_seq)

    @property
    def abandoned_after(self) -> float:
        """Seconds unsaved after which a streaming answer is taken for abandoned (see :meth:`history`)."""
        return self._abandoned.abandoned_after

    async def history(self, user_id: str, conversation_id: str) -> Branch | None:
        """The conversation's current branch, with each message's siblings; None when it is not the user's.
        An answer whose process died before it ended is settled first (``abandoned``)."""
        conversation = await self._conversations.get_conversation(user_id, conversation_id)
        messages = await self._abandoned.settled_messages(user_id, conversation_id)
        if conversation is None or messages is None:
            return None
        return branch_of(messages, conversation.current_leaf_id)

    async def switch_branch(self, user_id: str, conversation_id: str, message_id: str) -> Branch | None:
        """Show and continue the branch through ``message_id``: to the newest leaf below it (the branch last
        worked on there). None when it is not a message of the user's conversation."""
        messages = await self._abandoned.settled_messages(user_id, conversation_id)
        leaf = newest_leaf_below(messages or [], message_id)
        if messages is None or leaf is None:
            return None
        if not await self._messages.set_current_leaf(user_id, conversation_id, leaf.id):
            return None  # deleted meanwhile
        return branch_of(messages, leaf.id)

    def begin_shutdown(self, grace_seconds: float) -> None:
        """Take no new answers from now on; the running ones may finish within ``grace_seconds`` (see aclose).
        Safe to call from a signal handler: it only notes the deadline."""
        if self._drain_deadline is None:
            self._drain_deadline = self._clock() + max(0.0, grace_seconds)

    async def aclose(self) -> None:
        """On shutdown: let running answers finish until the deadline ``begin_shutdown`` set (none: cut at once),
        then cut the rest, saving what they have as interrupted, and wait for every save. Their readers get the
        error event, so a stream ends cleanly rather than breaking off. Calling it again changes nothing."""
        self.begin_shutdown(0.0)
        assert self._drain_deadline is not None
        running = [generation.task for generation in self._active.values() if generation.task is not None]
        remaining = self._drain_deadline - self._clock()
        if running and remaining > 0:
            log.info("waiting up to %.0f s for %d running answers to finish", remaining, len(running))
            await asyncio.wait(running, timeout=remaining)
        generations = list(self._active.values())
        if generations:
            log.warning("shutting down: %d answers cut short and saved as interrupted", len(generations))
        for generation in generations:
            generation.stop(cut_by=AnswerAbandoned())
        for generation in generations:
            await generation.wait()
