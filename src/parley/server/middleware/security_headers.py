"""Headers every response carries so a browser treats API answers as data, never as a page to frame or sniff."""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from parley.server.browser_headers import API_HEADERS, PUBLIC_API_HEADERS, PUBLIC_API_PREFIX


class SecurityHeadersMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        extra = API_HEADERS
        if scope["path"].startswith(PUBLIC_API_PREFIX):
            extra = {**API_HEADERS, **PUBLIC_API_HEADERS}

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in extra.items():
                    headers.setdefault(name, value)
            await send(message)

        await self.app(scope, receive, with_headers)
