"""The HTTP API: the same FastAPI app as the local server, through Mangum (payload 2.0)."""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack
from typing import Any

from mangum import Mangum

from parley.aws.functions.base import LambdaFunction
from parley.runtime import open_runtime
from parley.server.app import create_app


class HttpApiFunction(LambdaFunction):
    async def open(self, stack: AsyncExitStack) -> None:
        runtime = await stack.enter_async_context(open_runtime(self.settings, env=self.env, stores=self.stores))
        # Lifespan off: Mangum would start and stop the app on every invocation; the runtime is opened once here.
        self.app = Mangum(create_app(self.settings, runtime, check_host=False), lifespan="off")

    def __call__(self, event: dict[str, Any], context: Any) -> Any:
        # Mangum runs the thread's current event loop: make that this function's loop, where the runtime lives.
        asyncio.set_event_loop(self.loop)
        return self.app(event, context)
