"""Request and response bodies of the JSON API (they make the OpenAPI spec)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from parley.core.chat.params import MAX_SYSTEM_PROMPT_CHARS, ChatParams
from parley.core.chat.request import MAX_ATTACHMENTS
from parley.core.providers.base import ModelInfo, ParamRange
from parley.core.store.base import (
    MAX_MESSAGE_ID_CHARS,
    ApiKey,
    Conversation,
    Message,
    MessageStatus,
    SearchHit,
    Share,
    SharedMessage,
    SharedSnapshot,
)
from parley.core.store.parts import CitationPart, FilePart, TextPart, parts_of_type
from parley.core.store.tree import Branch
from parley.core.usage.reports import MAX_MONTHLY_TOKENS, BudgetStatus, UsageReport
from parley.errors import message_for_code


class Strict(BaseModel):
    # Unknown fields are refused, so a misspelt setting is an error, not silently dropped; and values are not
    # coerced (true is not a top_p of 1.0, "0.5" is not a temperature, 5.0 is not a max_tokens).
    model_config = ConfigDict(extra="forbid", strict=True)


class ErrorDetail(BaseModel):
    code: str
    message: str


class ErrorBody(BaseModel):
    error: ErrorDetail


class LoginRequest(Strict):
    username: str = Field(min_length=1, max_length=256)
    password: str = Field(min_length=1, max_length=4096)
    cookie: bool = Field(
        default=False,
        description="Keep the session in an HttpOnly cookie instead of returning the token (the web app does). "
        "Needs the X-Parley-CSRF header and an Origin of this server, as every cookie request that changes anything.",
    )


class LoginResponse(BaseModel):
    token: str | None = Field(description="Send it as `Authorization: Bearer …`; null when the cookie holds it.")
    expires_at: float
    username: str


class TicketResponse(BaseModel):
    ticket: str
    expires_in: int


class RangeOut(BaseModel):
    min: float
    max: float
    default: float

    @classmethod
    def of(cls, r: ParamRange) -> RangeOut:
        return cls(min=r.min, max=r.max, default=r.default)


class ModelOut(BaseModel):
    id: str
    name: str
    provider: str
    context_window: int
    default: bool
    vision: bool = Field(description="Whether the model takes images attached to a prompt.")
    parameters: dict[str, RangeOut]

    @classmethod
    def of(cls, info: ModelInfo, default_id: str | None) -> ModelOut:
        r = info.ranges
        return cls(
            id=info.id,
            name=info.label,
            provider=info.provider,
            context_window=info.context_window,
            default=info.id == default_id,
            vision=info.vision,
            parameters={
                "temperature": RangeOut.of(r.temperature),
                "top_p": RangeOut.of(r.top_p),
                "max_tokens": RangeOut.of(r.max_tokens),
                "frequency_penalty": RangeOut.of(r.frequency_penalty),
                "presence_penalty": RangeOut.of(r.presence_penalty),
            },
        )


class ModelsResponse(BaseModel):
    models: list[ModelOut]
    default_model: str | None


class ConversationOut(BaseModel):
    id: str
    title: str
    model: str
    created_at: float
    updated_at: float

    @classmethod
    def of(cls, c: Conversation) -> ConversationOut:
        return cls(id=c.id, title=c.title, model=c.model, created_at=c.created_at, updated_at=c.updated_at)


class ConversationPageOut(BaseModel):
    items: list[ConversationOut]
    next_cursor: str | None


class AttachmentOut(BaseModel):
    """A file attached to a user message, as it was when attached (the file may have been deleted since)."""

    file_id: str
    name: str
    kind: str = Field(description='"document" or "image".')
    media_type: str
    size: int

    @classmethod
    def of(cls, part: FilePart) -> AttachmentOut:
        return cls(file_id=part.file_id, name=part.name, kind=part.kind, media_type=part.media_type, size=part.size)


class CitationOut(BaseModel):
    """A passage of an attached document the answer was given to read (numbered [1], [2]... in that order)."""

    file_id: str
    file_name: str
    passage_index: int
    page: int | None
    text: str

    @classmethod
    def of(cls, part: CitationPart) -> CitationOut:
        return cls(
            file_id=part.file_id,
            file_name=part.file_name,
            passage_index=part.passage_index,
            page=part.page,
            text=part.text,
        )


# An answer that ended before it finished says why in ``error``.
_ENDED_EARLY = (MessageStatus.ERROR, MessageStatus.INTERRUPTED)


class MessageOut(BaseModel):
    id: str = Field(description="Opaque; unique within its conversation.")
    seq: int = Field(description="Order of creation within the conversation.")
    parent_id: str | None = Field(description="The message this one follows; null for a first message.")
    sibling_ids: list[str] = Field(
        description="Every message sharing this one's parent, itself included, oldest first: the versions of this "
        "turn (edits of a question, regenerated answers). Switch to one with PUT /api/conversations/{id}/leaf."
    )
    role: str
    content: str
    status: str
    model: str | None
    finish_reason: str | None
    error: str | None = Field(
        description="Why an answer that failed or was cut off ended, in words for the user (the live error event's "
        "text is gone once the page reloads); null otherwise."
    )
    usage: dict[str, int] | None
    msgid: str | None = Field(description="The client's id of the request that wrote this message.")
    attachments: list[AttachmentOut] = Field(description="Files attached to a user message; empty otherwise.")
    citations: list[CitationOut] = Field(
        description="Passages of attached documents an answer was given, in the order numbered; empty otherwise."
    )
    created_at: float
    updated_at: float

    @classmethod
    def of(cls, m: Message, sibling_ids: Sequence[str] = ()) -> MessageOut:
        usage = None
        if m.prompt_tokens is not None or m.completion_tokens is not None:
            usage = {"prompt_tokens": m.prompt_tokens or 0, "completion_tokens": m.completion_tokens or 0}
        return cls(
            id=m.id,
            seq=m.seq,
            parent_id=m.parent_id,
            sibling_ids=list(sibling_ids) or [m.id],
            role=m.role,
            content=m.content,
            status=m.status.value,
            model=m.model,
            finish_reason=m.finish_reason,
            error=message_for_code(m.finish_reason) if m.finish_reason and m.status in _ENDED_EARLY else None,
            usage=usage,
            msgid=m.client_msgid,
            attachments=[AttachmentOut.of(part) for part in parts_of_type(m.parts, FilePart)],
            citations=[CitationOut.of(part) for part in parts_of_type(m.parts, CitationPart)],
            created_at=m.created_at,
            updated_at=m.updated_at,
        )


class ConversationDetailOut(ConversationOut):
    """A conversation is a tree of messages; this is the branch it shows and continues."""

    current_leaf_id: str | None = Field(description="The last message of the branch shown; null with no messages.")
    messages: list[MessageOut] = Field(description="The current branch, from the first message to the current leaf.")

    @classmethod
    def of_branch(cls, c: Conversation, branch: Branch) -> ConversationDetailOut:
        return cls(
            **ConversationOut.of(c).model_dump(),
            current_leaf_id=branch.leaf_id,
            messages=[MessageOut.of(m, branch.sibling_ids.get(m.id, ())) for m in branch.messages],
        )


class SwitchBranchRequest(Strict):
    message_id: str = Field(
        min_length=1,
        max_length=MAX_MESSAGE_ID_CHARS,
        description="A message of the conversation. The branch through it becomes the current one, down to the "
        "newest leaf below it (itself, if it has no replies).",
    )


class RenameRequest(Strict):
    title: str = Field(min_length=1, max_length=200)


class HighlightOut(BaseModel):
    start: int = Field(description="Where a matched word starts in `snippet`, in code points (not UTF-16 units).")
    end: int = Field(description="Where it ends (exclusive).")


class SearchHitOut(BaseModel):
    conversation_id: str
    title: str = Field(description="The conversation's title.")
    message_id: str | None = Field(
        description="The message the words were found in; null when they were found in the conversation's title. "
        "The message may be on another branch than the one shown: PUT /api/conversations/{id}/leaf shows it."
    )
    role: str | None = Field(description="Who wrote that message (`user` or `assistant`); null for a title.")
    snippet: str = Field(
        description="Plain text around the match (never HTML: show it as text), `…` where the message goes on."
    )
    highlights: list[HighlightOut] = Field(description="The words of `snippet` that matched, in order.")

    @classmethod
    def of(cls, hit: SearchHit) -> SearchHitOut:
        return cls(
            conversation_id=hit.conversation_id,
            title=hit.title,
            message_id=hit.message_id,
            role=hit.role,
            snippet=hit.snippet,
            highlights=[HighlightOut(start=start, end=end) for start, end in hit.highlights],
        )


class SearchPageOut(BaseModel):
    items: list[SearchHitOut] = Field(description="Best first.")
    next_cursor: str | None = Field(description="Pass it as `cursor` with the same `q` for the next page.")


class ChatParamsIn(Strict):
    model: str | None = Field(default=None, max_length=200)
    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None
    frequency_penalty: float | None = None
    presence_penalty: float | None = None
    system_prompt: str | None = None

    def to_core(self) -> ChatParams:
        return ChatParams(**self.model_dump())


class ChatRequestIn(Strict):
    """The original sample's v1 contract, plus an optional conversation id."""

    id: str | None = Field(default=None, max_length=64, description="Client's id for this request (msgid).")
    prompt: str
    params: ChatParamsIn = Field(default_factory=ChatParamsIn)
    conversation_id: str | None = Field(default=None, max_length=64)
    attachments: list[Annotated[str, Field(min_length=1, max_length=64)]] = Field(
        default_factory=list,
        max_length=MAX_ATTACHMENTS,
        description="Ids of your READY files to attach (POST /api/files): documents are read (whole, or the "
        "passages that best match the prompt), images seen by models that can. Another user's file, or one not "
        "ready, is refused with invalid_input naming it; an image for a model that cannot see, with "
        "model_cannot_see.",
    )
    edit_message_id: str | None = Field(
        default=None,
        max_length=MAX_MESSAGE_ID_CHARS,
        description="Edit and resend: a user message of the conversation. The prompt becomes a new message beside "
        "it (same parent) and is answered on a new branch, which becomes the current one; nothing is deleted. With "
        "that message's own text, its question is answered again: a new answer beside its answers (regenerate).",
    )


