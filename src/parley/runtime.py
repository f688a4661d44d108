"""The composition root: builds every service once from settings, and closes them in order.

Both edges (the local server and, later, the Lambda handlers) start here, so they share one wiring.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Mapping
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass

# The builders live by concern in parley.compose (so a Lambda function imports only its own); they are named here
# too, as the one place that builds everything.
from parley.compose.auth import build_auth, build_hasher, build_setup, build_signup, build_throttle
from parley.compose.chat import build_chat, build_file_access, build_models
from parley.compose.file_storage import build_file_blobs, build_file_limits
from parley.compose.files import build_files
from parley.compose.history import build_import_runner
from parley.compose.limits import build_limits, build_rate_limit, build_share_rate_limit, build_upstream_policy
from parley.compose.websocket import build_ws_policy
from parley.config import Settings
from parley.core.auth.api_keys import ApiKeys
from parley.core.auth.service import AuthService
from parley.core.auth.setup import FirstRunSetup
from parley.core.auth.signup import SignUp
from parley.core.chat.observer import RunObserver
from parley.core.chat.service import ChatService
from parley.core.chat.slots import AnswerSlots
from parley.core.files.base import FileBlobs
from parley.core.files.images import ImageProcessor, PillowImages
from parley.core.files.service import FileService
from parley.core.openai_api.completions import Completions
from parley.core.providers.registry import ModelRegistry
from parley.core.retrieval.embeddings import build_embedder
from parley.core.shares.service import ShareService
from parley.core.store.base import Stores
from parley.core.store.registry import open_stores
from parley.core.usage.meter import UsageMeter
from parley.core.usage.reports import UsageReports

__all__ = [
    "Runtime",
    "build_auth",
    "build_chat",
    "build_completions",
    "build_file_access",
    "build_file_blobs",
    "build_file_limits",
    "build_files",
    "build_hasher",
    "build_import_runner",
    "build_limits",
    "build_models",
    "build_rate_limit",
    "build_setup",
    "build_share_rate_limit",
    "build_signup",
    "build_throttle",
    "build_upstream_policy",
    "build_ws_policy",
    "open_runtime",
]


@dataclass(frozen=True)
class Runtime:
    settings: Settings
    stores: Stores
    auth: AuthService
    setup: FirstRunSetup
    signup: SignUp
    models: ModelRegistry
    chat: ChatService
    api_keys: ApiKeys
    completions: Completions
    meter: UsageMeter
    usage: UsageReports
    shares: ShareService
    files: FileService


def build_completions(
    settings: Settings,
    stores: Stores,
    models: ModelRegistry,
    *,
    meter: UsageMeter | None = None,
    observer: RunObserver | None = None,
    images: ImageProcessor | None = None,
) -> Completions:
    """The OpenAI-compatible endpoint's answers, on both edges."""
    return Completions(
        models,
        build_upstream_policy(settings),
        stores.conversations,
        stores.messages,
        meter=meter or UsageMeter(stores.usage),
        # The app's answer slots: a user's /v1 answers and app answers share one cap.
        slots=AnswerSlots(stores.stop_signals, build_limits(settings)),
        title_max_chars=settings.title_max_chars,
        observer=observer,
        images=images,
    )


@asynccontextmanager
async def open_runtime(
    settings: Settings,
    *,
    models: ModelRegistry | None = None,
    stores: Stores | None = None,
    env: Mapping[str, str] | None = None,
    observer: RunObserver | None = None,
    file_blobs: FileBlobs | None = None,
) -> AsyncIterator[Runtime]:
    """Open stores and discover models (unless given), and build the services; ``observer`` watches every model
    run (the server's metrics); ``file_blobs`` is where attached files' bytes live (default: the data directory)."""
    async with AsyncExitStack() as stack:
        if stores is None:
            stores = await stack.enter_async_context(open_stores(settings.store, settings))
        if models is None:
            models = await build_models(settings, os.environ if env is None else env)
            stack.push_async_callback(models.aclose)
        # One meter for every generation path (chat turns, and any other that runs a model for a user).
        meter = UsageMeter(stores.usage)
        embedder = build_embedder(settings)
        if embedder is not None:
            stack.push_async_callback(embedder.aclose)
        access = build_file_access(settings, stores, file_blobs, embedder)
        chat = build_chat(settings, stores, models, meter=meter, observer=observer, files=access)
        stack.push_async_callback(chat.aclose)
        # One image processor for uploads and /v1 alike: its bound on images decoded at once is the process's.
        images = PillowImages()
        completions = build_completions(settings, stores, models, meter=meter, observer=observer, images=images)
        stack.push_async_callback(completions.aclose)
        api_keys = ApiKeys(stores.api_keys, stores.users)
        stack.push_async_callback(api_keys.aclose)
        hasher = build_hasher(settings)
        files = build_files(settings, stores, file_blobs, images=images, embedder=embedder)
        yield Runtime(
            settings=settings,
            stores=stores,
            # Removing an account removes its attached files too: records, passages and bytes.
            auth=build_auth(settings, stores, hasher, before_remove=files.delete_user_files),
            setup=build_setup(stores, hasher),
            signup=build_signup(settings, stores, hasher),
            models=models,
            chat=chat,
            api_keys=api_keys,
            completions=completions,
            meter=meter,
            usage=UsageReports(stores.users, stores.usage),
            shares=ShareService(stores.conversations, stores.messages, stores.shares),
            files=files,
        )
