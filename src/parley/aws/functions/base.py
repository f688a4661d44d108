"""What every Lambda function shares: settings with their secrets, an event loop, and the stores.

A function instance is one Lambda execution environment ("container"): built on the first call,
then reused for every invocation it serves, one at a time. Its event loop lives as long as it does,
so clients and stores opened at cold start stay usable across invocations.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable, Mapping
from contextlib import AsyncExitStack
from typing import Any, ClassVar, TypeVar

from parley.aws.clients import aws_client
from parley.aws.management_api import ManagementApi
from parley.aws.secrets import resolve_secrets
from parley.config import Settings
from parley.core.store.base import Stores
from parley.core.store.registry import open_stores

log = logging.getLogger(__name__)

F = TypeVar("F", bound="LambdaFunction")


class LambdaFunction:
    # Functions that sign or check tokens need the JWT secret; the others skip the Secrets Manager call.
    needs_secrets: ClassVar[bool] = True

    def __init__(
        self,
        settings: Settings | None = None,
        env: Mapping[str, str] | None = None,
        *,
        stores: Stores | None = None,
    ) -> None:
        """``stores``, when given, are used instead of opening them from the settings: the local emulation gives each
        function a table client limited to what its deployed role may do."""
        self.env = os.environ if env is None else env
        self.loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self.loop)
        settings = settings or Settings.from_env(self.env)
        if self.needs_secrets:
            settings = resolve_secrets(settings, aws_client("secretsmanager", settings))
        self.settings = settings
        self._stack = AsyncExitStack()
        self._management_apis: dict[str, ManagementApi] = {}
        self.loop.run_until_complete(self._open(stores))

    async def _open(self, stores: Stores | None) -> None:
        if stores is None:
            stores = await self._stack.enter_async_context(open_stores(self.settings.store, self.settings))
        self.stores: Stores = stores
        await self.open(self._stack)

    async def open(self, stack: AsyncExitStack) -> None:
        """Build what this function needs beyond the stores (called once, at cold start)."""

    def __call__(self, event: dict[str, Any], context: Any) -> Any:
        return self.loop.run_until_complete(self.handle(event, context))

    async def handle(self, event: dict[str, Any], context: Any) -> Any:
        raise NotImplementedError

    def management_api(self, request_context: Mapping[str, Any]) -> ManagementApi:
        """The @connections API of the WebSocket stage the event came from."""
        url = self.settings.ws_callback_url or f"https://{request_context['domainName']}/{request_context['stage']}"
        return self.management_api_at(url)

    def management_api_at(self, url: str) -> ManagementApi:
        if url not in self._management_apis:
            client = aws_client("apigatewaymanagementapi", self.settings, endpoint_url=url)
            self._management_apis[url] = ManagementApi(client)
        return self._management_apis[url]

    def close(self) -> None:
        self.loop.run_until_complete(self._stack.aclose())
        self.loop.close()


def lambda_handler(function_class: type[F]) -> Callable[[dict[str, Any], Any], Any]:
    """The entry point Lambda calls: builds the function on the first call (the cold start), then reuses it."""
    instance: F | None = None

    def handler(event: dict[str, Any], context: Any) -> Any:
        nonlocal instance
        if instance is None:
            logging.getLogger("parley").setLevel(logging.INFO)
            instance = function_class()
        return instance(event, context)

    return handler
