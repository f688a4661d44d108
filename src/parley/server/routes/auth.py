"""Login, logout, and the single-use tickets that open a WebSocket."""

from __future__ import annotations

import time

from fastapi import APIRouter, Request, Response

from parley.server.browser_session import COOKIE_PATH, SESSION_COOKIE, check_same_origin
from parley.server.deps import PrincipalDep, RuntimeDep, SessionsDep, client_address
from parley.server.schemas import ErrorBody, LoginRequest, LoginResponse, TicketResponse

router = APIRouter(prefix="/api", tags=["auth"])

_ERRORS: dict[int | str, dict[str, object]] = {
    401: {"model": ErrorBody, "description": "Wrong username or password (one answer for both)."},
    403: {"model": ErrorBody, "description": "A cookie asked for without the X-Parley-CSRF header or this Origin."},
    429: {"model": ErrorBody, "description": "Too many failed attempts; see Retry-After."},
}


@router.post("/login", responses=_ERRORS)
async def login(body: LoginRequest, request: Request, response: Response, runtime: RuntimeDep) -> LoginResponse:
    if body.cookie:  # checked first: another site's page must not even learn whether the password was right
        check_same_origin(request.headers, runtime.settings.allowed_origins)
    session = await runtime.auth.login(body.username, body.password, client_address(request))
    if not body.cookie:
        return LoginResponse(token=session.token, expires_at=session.expires_at, username=session.user.username)
    response.set_cookie(
        SESSION_COOKIE,
        session.token,
        max_age=max(0, int(session.expires_at - time.time())),
        path=COOKIE_PATH,
        secure=_over_https(request),
        httponly=True,
        samesite="strict",
    )
    return LoginResponse(token=None, expires_at=session.expires_at, username=session.user.username)


@router.post("/logout", status_code=204, responses={401: {"model": ErrorBody}, 403: {"model": ErrorBody}})
async def logout(request: Request, principal: PrincipalDep, runtime: RuntimeDep, sessions: SessionsDep) -> Response:
    await runtime.auth.logout(principal)
    await sessions.close_session(principal.claims.jti)
    response = Response(status_code=204)
    response.delete_cookie(
        SESSION_COOKIE, path=COOKIE_PATH, secure=_over_https(request), httponly=True, samesite="strict"
    )
    return response


@router.post("/ws-ticket", responses={401: {"model": ErrorBody}, 403: {"model": ErrorBody}})
async def ws_ticket(principal: PrincipalDep, runtime: RuntimeDep) -> TicketResponse:
    ticket, expires_in = await runtime.auth.issue_ticket(principal)
    return TicketResponse(ticket=ticket, expires_in=expires_in)


def _over_https(request: Request) -> bool:
    """Whether the browser reached us over TLS: as the server saw it, or, behind a TLS proxy that does not say so
    (no --forwarded-allow-ips), as the page's Origin says."""
    return request.url.scheme == "https" or request.headers.get("origin", "").startswith("https://")