class ChatResponse(BaseModel):
    id: str
    bot: str
    conversation_id: str
    message_id: str
    finish_reason: str
    usage: dict[str, int] | None
    citations: list[CitationOut] = Field(
        default_factory=list, description="Passages of attached documents the answer was given, numbered in order."
    )


class HealthResponse(BaseModel):
    status: str
    version: str
    models: int
    setup_required: bool = Field(
        description="True while the server has no users: the first is made with the setup link `parley serve` "
        "printed (POST /api/setup), or with `parley users add NAME --admin`."
    )
    signup: Literal["off", "approval", "open"] = Field(
        description="Whether POST /api/signup makes accounts: not at all, waiting for an admin's approval, or at once."
    )


class SignupRequest(Strict):
    username: str = Field(min_length=1, max_length=256)
    password: str = Field(min_length=1, max_length=4096)
    email: str | None = Field(
        default=None,
        max_length=320,
        description="Optional; never verified. With PARLEY_SIGNUP_DOMAINS, an address of one of those domains is "
        "approved at once.",
    )


class SetupRequest(Strict):
    code: str = Field(min_length=1, max_length=256, description="The one-time code of the printed setup link.")
    username: str = Field(min_length=1, max_length=256)
    password: str = Field(min_length=1, max_length=4096)


