"""A scripted fake OpenAI-compatible server on loopback, for tests and benchmarks.

    async with FakeOpenAI(api_key="sk-test") as fake:
        fake.enqueue(Script(status=429, retry_after=2), Script(tokens=("Hi", "!")))
        client = AsyncOpenAI(base_url=fake.base_url, api_key="sk-test")
        ...
        assert fake.chat_requests[-1].body["temperature"] == 0.2

Models in ``vision_models`` take images (``image_url`` parts with ``data:`` URLs, as OpenAI's vision models do); the
others answer an image with OpenAI's 400. ``fake.chat_requests[-1].images`` are the images a request carried.

Every chat request takes the next enqueued ``Script``, or ``fake.script`` when the queue is empty.
Other ways to run it:

    with FakeOpenAI().run_in_thread() as fake: ...          # from sync code, or any event loop
    python -m parley.testing.fake_openai --port 0 --echo   # a process; prints "... listening on URL"

It is a deliberately small HTTP/1.1 server on asyncio streams rather than an ASGI app, because its job
is to misbehave on purpose: close the TCP connection in the middle of a chunked body, hang, and notice
when a client hangs up.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import enum
import hashlib
import itertools
import json
import math
import re
import signal
import threading
import time
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

DEFAULT_TOKENS: tuple[str, ...] = ("Hello", " from", " the", " fake", " model", ".")

_ERROR_KINDS: dict[int, tuple[str, str | None]] = {
    400: ("invalid_request_error", None),
    401: ("invalid_request_error", "invalid_api_key"),
    403: ("invalid_request_error", "unsupported_country_region_territory"),
    404: ("invalid_request_error", "model_not_found"),
    429: ("requests", "rate_limit_exceeded"),
}


@dataclass
class Script:
    """How the fake answers one chat request. Mutable: change ``fake.script`` between requests."""

    tokens: Sequence[str] = DEFAULT_TOKENS
    echo: bool = False  # answer with the last user message, split into words, instead of ``tokens``
    first_token_delay: float = 0.0  # seconds before the first token (after the response headers)
    token_delay: float = 0.0  # seconds before each later token
    status: int = 200  # an error status (401, 429, 500...) answers with OpenAI's error JSON instead
    retry_after: float | None = None  # sent as Retry-After with an error status
    error_message: str | None = None
    drop_after: int | None = None  # close the TCP connection after this many tokens (no clean end)
    hang_after: int | None = None  # after this many tokens wait, silent, until the client leaves;
    #                                0 means before the response starts (no status line at all)
    finish_reason: str | None = None  # None: "length" when max_tokens cut the answer, else "stop"

    @classmethod
    def error(cls, status: int, *, retry_after: float | None = None, message: str | None = None) -> Script:
        return cls(status=status, retry_after=retry_after, error_message=message)


@dataclass(frozen=True)
class ReceivedImage:
    """An ``image_url`` part of a chat request, decoded."""

    message_index: int
    media_type: str  # as the data URL declared it
    data: bytes  # b"" when the URL was not a base64 data URL
    url: str


@dataclass
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]  # names in lower case
    body: Any  # the parsed JSON body, or None
    client_disconnected: bool = False  # the client hung up before the answer was complete

    @property
    def authorization(self) -> str | None:
        return self.headers.get("authorization")

    @property
    def images(self) -> list[ReceivedImage]:
        """The images of a chat request's messages, in order."""
        messages = self.body.get("messages") if isinstance(self.body, dict) else None
        found = []
        for index, message in enumerate(messages if isinstance(messages, list) else ()):
            content = message.get("content") if isinstance(message, dict) else None
            for part in content if isinstance(content, list) else ():
                if isinstance(part, dict) and part.get("type") == "image_url":
                    url = str((part.get("image_url") or {}).get("url", ""))
                    found.append(ReceivedImage(index, *_decode_data_url(url), url=url))
        return found


@dataclass
class _HttpRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


