"""Running an OpenAI chat completions request: the one place where a ``/v1`` answer is generated and settled.

``Completions.start`` checks the request against the model and returns a ``CompletionRun``; reading its ``deltas``
runs the model (through the same ``ModelRun`` as the app's chat turns) and applies the stop sequences. When the run
ends, however it ends (complete, stop sequence, client gone, provider error), ``Completions._settle`` receives the
key holder, the request and the outcome with its token usage in hand (the provider's figures, or an estimate when it
gave none): that is where what follows an answer happens (recording its usage against the tokens reserved before
it ran, with the key that asked, and saving it as a conversation when the key says so).

A ``/v1`` answer takes one of its user's answer slots (``StopSignalStore.register_generation``), the same slots as
the app's answers, so a key holder runs no more answers at once than the web app allows; the slot is freed when the
answer ends, however it ends. On shutdown (``begin_shutdown``, then ``aclose``) no new answer is taken, running
ones may finish within the grace period, and the rest are cut with ShuttingDown (a stream's reader gets it as an
error event: its answer is incomplete).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import AsyncGenerator, Callable, Iterable
from contextlib import aclosing
from dataclasses import dataclass, replace

from parley.core.auth.api_keys import KeyHolder
from parley.core.chat.context import estimate_tokens, title_from_prompt
from parley.core.chat.observer import RunObserver
from parley.core.chat.params import ChatParams, resolve_generation_params
from parley.core.chat.pipeline import ModelRun
from parley.core.chat.slots import AnswerSlots
from parley.core.chat.upstream import UpstreamPolicy
from parley.core.files.images import ImageProcessor, PillowImages, estimate_image_tokens
from parley.core.openai_api.request import CompletionRequest
from parley.core.openai_api.stop_sequences import StopScanner
from parley.core.providers.base import (
    FinishChunk,
    GenerationParams,
    ImageInput,
    ModelInfo,
    TextChunk,
    Usage,
    UsageChunk,
)
from parley.core.providers.registry import ModelRegistry, RegisteredModel
from parley.core.store.base import ConversationStore, MessageLog, MessageStatus
from parley.core.store.parts import text_parts
from parley.core.usage.meter import Reservation, UsageMeter
from parley.errors import (
    InvalidImage,
    InvalidInput,
    InvalidParameter,
    ParleyError,
    ShuttingDown,
)

log = logging.getLogger(__name__)

# The finish reason of an answer whose client went away before it ended (nobody reads it; it is what is saved).
CLIENT_GONE = "stopped"

# A client refused during shutdown (or whose answer was cut by it) may try again this many seconds later.
SHUTDOWN_RETRY_AFTER = 5
# How long shutdown waits for cut answers to reach their end (their readers to take the error).
CUT_WAIT_SECONDS = 5.0


@dataclass(frozen=True)
class CompletionOutcome:
    text: str
    finish_reason: str  # "stop", "length", or CLIENT_GONE; with ``error``, the error's code
    usage: Usage
    usage_estimated: bool  # the provider gave no figures (or the answer was cut short before it could)
    error: ParleyError | None = None


def estimate_prompt_tokens(request: CompletionRequest) -> int:
    text = sum(estimate_tokens(message.content) for message in request.messages)
    return text + request.image_tokens


def estimate_usage(request: CompletionRequest, text: str) -> Usage:
    return Usage(prompt_tokens=estimate_prompt_tokens(request), completion_tokens=(len(text) + 2) // 3)


class CompletionRun:
    """One answer. Read ``deltas()`` once; ``outcome`` is set when it ends. Closing the reader early (the client
    went away) stops the model, as Stop does in the app."""

    def __init__(
        self,
        holder: KeyHolder,
        request: CompletionRequest,
        model: RegisteredModel,
        params: GenerationParams,
        policy: UpstreamPolicy,
        on_end: Callable[[CompletionRun], None],
        *,
        meter: UsageMeter,
        slots: AnswerSlots,
        observer: RunObserver | None = None,
    ) -> None:
        self.id = f"chatcmpl-{uuid.uuid4().hex}"
        self.created = int(time.time())
        self.holder = holder
        self.request = request
        self.model = model.info.id
        self._run = ModelRun(model, request.messages, params, policy, observer)
        self._on_end = on_end
        self._meter = meter
        self._slots = slots
        self._max_tokens = params.max_tokens
        self._cut_by: ParleyError | None = None
        self.ended = asyncio.Event()
        self.reservation: Reservation | None = None
        self.outcome: CompletionOutcome | None = None

    def cut(self, error: ParleyError) -> None:
        """End the answer now (shutdown): its reader gets ``error`` after the text it has."""
        self._cut_by = error
        self._run.stop()

    async def deltas(self) -> AsyncGenerator[str, None]:
        """The answer's text. It takes one of the user's answer slots (TooManyGenerations when they are all
        running), and its tokens are reserved against the user's budget (BudgetExceeded when it is used up), both
        before the model runs and before any text; the slot is freed and the tokens settled when it ends."""
        user_id = self.holder.user.id
        try:
            await self._slots.take(user_id, self.id)
            try:
                prompt_tokens = estimate_prompt_tokens(self.request)
                self.reservation = await self._meter.reserve(user_id, self._max_tokens, prompt_tokens)
                async with aclosing(self._answer()) as answer:
                    async for text in answer:
                        yield text
            finally:
                await self._slots.free(user_id, self.id)
        finally:
            self.ended.set()
            self._on_end(self)

    async def _answer(self) -> AsyncGenerator[str, None]:
        scanner = StopScanner(self.request.stop)
        text: list[str] = []
        usage: Usage | None = None
        finish: str | None = None
        error: ParleyError | None = None
        try:
            async with aclosing(self._run.chunks()) as chunks:
                async for chunk in chunks:
                    if isinstance(chunk, TextChunk):
                        out = scanner.feed(chunk.text)
                        if out:
                            text.append(out)
                            yield out
                        if scanner.matched:
                            finish = "stop"
                            break
                    elif isinstance(chunk, UsageChunk):
                        usage = chunk.usage
                    elif isinstance(chunk, FinishChunk):
                        finish = chunk.reason
            if self._cut_by is not None:
                raise self._cut_by
            tail = scanner.flush()
            if tail:
                text.append(tail)
                yield tail
            finish = finish or "stop"
        except ParleyError as exc:
            error, finish = exc, exc.code
            raise
        finally:
            answer = "".join(text)
            whole = finish is not None and error is None and not scanner.matched
            self.outcome = CompletionOutcome(
                text=answer,
                finish_reason=finish or CLIENT_GONE,
                usage=usage if usage is not None and whole else estimate_usage(self.request, answer),
                usage_estimated=usage is None or not whole,
                error=error,
            )

    async def collect(self) -> CompletionOutcome:
        """Run to the end (a request without ``stream``)."""
        async with aclosing(self.deltas()) as deltas:
            async for _ in deltas:
                pass
        assert self.outcome is not None
        return self.outcome


class Completions:
    def __init__(
        self,
        models: ModelRegistry,
        policy: UpstreamPolicy,
        conversations: ConversationStore,
        messages: MessageLog,
        *,
        meter: UsageMeter,
        slots: AnswerSlots,
        title_max_chars: int,
        observer: RunObserver | None = None,
        images: ImageProcessor | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._models = models
        self._slots = slots
        self._clock = clock
        self._running: set[CompletionRun] = set()
        self._drain_deadline: float | None = None  # set once shutdown begins: when running answers are cut
        self._images = images or PillowImages()
        self._policy = policy
        self._meter = meter
        self._observer = observer
        self._conversations = conversations
        self._messages = messages
        self._title_max_chars = title_max_chars
        self._settling: set[asyncio.Task[None]] = set()

    def list_models(self) -> list[ModelInfo]:
        return self._models.list_models()

    async def start(self, holder: KeyHolder, request: CompletionRequest) -> CompletionRun:
        """Check the request against its model (UnknownModel, ModelCannotSee, InvalidInput) and re-encode its images;
        the model runs only when ``deltas`` is read. ShuttingDown once shutdown has begun."""
        if self._drain_deadline is not None:
            raise ShuttingDown(SHUTDOWN_RETRY_AFTER)
        model = self._models.require_vision(request.model) if request.images else self._models.get(request.model)
        params = resolve_generation_params(
            ChatParams(temperature=request.temperature, top_p=request.top_p, max_tokens=request.max_tokens),
            model.info,
        )
        if not any(message.role == "user" for message in request.messages):
            raise InvalidInput("The messages must include at least one user message.")
        if request.images:
            request = await self._reencode_images(request)
        if estimate_prompt_tokens(request) > model.info.context_window:
            raise InvalidInput(
                f"The messages are too long for this model's context window ({model.info.context_window} tokens)."
            )
        run = CompletionRun(
            holder,
            request,
            model,
            params,
            self._policy,
            self._ended,
            meter=self._meter,
            slots=self._slots,
            observer=self._observer,
        )
        self._running.add(run)
        return run

    async def _reencode_images(self, request: CompletionRequest) -> CompletionRequest:
        """The request with every image checked and re-encoded (downscaled, metadata stripped; in a worker thread): an
        image the client sent is never passed on as it came."""
        messages = []
        tokens = 0
        for index, message in enumerate(request.messages):
            images = []
            for image in message.images:
                try:
                    processed = await self._images.prepare(image.data, image.media_type)
                except InvalidImage as exc:
                    raise InvalidParameter(f"messages[{index}].content", exc.message) from None
                images.append(ImageInput(image.file_id, processed.media_type, processed.data))
                tokens += estimate_image_tokens(processed.width, processed.height)
            messages.append(replace(message, images=tuple(images)))
        return replace(request, messages=tuple(messages), image_tokens=tokens)

    def _ended(self, run: CompletionRun) -> None:
        self._running.discard(run)
        if run.reservation is None:  # refused before the model ran (no slot, or no budget): nothing to settle
            return
        # Settled in a task of its own: the client is not kept waiting, and a client that left (the reader is
        # being cancelled) does not cancel it.
        settle = self._settle(run) if run.outcome is not None else self._meter.release(run.reservation, run.model)
        task = asyncio.create_task(settle, name=f"settle-{run.id}")
        self._settling.add(task)
        task.add_done_callback(self._settling.discard)

    async def _settle(self, run: CompletionRun) -> None:
        """What follows every ``/v1`` answer, with who asked (user and key), the model and the token usage."""
        outcome = run.outcome
        assert outcome is not None
        log.info(
            "v1 completion %s: key %s, model %s, %s, %d+%d tokens%s",
            run.id,
            run.holder.key.id,
            run.model,
            outcome.finish_reason,
            outcome.usage.prompt_tokens,
            outcome.usage.completion_tokens,
            " (estimated)" if outcome.usage_estimated else "",
        )
        if run.reservation is not None:
            try:
                await self._meter.settle(
                    run.reservation,
                    run.model,
                    outcome.usage.prompt_tokens,
                    outcome.usage.completion_tokens,
                    key_id=run.holder.key.id,
                    source="api",
                    estimated=outcome.usage_estimated,
                )
            except Exception:
                log.exception("could not record the usage of v1 completion %s", run.id)
        if run.holder.key.save_conversations:
            try:
                await self._save(run, outcome)
            except Exception:
                log.exception("could not save v1 completion %s as a conversation", run.id)

    async def _save(self, run: CompletionRun, outcome: CompletionOutcome) -> None:
        """One new conversation per request: the messages it sent, then the answer."""
        user_id = run.holder.user.id
        title = title_from_prompt(run.request.last_user_text, self._title_max_chars)
        conversation = await self._conversations.create_conversation(user_id, title, run.model)
        parent: str | None = None
        for message in run.request.messages:
            saved = await self._messages.append(
                user_id,
                conversation.id,
                parent_id=parent,
                role=message.role,
                parts=text_parts(message.content),
                status=MessageStatus.COMPLETE,
            )
            if saved is None:
                return  # the conversation was deleted meanwhile
            parent = saved.id
        status = MessageStatus.COMPLETE
        if outcome.error is not None:
            status = MessageStatus.INTERRUPTED if outcome.text else MessageStatus.ERROR
        elif outcome.finish_reason == CLIENT_GONE:
            status = MessageStatus.STOPPED
        answer = await self._messages.append(
            user_id,
            conversation.id,
            parent_id=parent,
            role="assistant",
            parts=(),
            status=MessageStatus.STREAMING,
            model=run.model,
        )
        if answer is not None:
            await self._messages.update(
                user_id,
                conversation.id,
                answer.id,
                parts=text_parts(outcome.text),
                status=status,
                finish_reason=outcome.finish_reason,
                prompt_tokens=outcome.usage.prompt_tokens,
                completion_tokens=outcome.usage.completion_tokens,
            )

    def begin_shutdown(self, grace_seconds: float) -> None:
        """Take no new answers from now on; the running ones may finish within ``grace_seconds`` (see aclose).
        Safe to call from a signal handler: it only notes the deadline."""
        if self._drain_deadline is None:
            self._drain_deadline = self._clock() + max(0.0, grace_seconds)

    async def aclose(self) -> None:
        """On shutdown: let running answers finish until the deadline ``begin_shutdown`` set (none: cut at once),
        then cut the rest with ShuttingDown, and wait until every answer has settled its usage and freed its slot.
        Calling it again changes nothing."""
        self.begin_shutdown(0.0)
        assert self._drain_deadline is not None
        remaining = self._drain_deadline - self._clock()
        if self._running and remaining > 0:
            log.info("waiting up to %.0f s for %d running v1 answers to finish", remaining, len(self._running))
            await _all_ended(self._running, remaining)
        cut = list(self._running)
        if cut:
            log.warning("shutting down: %d v1 answers cut short", len(cut))
        for run in cut:
            run.cut(ShuttingDown(SHUTDOWN_RETRY_AFTER, "The server is restarting; this answer was cut short."))
        # A cut answer ends when its reader next asks for text; a client that reads nothing (its connection
        # stalled) must not hold the shutdown: the server cancels its response later, which ends it too.
        await _all_ended(cut, CUT_WAIT_SECONDS)
        await self.settled()

    async def settled(self) -> None:
        """Wait until every answer that has ended has recorded its usage (and been saved, when its key says so)."""
        if self._settling:
            await asyncio.gather(*self._settling, return_exceptions=True)


async def _all_ended(runs: Iterable[CompletionRun], within: float) -> None:
    """Wait until every run has ended, for ``within`` seconds at most."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(within):
            for run in list(runs):
                await run.ended.wait()
