"""Dependencies shared by the routes: the runtime, and who is calling."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from parley.core.auth.service import Principal
from parley.core.rate_limit import RateLimiter
from parley.runtime import Runtime
from parley.server.browser_session import session_token
from parley.server.cloudfront import viewer_address
from parley.server.sessions import SessionWatcher

# Credentials come from the Authorization header, or from the web app's HttpOnly cookie (see browser_session); never
# from a query string that gets logged. The scheme is declared for the OpenAPI spec; session_token reads the header.
_bearer = HTTPBearer(auto_error=False, description="The session token from POST /api/login.")


def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


def get_sessions(request: Request) -> SessionWatcher:
    sessions: SessionWatcher = request.app.state.sessions
    return sessions


SessionsDep = Annotated[SessionWatcher, Depends(get_sessions)]


async def get_principal(
    request: Request,
    runtime: RuntimeDep,
    _: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    token = session_token(request.method, request.headers, request.cookies, runtime.settings.allowed_origins)
    principal = await runtime.auth.authenticate(token)
    await rate_limit(request.app).check(principal.user.id)
    return principal


def rate_limit(app: Any) -> RateLimiter:
    limiter: RateLimiter = app.state.rate_limit
    return limiter


PrincipalDep = Annotated[Principal, Depends(get_principal)]


def client_address(request: Request) -> str | None:
    """The client's address: the viewer's when the request proves it came through CloudFront, otherwise the
    peer's (on AWS, API Gateway's ``sourceIp``)."""
    viewer = viewer_address(request.headers, get_runtime(request).settings.cloudfront_secret)
    return viewer or (request.client.host if request.client else None)
