"""What a client asks for (a turn), the limits it is held to, and the turn once accepted and saved."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from parley.core.chat.events import StartEvent
from parley.core.chat.params import ChatParams
from parley.core.files.base import Citation, FileLimits
from parley.core.providers.base import ChatMessage, GenerationParams, ImageInput
from parley.core.usage.meter import Reservation

MAX_MSGID_CHARS = 64
MAX_ATTACHMENTS = FileLimits().max_attachments  # what a request may name; the server's own limit may be lower


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
    # Ids of the user's READY files to attach to the prompt (documents are read, images seen).
    attachments: tuple[str, ...] = ()


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

    @property
    def abandoned_after(self) -> float:
        """Seconds unsaved after which a streaming answer is taken for abandoned: a live answer is saved once a
        save interval has passed and a chunk arrives, and by its heartbeat."""
        return max(self.heartbeat_seconds, self.save_interval_seconds) + self.abandoned_margin_seconds


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
    # The tokens held against the user's monthly budget until the answer settles.
    reservation: Reservation
    # The passages of attached documents in the context, in the order they are numbered there.
    citations: tuple[Citation, ...] = ()

    def start_event(self) -> StartEvent:
        return StartEvent(
            msgid=self.msgid,
            conversation_id=self.conversation_id,
            message_id=self.message_id,
            user_message_id=self.user_message_id,
            model=self.model,
            title=self.title,
            citations=tuple(asdict(citation) for citation in self.citations),
        )

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON data. Images travel as references (file id and type), never as bytes: the worker loads
        them just before it calls the model."""
        data = asdict(self)
        data["context"] = [_message_to_dict(m) for m in self.context]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PreparedChat:
        values = dict(data)
        values["params"] = GenerationParams(**values["params"])
        values["context"] = tuple(_message_from_dict(m) for m in values["context"])
        values["reservation"] = Reservation.from_dict(values["reservation"])
        values["citations"] = tuple(Citation(**c) for c in values.get("citations", ()))
        return cls(**values)


def _message_to_dict(message: ChatMessage) -> dict[str, Any]:
    data: dict[str, Any] = {"role": message.role, "content": message.content}
    if message.images:
        data["images"] = [{"file_id": i.file_id, "media_type": i.media_type} for i in message.images]
    return data


def _message_from_dict(data: dict[str, Any]) -> ChatMessage:
    images = tuple(ImageInput(i["file_id"], i["media_type"]) for i in data.get("images", ()))
    return ChatMessage(data["role"], data["content"], images=images)
