"""The composition root: builds every service once from settings, and closes them in order.

Both edges (the local server and, later, the Lambda handlers) start here, so they share one wiring.
"""

from __future__ import annotations

import os
import time
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass

from parley.config import Settings
from parley.core.auth.api_keys import ApiKeys
from parley.core.auth.passwords import PasswordHasher
from parley.core.auth.secret import load_or_create_secret
from parley.core.auth.service import AuthService
from parley.core.auth.sessions import SessionCheck
from parley.core.auth.setup import FirstRunSetup
from parley.core.auth.signup import SignUp, SignupPolicy
from parley.core.auth.throttle import LoginThrottle
from parley.core.auth.tokens import TokenCodec
from parley.core.chat.file_context import FileAccess
from parley.core.chat.observer import RunObserver
from parley.core.chat.request import ChatLimits
from parley.core.chat.service import ChatService
from parley.core.chat.slots import AnswerSlots
from parley.core.chat.upstream import UpstreamPolicy
from parley.core.files.base import FileBlobs, FileLimits
from parley.core.files.images import ImageProcessor, PillowImages
from parley.core.files.local_blobs import LocalFileBlobs
from parley.core.files.sandbox import SubprocessExtractor
from parley.core.files.service import FileService
from parley.core.history.importer import HistoryImporter
from parley.core.history.jobs import ImportJobRunner
from parley.core.openai_api.completions import Completions
from parley.core.providers.endpoints import endpoints_from_settings
from parley.core.providers.registry import ModelRegistry, build_model_registry
from parley.core.rate_limit import RateLimiter
from parley.core.retrieval.embeddings import Embedder, build_embedder
from parley.core.retrieval.indexer import DocumentIndexer
from parley.core.retrieval.retriever import Retriever
from parley.core.shares.service import ShareService
from parley.core.store.base import Stores
from parley.core.store.registry import open_stores
from parley.core.usage.meter import UsageMeter
from parley.core.usage.reports import UsageReports
from parley.ws_dispatch import WebSocketPolicy


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


def build_hasher(settings: Settings) -> PasswordHasher:
    return PasswordHasher(settings.argon2, settings.hash_concurrency)


def build_auth(
    settings: Settings, stores: Stores, hasher: PasswordHasher | None = None, *, file_blobs: FileBlobs | None = None
) -> AuthService:
    """Removing an account removes its attached files too: their records, passages and bytes in ``file_blobs``
    (the home's; by default this machine's data directory)."""
    secret = load_or_create_secret(settings.jwt_secret, settings.jwt_secret_path)
    files = build_files(settings, stores, file_blobs)
    return AuthService(
        stores,
        hasher=hasher or build_hasher(settings),
        codec=TokenCodec(
            secret,
            issuer=settings.jwt_issuer,
            audience=settings.jwt_audience,
            ttl_seconds=settings.token_ttl_seconds,
        ),
        throttle=build_throttle(settings, stores),
        ticket_ttl_seconds=settings.ticket_ttl_seconds,
        before_remove=files.delete_user_files,
    )


def build_throttle(settings: Settings, stores: Stores) -> LoginThrottle:
    return LoginThrottle(
        stores.throttle, per_user=settings.throttle_per_user, per_address=settings.throttle_per_address
    )


def build_signup(settings: Settings, stores: Stores, hasher: PasswordHasher) -> SignUp:
    policy = SignupPolicy(mode=settings.signup, domains=settings.signup_domains)
    return SignUp(stores.users, hasher, build_throttle(settings, stores), policy)


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


def build_upstream_policy(settings: Settings) -> UpstreamPolicy:
    return UpstreamPolicy(
        retries=settings.provider_retries,
        base_delay=settings.retry_base_delay,
        first_chunk_timeout=settings.first_token_timeout,
        idle_timeout=settings.token_idle_timeout,
    )


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


def build_import_runner(stores: Stores) -> ImportJobRunner:
    """Both homes run import jobs the same way: the local server in a task, the serverless worker on an event."""
    importer = HistoryImporter(stores.conversations, stores.messages, stores.imports)
    return ImportJobRunner(stores.import_jobs, importer)


def build_file_limits(settings: Settings) -> FileLimits:
    return FileLimits(max_file_bytes=settings.max_file_bytes, max_user_bytes=settings.max_user_file_bytes)


def build_file_blobs(settings: Settings) -> FileBlobs:
    """This machine's blobs, under the data directory: the local home's. The serverless home passes its bucket's
    to ``open_runtime`` (and ``build_auth``) instead."""
    return LocalFileBlobs(settings.files_dir)


def build_files(
    settings: Settings,
    stores: Stores,
    blobs: FileBlobs | None = None,
    *,
    images: ImageProcessor | None = None,
    embedder: Embedder | None = None,
) -> FileService:
    """Attached files, on both homes (the server's routes, the serverless file worker, user removal). A document's
    passages are indexed once, as it is processed, with ``embedder``'s vectors when there is one (by default the
    configured embedding model's)."""
    limits = build_file_limits(settings)
    return FileService(
        stores.files,
        blobs or build_file_blobs(settings),
        limits=limits,
        extractor=SubprocessExtractor(limits),
        images=images or PillowImages(),
        indexer=DocumentIndexer(stores.passages, embedder if embedder is not None else build_embedder(settings)),
    )


def build_rate_limit(settings: Settings, stores: Stores) -> RateLimiter:
    """Every edge counts a user's requests against the same budget, kept in the store."""
    return RateLimiter(stores.request_rate, settings.requests_per_minute)


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
        yield Runtime(
            settings=settings,
            stores=stores,
            auth=build_auth(settings, stores, hasher, file_blobs=file_blobs),
            setup=build_setup(stores, hasher),
            signup=build_signup(settings, stores, hasher),
            models=models,
            chat=chat,
            api_keys=api_keys,
            completions=completions,
            meter=meter,
            usage=UsageReports(stores.users, stores.usage),
            shares=ShareService(stores.conversations, stores.messages, stores.shares),
            files=build_files(settings, stores, file_blobs, images=images, embedder=embedder),
        )


def build_share_rate_limit(settings: Settings, stores: Stores) -> RateLimiter:
    """The public share route's budget, per client address: a link is unguessable, but scraping is still bounded."""
    return RateLimiter(stores.request_rate, settings.share_views_per_minute)


def build_setup(stores: Stores, hasher: PasswordHasher) -> FirstRunSetup:
    return FirstRunSetup(stores.users, stores.setup_codes, hasher)


def build_ws_policy(settings: Settings, stores: Stores, rate_limit: RateLimiter | None = None) -> WebSocketPolicy:
    """Both edges admit WebSocket connections and serve their messages under this one policy."""
    return WebSocketPolicy(
        sessions=SessionCheck(stores),
        rate_limit=rate_limit or build_rate_limit(settings, stores),
        allowed_origins=settings.allowed_origins,
        max_sockets_per_user=settings.max_sockets_per_user,
    )


def build_limits(settings: Settings) -> ChatLimits:
    return ChatLimits(
        max_prompt_chars=settings.max_prompt_chars,
        context_budget_tokens=settings.context_budget_tokens,
        save_interval_seconds=settings.save_interval_seconds,
        title_max_chars=settings.title_max_chars,
        max_generations_per_user=settings.max_generations_per_user,
    )


async def build_models(settings: Settings, env: Mapping[str, str]) -> ModelRegistry:
    return await build_model_registry(settings, endpoints_from_settings(settings, env))
