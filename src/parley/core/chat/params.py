"""What a client asks for, checked against what the chosen model accepts."""

from __future__ import annotations

from dataclasses import dataclass

from parley.core.providers.base import GenerationParams, ModelInfo, ParamRange
from parley.errors import InvalidInput

MAX_SYSTEM_PROMPT_CHARS = 16_000


@dataclass(frozen=True)
class ChatParams:
    """Every field is optional; what is missing takes the model's default."""

    model: str | None = None
    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None
    frequency_penalty: float | None = None
    presence_penalty: float | None = None
    system_prompt: str | None = None


def resolve_generation_params(params: ChatParams, model: ModelInfo) -> GenerationParams:
    ranges = model.ranges
    if params.system_prompt is not None and len(params.system_prompt) > MAX_SYSTEM_PROMPT_CHARS:
        raise InvalidInput(f"The system prompt is longer than {MAX_SYSTEM_PROMPT_CHARS} characters.")
    return GenerationParams(
        temperature=_within("temperature", params.temperature, ranges.temperature),
        top_p=_within("top_p", params.top_p, ranges.top_p),
        max_tokens=int(_within("max_tokens", params.max_tokens, ranges.max_tokens)),
        frequency_penalty=_within("frequency_penalty", params.frequency_penalty, ranges.frequency_penalty),
        presence_penalty=_within("presence_penalty", params.presence_penalty, ranges.presence_penalty),
    )


def _within(name: str, value: float | None, allowed: ParamRange) -> float:
    if value is None:
        return allowed.default
    if not allowed.min <= value <= allowed.max:
        raise InvalidInput(f"{name} must be between {allowed.min:g} and {allowed.max:g}.")
    return value