class AccountCreated(BaseModel):
    username: str
    pending: bool = Field(description="True when the account waits for an admin's approval before it can log in.")


class Preset(Strict):
    name: str = Field(min_length=1, max_length=80)
    system_prompt: str = Field(max_length=MAX_SYSTEM_PROMPT_CHARS)


class Preferences(ChatParamsIn):
    """What a user saved in the settings drawer: the chat parameters (checked against the model when
    chatting), named system prompts and the theme."""

    # Stored, so bounded here; in a chat request the core checks it (and says so in its own words).
    system_prompt: str | None = Field(default=None, max_length=MAX_SYSTEM_PROMPT_CHARS)
    theme: Literal["light", "dark", "system"] = "system"
    presets: list[Preset] = Field(default_factory=list, max_length=50)


def error_body(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}


class ApiKeyCreate(Strict):
    name: str = Field(min_length=1, max_length=64, description="Unique among your keys not revoked.")
    expires_in_days: int | None = Field(default=None, ge=1, le=3650, description="Never expires when null.")
    save_conversations: bool = Field(
        default=False, description="Save each request made with this key as a new conversation."
    )


class ApiKeyOut(BaseModel):
    id: str
    name: str
    prefix: str = Field(description="The key's first characters, to tell it apart in a list.")
    created_at: float
    expires_at: float | None
    last_used_at: float | None
    revoked: bool
    save_conversations: bool

    @classmethod
    def of(cls, key: ApiKey) -> ApiKeyOut:
        return cls(
            id=key.id,
            name=key.name,
            prefix=key.prefix,
            created_at=key.created_at,
            expires_at=key.expires_at,
            last_used_at=key.last_used_at,
            revoked=key.revoked,
            save_conversations=key.save_conversations,
        )


