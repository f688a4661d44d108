"""Which models can see images, when their endpoint does not say (a models file's ``vision = true|false`` wins).

OpenAI-compatible servers do not report it in ``/models``, so known model families are recognised by id, in one
small table; the first matching row decides and an unknown model is taken to be blind (refused with a clear error,
rather than an image silently dropped or a 400 from upstream mid-turn). Bedrock's table is in ``aws/bedrock.py``.
"""

from __future__ import annotations

from collections.abc import Sequence
from fnmatch import fnmatchcase
from typing import Final

from parley.core.providers.base import ImageInput
from parley.errors import ParleyError

VisionTable = Sequence[tuple[str, bool]]

# Patterns match the id in lower case without any "vendor/" prefix (OpenRouter, vLLM: "Qwen/Qwen2.5-VL-7B").
# Exceptions come before the family they belong to.
OPENAI_COMPATIBLE: Final[VisionTable] = (
    # OpenAI
    ("gpt-4o*-audio*", False),
    ("gpt-4o*-realtime*", False),
    ("gpt-4o*-transcribe*", False),
    ("gpt-4o*-tts*", False),
    ("gpt-4o*-search*", False),
    ("gpt-4o*", True),
    ("chatgpt-4o*", True),
    ("gpt-4.1*", True),
    ("gpt-4.5*", True),
    ("gpt-4-turbo*", True),
    ("gpt-5*", True),
    ("o1-mini*", False),
    ("o1-preview*", False),
    ("o3-mini*", False),
    ("o1*", True),
    ("o3*", True),
    ("o4*", True),
    # Anthropic and Google through OpenAI-compatible gateways
    ("claude-3-5-haiku*", False),
    ("claude-3*", True),
    ("claude-*-4*", True),
    ("gemini*", True),
    # Open models (Ollama, vLLM, llama.cpp, LM Studio)
    ("gemma3n*", False),
    ("gemma3:1b*", False),
    ("gemma-3-1b*", False),
    ("gemma3*", True),
    ("gemma-3*", True),
    ("*vision*", True),  # llama3.2-vision, granite3.2-vision, phi-3.5-vision...
    ("*llava*", True),  # llava, bakllava, llava-llama3
    ("qwen*vl*", True),  # qwen2.5vl, qwen2.5-vl, qwen3-vl
    ("*-vl*", True),  # internvl, kimi-vl...
    ("pixtral*", True),
    ("mistral-small3.1*", True),
    ("mistral-small-3.1*", True),
    ("mistral-small3.2*", True),
    ("llama4*", True),
    ("llama-4*", True),
    ("minicpm-v*", True),
    ("moondream*", True),
)


def sees(model_id: str, table: VisionTable) -> bool:
    """Whether ``table`` says the model ``model_id`` takes images (False when no row matches)."""
    name = model_id.lower().rsplit("/", 1)[-1]
    return next((vision for pattern, vision in table if fnmatchcase(name, pattern)), False)


def image_bytes(image: ImageInput) -> bytes:
    """The image's bytes, which must have been loaded before a provider is called (only the file id and type
    travel between processes)."""
    if not image.data:
        raise ParleyError(f"The image {image.file_id or '(inline)'} was not loaded before it was sent to the model.")
    return image.data
