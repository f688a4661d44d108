"""Chat turns: the models, the chat service, and how turns read attached files."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping

from parley.compose.file_storage import build_file_blobs, build_file_limits
from parley.compose.limits import build_limits, build_upstream_policy
from parley.config import Settings
from parley.core.chat.file_context import FileAccess
from parley.core.chat.observer import RunObserver
from parley.core.chat.service import ChatService
from parley.core.files.base import FileBlobs
from parley.core.providers.endpoints import endpoints_from_settings
from parley.core.providers.registry import ModelRegistry, build_model_registry
from parley.core.retrieval.embeddings import Embedder, build_embedder
from parley.core.retrieval.retriever import Retriever
from parley.core.store.base import Stores
from parley.core.usage.meter import UsageMeter


def build_chat(
    settings: Settings,
    stores: Stores,
    models: ModelRegistry,
    *,
    meter: UsageMeter | None = None,
    wall_clock: Callable[[], float] = time.time,
    observer: RunObserver | None = None,
    files: FileAccess | None = None,
) -> ChatService:
    """``files``: how turns read attached files (None: attachments are refused)."""
    return ChatService(
        stores.conversations,
        stores.messages,
        stores.stop_signals,
        models,
        limits=build_limits(settings),
        policy=build_upstream_policy(settings),
        meter=meter or UsageMeter(stores.usage),
        wall_clock=wall_clock,
        observer=observer,
        files=files,
    )


def build_file_access(
    settings: Settings, stores: Stores, blobs: FileBlobs | None = None, embedder: Embedder | None = None
) -> FileAccess:
    """How chat turns read attached files, the same on both homes: the store's records and passages, the home's
    blobs (by default this machine's data directory), and the embedding model when one is configured."""
    return FileAccess(
        files=stores.files,
        blobs=blobs or build_file_blobs(settings),
        retriever=Retriever(stores.passages, embedder if embedder is not None else build_embedder(settings)),
        limits=build_file_limits(settings),
        document_share=settings.document_context_share,
    )


async def build_models(settings: Settings, env: Mapping[str, str]) -> ModelRegistry:
    return await build_model_registry(settings, endpoints_from_settings(settings, env))