class ApiKeyCreated(ApiKeyOut):
    key: str = Field(description="The key itself: shown this once, never again (only its hash is kept).")


class ApiKeyList(BaseModel):
    keys: list[ApiKeyOut]


class UsageDayOut(BaseModel):
    day: str = Field(description="UTC day, YYYY-MM-DD")
    model: str
    prompt_tokens: int
    completion_tokens: int
    requests: int


class BudgetOut(BaseModel):
    username: str
    monthly_tokens: int | None = Field(description="null: no budget")
    used: int = Field(description="Tokens used this UTC month, with those held by answers still running")
    month: str = Field(description="YYYY-MM")
    resets_at: str = Field(description="When the month's count starts again (ISO 8601, UTC)")

    @classmethod
    def of(cls, status: BudgetStatus) -> BudgetOut:
        return cls(
            username=status.username,
            monthly_tokens=status.monthly_tokens,
            used=status.used,
            month=status.month,
            resets_at=status.resets_at.isoformat(),
        )


class UsageTotals(BaseModel):
    prompt_tokens: int
    completion_tokens: int
    requests: int


class UsageOut(BaseModel):
    from_day: str = Field(alias="from")
    to_day: str = Field(alias="to")
    user: str | None = Field(description="Whose usage; null: everyone's, summed")
    viewer_is_admin: bool = Field(description="The caller may read anyone's usage (user=, all=)")
    days: list[UsageDayOut]
    totals: UsageTotals
    budget: BudgetOut | None

    @classmethod
    def of(cls, report: UsageReport, *, viewer_is_admin: bool) -> UsageOut:
        return cls.model_validate(
            {
                "viewer_is_admin": viewer_is_admin,
                "from": report.first_day,
                "to": report.last_day,
                "user": report.username,
                "days": [UsageDayOut(**asdict(day)) for day in report.days],
                "totals": UsageTotals(
                    prompt_tokens=report.prompt_tokens,
                    completion_tokens=report.completion_tokens,
                    requests=report.requests,
                ),
                "budget": BudgetOut.of(report.budget) if report.budget else None,
            }
        )


class BudgetIn(Strict):
    monthly_tokens: int = Field(ge=1, le=MAX_MONTHLY_TOKENS, description="Tokens a user may use per UTC month")


class ShareOut(BaseModel):
    """One of the user's shared links (its token is shown only once, when it is made)."""

    id: str
    conversation_id: str = Field(description="The conversation it is a snapshot of.")
    title: str
    created_at: float

    @classmethod
    def of(cls, s: Share) -> ShareOut:
        return cls(id=s.id, conversation_id=s.conversation_id, title=s.title, created_at=s.created_at)


class NewShareOut(ShareOut):
    url: str = Field(
        description="The link, relative to the site's origin (/s/{token}). Shown once: only a hash of its token is "
        "kept, so it cannot be shown again; revoke it and share again instead."
    )
    token: str = Field(description="The link's secret (also inside url).")


class TextPartOut(BaseModel):
    type: Literal["text"] = "text"
    text: str = Field(description="Markdown (an answer) or plain text (a question).")


class SharedMessageOut(BaseModel):
    role: str
    parts: list[TextPartOut] = Field(description="The message's content: its text parts, in order.")
    model: str | None
    created_at: float

    @classmethod
    def of(cls, m: SharedMessage) -> SharedMessageOut:
        parts = [TextPartOut(text=part.text) for part in m.parts if isinstance(part, TextPart)]
        return cls(role=m.role, parts=parts, model=m.model, created_at=m.created_at)


class PublicShareOut(BaseModel):
    """A shared conversation as anyone with its link sees it: nothing about its owner."""

    title: str
    shared_at: float
    messages: list[SharedMessageOut]

    @classmethod
    def of(cls, s: SharedSnapshot) -> PublicShareOut:
        return cls(title=s.title, shared_at=s.created_at, messages=[SharedMessageOut.of(m) for m in s.messages])
