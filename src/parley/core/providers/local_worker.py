"""The local model's own process: llama.cpp loads the GGUF file and answers requests one at a time.

Started by ``local_process.ModelProcess`` as ``python -m parley.core.providers.local_worker``. Native code can
crash (a bad GGUF file, out of memory, an instruction the CPU refuses); here that ends this process, not the
server, which notices, fails the answer under way and starts a new process on the next request.

The protocol is one JSON object a line. Requests on stdin:
    {"op": "generate", "id": N, "messages": [{"role", "content"}...], "params": {GenerationParams fields}}
    {"op": "stop", "id": N}           stop that generation before its next token (or skip it if still queued)
End of stdin stops the running generation and ends the process.
Replies on the original stdout (fd 1 is pointed at stderr, so native code that prints cannot corrupt them):
    {"event": "ready"} or {"event": "load_error", "message"} once, first
    {"id", "event": "text", "text"} ... {"id", "event": "finish", "reason"}
    {"id", "event": "usage", "prompt_tokens", "completion_tokens"}
    {"id", "event": "error", "message"}       the request failed (e.g. too long); the process goes on
    {"id", "event": "done"}                   always last for each request
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import queue
import signal
import sys
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO, cast

from parley.errors import ConfigError, ProviderError

log = logging.getLogger("parley.local_worker")

INSTALL_HINT_SHORT = "llama-cpp-python is not installed (pip install 'parley[local]')."


@dataclass
class LoadedModel:
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


def load_model(path: Path, n_ctx: int, threads: int) -> LoadedModel:
    try:
        import llama_cpp
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter
    except ImportError as exc:
        raise ConfigError(INSTALL_HINT_SHORT) from exc
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

    return LoadedModel(llm=llm, render_prompt=render)


def _token_text(llm: Any, token: int) -> str:
    if token < 0:
        return ""
    return cast(bytes, llm.detokenize([token], special=True)).decode("utf-8", errors="replace")


class Replies:
    """Writes reply lines; one lock, since the request reader answers skipped requests from its own thread."""

    def __init__(self, out: TextIO) -> None:
        self._out = out
        self._lock = threading.Lock()

    def send(self, **reply: Any) -> None:
        line = json.dumps(reply) + "\n"
        with self._lock:
            self._out.write(line)
            self._out.flush()


@dataclass
class Request:
    id: int
    messages: list[dict[str, str]]
    params: dict[str, Any]
    stop: threading.Event


class Worker:
    def __init__(self, model: LoadedModel, context_window: int, replies: Replies) -> None:
        self._model = model
        self._context_window = context_window
        self._replies = replies
        self._queue: queue.Queue[Request | None] = queue.Queue()
        self._requests: dict[int, Request] = {}
        self._lock = threading.Lock()

    def read_requests(self, source: TextIO) -> None:
        """The reader thread: queue generations, flag stops at once (the generation checks between tokens)."""
        for line in source:
            try:
                request = json.loads(line)
                op, request_id = request["op"], int(request["id"])
            except (ValueError, KeyError, TypeError):
                log.warning("ignoring a malformed request line")
                continue
            if op == "generate":
                queued = Request(request_id, request["messages"], request["params"], threading.Event())
                with self._lock:
                    self._requests[request_id] = queued
                self._queue.put(queued)
            elif op == "stop":
                with self._lock:
                    found = self._requests.get(request_id)
                if found is not None:
                    found.stop.set()
        # The server closed our stdin (it is shutting down, or it died): stop what runs and end.
        with self._lock:
            for pending in self._requests.values():
                pending.stop.set()
        self._queue.put(None)

    def serve(self) -> None:
        while (request := self._queue.get()) is not None:
            try:
                if not request.stop.is_set():
                    self._generate(request)
            except ProviderError as exc:
                self._replies.send(id=request.id, event="error", message=exc.message)
            except Exception:
                log.exception("the local model failed while generating")
                self._replies.send(id=request.id, event="error", message="The local model failed while answering.")
            finally:
                with self._lock:
                    self._requests.pop(request.id, None)
                self._replies.send(id=request.id, event="done")

    def _generate(self, request: Request) -> None:
        params = request.params
        prompt_tokens = self._model.count_prompt_tokens(request.messages)
        if prompt_tokens >= self._context_window:
            raise ProviderError(
                f"The conversation is too long for the local model ({prompt_tokens} tokens; "
                f"it reads at most {self._context_window})."
            )
        chunks = self._model.llm.create_chat_completion(
            messages=request.messages,
            stream=True,
            temperature=params["temperature"],
            top_p=params["top_p"],
            max_tokens=params["max_tokens"],
            frequency_penalty=params["frequency_penalty"],
            presence_penalty=params["presence_penalty"],
        )
        pieces: list[str] = []
        reason = "stop"
        try:
            for chunk in chunks:
                if request.stop.is_set():
                    reason = "cancelled"
                    break
                choice = chunk["choices"][0]
                text = choice["delta"].get("content")
                if text:
                    pieces.append(text)
                    self._replies.send(id=request.id, event="text", text=text)
                if choice.get("finish_reason"):
                    reason = str(choice["finish_reason"])
        finally:
            chunks.close()  # leaves llama's generator (and its sampler state) cleanly
        # llama.cpp does not report usage when streaming. Re-tokenizing the answer gives the count the
        # model produced, except for rare non-canonical token splits; it can never exceed max_tokens.
        completion_tokens = min(self._model.count_tokens("".join(pieces)), int(params["max_tokens"]))
        self._replies.send(id=request.id, event="finish", reason=reason)
        self._replies.send(
            id=request.id, event="usage", prompt_tokens=prompt_tokens, completion_tokens=completion_tokens
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="parley-local-worker")
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--context", type=int, required=True)
    parser.add_argument("--threads", type=int, required=True)
    args = parser.parse_args(argv)

    # Ctrl-C in a terminal reaches the whole process group; the server decides when this process ends.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    replies = Replies(os.fdopen(os.dup(sys.stdout.fileno()), "w", encoding="utf-8"))
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())

    try:
        model = load_model(args.model, args.context, args.threads)
    except ConfigError as exc:
        replies.send(event="load_error", message=exc.message)
        return 1
    replies.send(event="ready")
    worker = Worker(model, args.context, replies)
    threading.Thread(target=worker.read_requests, args=(sys.stdin,), name="requests", daemon=True).start()
    worker.serve()
    model.llm.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
