"""The OpenAI-compatible function's URL, locally: the same ``/v1`` app the Lambda Web Adapter runs on AWS, served by
uvicorn on a loopback port over the function's IAM-checked table client, so its responses stream as they do
through a function URL with ``InvokeMode: RESPONSE_STREAM``. The emulated CloudFront sends ``/v1/*`` here."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager

from parley.aws.clients import aws_client
from parley.aws.secrets import resolve_secrets
from parley.config import Settings
from parley.core.store.base import Stores
from parley.runtime import open_runtime
from parley.server.embedded import serving
from parley.server.openai_app import create_openai_app


@asynccontextmanager
async def serve_function_url(
    settings: Settings, stores: Stores, env: Mapping[str, str], host: str = "127.0.0.1"
) -> AsyncIterator[str]:
    """Serve the function until the block ends; yields its URL."""
    settings = resolve_secrets(settings, aws_client("secretsmanager", settings))
    async with (
        open_runtime(settings, env=env, stores=stores) as runtime,
        serving(create_openai_app(settings, runtime), host, 0, settings=settings) as port,
    ):
        yield f"http://{host}:{port}"
