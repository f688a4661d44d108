"""The WebSocket message protocol, shared by both edges (the local server and the Lambda handlers).

Client → server:
    {"action": "sendprompt",
     "payload": {"msgid", "conversation_id"?, "prompt", "params"?, "edit_message_id"?, "attachments"?}}
    {"action": "stop", "payload": {"msgid"}}
    {"action": "resume", "payload": {"msgid", "conversation_id", "after_seq"?}}
Server → client: the chat events (``parley.core.chat.events``) as JSON objects, plus
    {"type": "error", "msgid", "code", "message"} for a message that could not be acted on, plus
    "retry_after" (seconds) when it was refused for now (``rate_limited``).

Plain Python on purpose: the Lambda handlers import this and must stay light at cold start.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from parley.core.chat.events import StreamEvent
from parley.core.chat.params import ChatParams
from parley.core.chat.request import MAX_ATTACHMENTS, ChatRequest
from parley.errors import InvalidInput

MAX_ID_CHARS = 64
_NUMBER_PARAMS = ("temperature", "top_p", "frequency_penalty", "presence_penalty")
_TEXT_PARAMS = {"model": 200, "system_prompt": None}


class ProtocolError(InvalidInput):
    """A client message that cannot be acted on; ``msgid`` is set when the message named one."""

    def __init__(self, message: str, msgid: str | None = None) -> None:
        super().__init__(message)
        self.msgid = msgid


class NotRunning(ProtocolError):
    """A stop for an answer that is not running (finished, never started, or someone else's)."""

    code = "not_found"

    def __init__(self, msgid: str) -> None:
        super().__init__("No answer with that msgid is running.", msgid)


@dataclass(frozen=True)
class SendPrompt:
    request: ChatRequest

    @property
    def msgid(self) -> str:
        assert self.request.msgid is not None
        return self.request.msgid


@dataclass(frozen=True)
class Stop:
    msgid: str


@dataclass(frozen=True)
class Resume:
    """Rejoin a running answer (or hear how it ended), having its text up to ``after_seq`` (a delta's ``seq``)."""

    msgid: str
    conversation_id: str
    after_seq: int = 0


ClientMessage = SendPrompt | Stop | Resume
ACTIONS = ("sendprompt", "stop", "resume")


def parse_client_message(raw: str | bytes) -> ClientMessage:
    try:
        data = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError):  # RecursionError: nested too deep
        raise ProtocolError("The message is not valid JSON.") from None
    if not isinstance(data, dict):
        raise ProtocolError("A message is a JSON object with 'action' and 'payload'.")
    payload = data.get("payload")
    msgid = _msgid_of(payload)
    if not isinstance(payload, dict):
        raise ProtocolError("payload: an object is required.", msgid)
    unknown = set(data) - {"action", "payload"}
    if unknown:
        raise ProtocolError(f"Unknown fields: {', '.join(sorted(unknown))}.", msgid)
    action = data.get("action")
    if action == "stop":
        _only(payload, {"msgid"}, msgid)
        return Stop(msgid=_required_id(payload, "msgid", msgid))
    if action == "resume":
        _only(payload, {"msgid", "conversation_id", "after_seq"}, msgid)
        after_seq = payload.get("after_seq", 0)
        if isinstance(after_seq, bool) or not isinstance(after_seq, int) or after_seq < 0:
            raise ProtocolError("payload.after_seq: a whole number, 0 or more, is required.", msgid)
        return Resume(
            msgid=_required_id(payload, "msgid", msgid),
            conversation_id=_required_id(payload, "conversation_id", msgid),
            after_seq=after_seq,
        )
    if action == "sendprompt":
        _only(payload, {"msgid", "conversation_id", "prompt", "params", "edit_message_id", "attachments"}, msgid)
        prompt, params = payload.get("prompt"), payload.get("params")
        if not isinstance(prompt, str):
            raise ProtocolError("payload.prompt: a string is required.", msgid)
        return SendPrompt(
            ChatRequest(
                prompt=prompt,
                msgid=_required_id(payload, "msgid", msgid),
                conversation_id=_optional_id(payload, "conversation_id", msgid),
                edit_message_id=_optional_id(payload, "edit_message_id", msgid),
                # No params (or null) means the model's defaults; [] or "" is an error like any non-object.
                params=parse_params({} if params is None else params, msgid),
                attachments=_attachments(payload.get("attachments"), msgid),
            )
        )
    raise ProtocolError("action: must be 'sendprompt', 'stop' or 'resume'.", msgid)


