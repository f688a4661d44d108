"""Model providers behind one streaming interface, found through a registry."""

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
from parley.core.providers.registry import ModelRegistry, build_model_registry, provider_type

__all__ = [
    "ChatMessage",
    "Chunk",
    "FinishChunk",
    "GenerationParams",
    "ModelInfo",
    "ModelRegistry",
    "ParamRange",
    "ParamRanges",
    "Provider",
    "TextChunk",
    "Usage",
    "UsageChunk",
    "build_model_registry",
    "provider_type",
]