class FakeOpenAI:
    def __init__(
        self,
        script: Script | None = None,
        *,
        models: Sequence[str] = ("fake-model",),
        vision_models: Sequence[str] = (),
        embedding_models: Sequence[str] = ("fake-embed",),
        api_key: str | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.script = script or Script()
        self.vision_models = list(vision_models)  # offered too, and take images
        self.models = [*models, *self.vision_models]  # chat requests for any other model get OpenAI's 404
        self.embedding_models = list(embedding_models)
        self.api_key = api_key  # when set, requests without "Authorization: Bearer <api_key>" get a 401
        self.requests: list[RecordedRequest] = []
        self.host = host
        self.port = port
        self._queue: deque[Script] = deque()
        self._server: asyncio.Server | None = None
        self._connections: dict[asyncio.Task[None], asyncio.StreamWriter] = {}
        self._ids = itertools.count(1)

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/v1"

    @property
    def chat_requests(self) -> list[RecordedRequest]:
        return [r for r in self.requests if r.path == "/v1/chat/completions"]

    @property
    def embedding_requests(self) -> list[RecordedRequest]:
        return [r for r in self.requests if r.path == "/v1/embeddings"]

    @property
    def disconnects(self) -> int:
        return sum(r.client_disconnected for r in self.requests)

    def enqueue(self, *scripts: Script) -> None:
        """Answer the next chat requests with these scripts, in order (e.g. a 429, then a normal answer)."""
        self._queue.extend(scripts)

    def reset(self) -> None:
        self.script = Script()
        self._queue.clear()
        self.requests.clear()

    async def wait_for_disconnects(self, count: int = 1) -> None:
        """Wait until ``count`` clients have hung up mid-answer (bound it with ``asyncio.timeout``).
        Polls rather than awaiting an event, so that it works from any thread's loop."""
        while self.disconnects < count:  # noqa: ASYNC110
            await asyncio.sleep(0.01)

    # Lifecycle

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve_connection, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is None:
            return
        self._server.close()
        # Aborting the sockets ends every handler (reads see EOF); cancelling them instead would make
        # Python 3.11's asyncio log a spurious error.
        for writer in self._connections.values():
            writer.transport.abort()
        if self._connections:
            await asyncio.wait(set(self._connections), timeout=5)
        await self._server.wait_closed()
        await asyncio.sleep(0)  # let the transports run their connection_lost callbacks
        self._server = None

    async def __aenter__(self) -> FakeOpenAI:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    @contextlib.contextmanager
    def run_in_thread(self) -> Iterator[FakeOpenAI]:
        """Serve from a background thread with its own event loop (for sync code or another loop)."""
        loop = asyncio.new_event_loop()
        thread = threading.Thread(target=loop.run_forever, name="fake-openai", daemon=True)
        thread.start()
        try:
            asyncio.run_coroutine_threadsafe(self.start(), loop).result()
            yield self
        finally:
            asyncio.run_coroutine_threadsafe(self.stop(), loop).result()
            asyncio.run_coroutine_threadsafe(loop.shutdown_asyncgens(), loop).result()
            loop.call_soon_threadsafe(loop.stop)
            thread.join()
            loop.close()

    # HTTP

    async def _serve_connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections[task] = writer
        try:
            keep_alive = True
            while keep_alive:
                request = await _read_request(reader)
                if request is None:
                    break
                keep_alive = await self._respond(request, reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError):
            pass
        finally:
            del self._connections[task]
            writer.close()

    async def _respond(self, request: _HttpRequest, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        """Answer one request; return whether the connection can serve another."""
        try:
            body = json.loads(request.body) if request.body else None
        except ValueError:
            body = None
        record = RecordedRequest(request.method, request.path, request.headers, body)
        self.requests.append(record)
        keep_alive = request.headers.get("connection", "").lower() != "close"
        if self.api_key is not None and request.headers.get("authorization") != f"Bearer {self.api_key}":
            await _send_json(writer, 401, _error_body(401, "Incorrect API key provided."))
        elif (request.method, request.path) == ("GET", "/v1/models"):
            models = [{"id": m, "object": "model", "created": 0, "owned_by": "fake"} for m in self.models]
            await _send_json(writer, 200, {"object": "list", "data": models})
        elif (request.method, request.path) == ("POST", "/v1/chat/completions"):
            return await self._chat(record, reader, writer) and keep_alive
        elif (request.method, request.path) == ("POST", "/v1/embeddings"):
            await self._embeddings(record, writer)
        else:
            await _send_json(writer, 404, _error_body(404, f"Unknown route {request.method} {request.path}."))
        return keep_alive

    async def _embeddings(self, record: RecordedRequest, writer: asyncio.StreamWriter) -> None:
        body = record.body
        texts = body.get("input") if isinstance(body, dict) else None
        if isinstance(texts, str):
            texts = [texts]
        if not isinstance(texts, list) or not all(isinstance(t, str) for t in texts):
            await _send_json(writer, 400, _error_body(400, "'input' must be a string or a list of strings."))
            return
        if body.get("model") not in self.embedding_models:
            message = f"The model `{body.get('model')}` does not exist or you do not have access to it."
            await _send_json(writer, 404, _error_body(404, message))
            return
        data = [{"object": "embedding", "index": i, "embedding": fake_embedding(t)} for i, t in enumerate(texts)]
        tokens = sum(len(t.split()) for t in texts)
        usage = {"prompt_tokens": tokens, "total_tokens": tokens}
        await _send_json(writer, 200, {"object": "list", "data": data, "model": body["model"], "usage": usage})

    async def _chat(self, record: RecordedRequest, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        body = record.body
        if not isinstance(body, dict) or not isinstance(body.get("messages"), list):
            await _send_json(writer, 400, _error_body(400, "A JSON body with 'messages' is required."))
            return True
        if body.get("model") not in self.models:
            message = f"The model `{body.get('model')}` does not exist or you do not have access to it."
            await _send_json(writer, 404, _error_body(404, message))
            return True
        if record.images and body["model"] not in self.vision_models:
            message = "Invalid content type. image_url is only supported by certain models."
            await _send_json(writer, 400, _error_body(400, message))
            return True
        script = self._queue.popleft() if self._queue else self.script
        if script.status >= 400:
            headers = [] if script.retry_after is None else [("retry-after", f"{script.retry_after:g}")]
            await _send_json(writer, script.status, _error_body(script.status, script.error_message), headers)
            return True

        tokens = _answer_tokens(script, body["messages"])
        finish = script.finish_reason or "stop"
        max_tokens = body.get("max_tokens") or body.get("max_completion_tokens")
        if isinstance(max_tokens, int) and len(tokens) > max_tokens:
            tokens, finish = tokens[:max_tokens], script.finish_reason or "length"
        answer = _Answer(
            id=f"chatcmpl-fake-{next(self._ids)}",
            model=str(body["model"]),
            tokens=tokens,
            finish_reason=finish,
            prompt_tokens=sum(len(_text_of(m).split()) for m in body["messages"]),
        )
        watch = _ClientWatch(reader)
        try:
            if body.get("stream"):
                include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
                outcome = await _stream(writer, watch, script, answer, include_usage)
            else:
                outcome = await _complete(writer, watch, script, answer)
        except ConnectionError:
            outcome = _Outcome.CLIENT_GONE
        finally:
            await watch.stop()
        record.client_disconnected = outcome is _Outcome.CLIENT_GONE
        return outcome is _Outcome.DONE


class _Outcome(enum.Enum):
    DONE = "done"
    DROPPED = "dropped"  # we closed the connection on purpose
    CLIENT_GONE = "client_gone"


@dataclass
class _Answer:
    id: str
    model: str
    tokens: Sequence[str]
    finish_reason: str
    prompt_tokens: int
    created: int = field(default_factory=lambda: int(time.time()))

    def usage(self) -> dict[str, int]:
        completion = len(self.tokens)
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": completion,
            "total_tokens": self.prompt_tokens + completion,
        }

    def chunk(self, delta: dict[str, str], finish_reason: str | None = None) -> dict[str, Any]:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}
        return self._envelope("chat.completion.chunk", choices=[choice])

    def completion(self) -> dict[str, Any]:
        message = {"role": "assistant", "content": "".join(self.tokens), "refusal": None}
        choice = {"index": 0, "message": message, "logprobs": None, "finish_reason": self.finish_reason}
        return self._envelope("chat.completion", choices=[choice], usage=self.usage())

    def _envelope(self, kind: str, **fields: Any) -> dict[str, Any]:
        return {"id": self.id, "object": kind, "created": self.created, "model": self.model, **fields}


class _ClientWatch:
    """Notices the client hanging up while we answer: an HTTP/1.1 client sends nothing mid-answer,
    so any end of a pending read (EOF, reset, or stray bytes) means it has gone."""

    def __init__(self, reader: asyncio.StreamReader) -> None:
        self._read = asyncio.create_task(reader.read(1))

    @property
    def gone(self) -> bool:
        return self._read.done()

    async def sleep(self, seconds: float) -> bool:
        """Wait ``seconds`` (``math.inf``: until the client leaves); return whether it is still there."""
        if seconds > 0:
            await asyncio.wait({self._read}, timeout=None if math.isinf(seconds) else seconds)
        return not self.gone

    async def stop(self) -> None:
        """Stop watching before the answer ends, so the next request on the connection stays unread."""
        self._read.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self._read


async def _stream(
    writer: asyncio.StreamWriter, watch: _ClientWatch, script: Script, answer: _Answer, include_usage: bool
) -> _Outcome:
    """Send the answer as server-sent events in a chunked body."""
    if script.hang_after == 0:
        await watch.sleep(math.inf)
        return _Outcome.CLIENT_GONE
    headers = [("content-type", "text/event-stream"), ("cache-control", "no-cache"), ("transfer-encoding", "chunked")]
    writer.write(_head(200, headers))
    _write_event(writer, answer.chunk({"role": "assistant", "content": ""}))
    await writer.drain()
    for sent in range(len(answer.tokens) + 1):
        if sent == script.drop_after:
            writer.close()
            return _Outcome.DROPPED
        if sent == script.hang_after:
            await watch.sleep(math.inf)
            return _Outcome.CLIENT_GONE
        if sent == len(answer.tokens):
            break
        if not await watch.sleep(script.first_token_delay if sent == 0 else script.token_delay):
            return _Outcome.CLIENT_GONE
        _write_event(writer, answer.chunk({"content": answer.tokens[sent]}))
        await writer.drain()
    await watch.stop()
    _write_event(writer, answer.chunk({}, answer.finish_reason))
    if include_usage:
        _write_event(writer, {**answer.chunk({}), "choices": [], "usage": answer.usage()})
    writer.write(_chunk(b"data: [DONE]\n\n") + _chunk(b""))
    await writer.drain()
    return _Outcome.DONE


async def _complete(writer: asyncio.StreamWriter, watch: _ClientWatch, script: Script, answer: _Answer) -> _Outcome:
    """Send the whole answer as one chat.completion; drops and hangs happen before any response."""
    if script.hang_after is not None:
        await watch.sleep(math.inf)
        return _Outcome.CLIENT_GONE
    if script.drop_after is not None:
        writer.close()
        return _Outcome.DROPPED
    delay = script.first_token_delay + script.token_delay * max(0, len(answer.tokens) - 1)
    if not await watch.sleep(delay):
        return _Outcome.CLIENT_GONE
    await watch.stop()
    await _send_json(writer, 200, answer.completion())
    return _Outcome.DONE


EMBEDDING_DIMENSIONS = 64


def fake_embedding(text: str) -> list[float]:
    """A deterministic embedding: the text's words hashed into buckets, scaled to length 1. Texts sharing words
    are near each other, so tests of vector ranking can say which passage should come first."""
    vector = [0.0] * EMBEDDING_DIMENSIONS
    for word in re.findall(r"\w+", text.lower()):
        digest = hashlib.sha256(word.encode()).digest()
        vector[int.from_bytes(digest[:4], "big") % EMBEDDING_DIMENSIONS] += 1.0
    length = math.sqrt(sum(x * x for x in vector))
    return [x / length for x in vector] if length else vector


def _answer_tokens(script: Script, messages: list[Any]) -> Sequence[str]:
    if not script.echo:
        return list(script.tokens)
    users = [m for m in messages if isinstance(m, dict) and m.get("role") == "user"]
    text = _text_of(users[-1]) if users else ""
    return re.findall(r"\s*\S+", text)


def _text_of(message: Any) -> str:
    """A message's text: its content string, or its text parts joined (image parts have none)."""
    content = message.get("content") if isinstance(message, dict) else None
    if isinstance(content, list):
        return "".join(str(p.get("text", "")) for p in content if isinstance(p, dict) and p.get("type") == "text")
    return str(content or "")


def _decode_data_url(url: str) -> tuple[str, bytes]:
    """(media type, bytes) of a ``data:<type>;base64,<data>`` URL; ("", b"") for anything else."""
    head, comma, payload = url.partition(",")
    if not (url.startswith("data:") and comma and head.endswith(";base64")):
        return "", b""
    try:
        return head[len("data:") : -len(";base64")], base64.b64decode(payload, validate=True)
    except ValueError:
        return "", b""


def _error_body(status: int, message: str | None) -> dict[str, Any]:
    kind, code = _ERROR_KINDS.get(status, ("server_error" if status >= 500 else "invalid_request_error", None))
    text = message or f"Fake upstream error: {status} {_reason(status)}."
    return {"error": {"message": text, "type": kind, "param": None, "code": code}}


async def _read_request(reader: asyncio.StreamReader) -> _HttpRequest | None:
    """Read one request (Content-Length bodies only); None when the client closed an idle connection."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError:
        return None
    request_line, *header_lines = head.decode("latin-1").split("\r\n")
    method, target, _version = request_line.split(" ", 2)
    headers: dict[str, str] = {}
    for line in header_lines:
        if line:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0"))
    body = await reader.readexactly(length) if length else b""
    return _HttpRequest(method, target.split("?", 1)[0], headers, body)


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def _head(status: int, headers: Sequence[tuple[str, str]]) -> bytes:
    lines = [f"HTTP/1.1 {status} {_reason(status)}", *(f"{name}: {value}" for name, value in headers)]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def _chunk(data: bytes) -> bytes:
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"


def _write_event(writer: asyncio.StreamWriter, payload: dict[str, Any]) -> None:
    writer.write(_chunk(b"data: " + json.dumps(payload, separators=(",", ":")).encode() + b"\n\n"))


async def _send_json(
    writer: asyncio.StreamWriter, status: int, payload: dict[str, Any], headers: Sequence[tuple[str, str]] = ()
) -> None:
    body = json.dumps(payload).encode()
    head = _head(status, [("content-type", "application/json"), ("content-length", str(len(body))), *headers])
    writer.write(head + body)
    await writer.drain()


# Running as a process (benchmarks)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="A scripted fake OpenAI-compatible server.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port (printed on start)")
    parser.add_argument("--model", action="append", dest="models", help="a model id to offer (repeatable)")
    parser.add_argument(
        "--vision-model", action="append", dest="vision_models", default=[], help="a model that takes images"
    )
    parser.add_argument("--api-key", help="require this Bearer key")
    parser.add_argument("--answer", help="the answer's text, streamed word by word")
    parser.add_argument("--echo", action="store_true", help="answer with the last user message")
    parser.add_argument("--first-token-delay", type=float, default=0.0)
    parser.add_argument("--token-delay", type=float, default=0.0)
    args = parser.parse_args(argv)
    script = Script(
        tokens=re.findall(r"\s*\S+", args.answer) if args.answer else DEFAULT_TOKENS,
        echo=args.echo,
        first_token_delay=args.first_token_delay,
        token_delay=args.token_delay,
    )
    fake = FakeOpenAI(
        script,
        models=args.models or ["fake-model"],
        vision_models=args.vision_models,
        api_key=args.api_key,
        host=args.host,
        port=args.port,
    )
    asyncio.run(_serve_until_signalled(fake))


async def _serve_until_signalled(fake: FakeOpenAI) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with fake:
        print(f"fake OpenAI listening on {fake.base_url}", flush=True)  # the parent process reads this line
        await stop.wait()


if __name__ == "__main__":
    main()