def parse_params(raw: Any, msgid: str | None = None) -> ChatParams:
    if not isinstance(raw, dict):
        raise ProtocolError("payload.params: an object is required.", msgid)
    _only(raw, {*_NUMBER_PARAMS, *_TEXT_PARAMS, "max_tokens"}, msgid, where="payload.params")
    values: dict[str, Any] = {}
    for name in _NUMBER_PARAMS:
        value = raw.get(name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
            raise ProtocolError(f"payload.params.{name}: a number is required.", msgid)
        values[name] = value
    max_tokens = raw.get("max_tokens")
    if max_tokens is not None and (isinstance(max_tokens, bool) or not isinstance(max_tokens, int)):
        raise ProtocolError("payload.params.max_tokens: a whole number is required.", msgid)
    values["max_tokens"] = max_tokens
    for name, limit in _TEXT_PARAMS.items():
        value = raw.get(name)
        if value is not None and (not isinstance(value, str) or (limit is not None and len(value) > limit)):
            raise ProtocolError(f"payload.params.{name}: a string is required.", msgid)
        values[name] = value
    return ChatParams(**values)


def encode_event(event: StreamEvent) -> str:
    return json.dumps(event.to_dict(), separators=(",", ":"))


def encode_error(msgid: str | None, code: str, message: str, *, retry_after: int | None = None) -> str:
    error: dict[str, Any] = {"type": "error", "msgid": msgid, "code": code, "message": message}
    if retry_after is not None:
        error["retry_after"] = retry_after
    return json.dumps(error, separators=(",", ":"))


def _attachments(raw: Any, msgid: str | None) -> tuple[str, ...]:
    """File ids: a list of at most ``MAX_ATTACHMENTS`` strings (null or missing: none)."""
    if raw is None:
        return ()
    if not isinstance(raw, list) or len(raw) > MAX_ATTACHMENTS:
        raise ProtocolError(f"payload.attachments: a list of at most {MAX_ATTACHMENTS} file ids is required.", msgid)
    if not all(isinstance(item, str) and 0 < len(item) <= MAX_ID_CHARS for item in raw):
        raise ProtocolError(f"payload.attachments: file ids of 1 to {MAX_ID_CHARS} characters are required.", msgid)
    return tuple(raw)


def _only(data: dict[str, Any], allowed: set[str], msgid: str | None, where: str = "payload") -> None:
    unknown = set(data) - allowed
    if unknown:
        raise ProtocolError(f"{where}: unknown fields {', '.join(sorted(unknown))}.", msgid)


def _msgid_of(payload: Any) -> str | None:
    msgid = payload.get("msgid") if isinstance(payload, dict) else None
    return msgid if isinstance(msgid, str) and 0 < len(msgid) <= MAX_ID_CHARS else None


def _required_id(data: dict[str, Any], name: str, msgid: str | None) -> str:
    value = _optional_id(data, name, msgid)
    if value is None:
        raise ProtocolError(f"payload.{name}: a string is required.", msgid)
    return value


def _optional_id(data: dict[str, Any], name: str, msgid: str | None) -> str | None:
    value = data.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or not 0 < len(value) <= MAX_ID_CHARS:
        raise ProtocolError(f"payload.{name}: a string of 1 to {MAX_ID_CHARS} characters is required.", msgid)
    return value
