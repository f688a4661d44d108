"""The HTTP API's Lambda request authorizer (payload 2.0, simple responses).

It takes the session token from the Authorization header (scripts) or from the web app's cookie, with the same
cross-site rules as the app behind it (``server/browser_session.py``). It has no identity source and no cache:
API Gateway cannot say "this header or that cookie", and a cache keyed on one of them would miss the other.
The app behind it checks the token again on every request, so a logout or a disabled account takes effect at once.
"""

from __future__ import annotations

from contextlib import AsyncExitStack
from typing import Any

from parley.aws.functions.base import LambdaFunction
from parley.compose.auth import build_auth
from parley.errors import ParleyError
from parley.server.browser_session import parse_cookies, session_token


class AuthorizerFunction(LambdaFunction):
    async def open(self, stack: AsyncExitStack) -> None:
        self.auth = build_auth(self.settings, self.stores, before_remove=None)  # it removes no account

    async def handle(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        headers = {name.lower(): value for name, value in (event.get("headers") or {}).items()}
        method = event.get("requestContext", {}).get("http", {}).get("method", "")
        # Payload 2.0 moves the Cookie header into a list of its own.
        cookies = parse_cookies(event.get("cookies") or [])
        try:
            token = session_token(method, headers, cookies, self.settings.allowed_origins)
            principal = await self.auth.authenticate(token)
        except ParleyError:
            return {"isAuthorized": False}
        return {"isAuthorized": True, "context": {"user_id": principal.user.id, "username": principal.user.username}}
