"""Login, logout, and the single-use tickets that open a WebSocket."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from parley.server.deps import PrincipalDep, RuntimeDep, SessionsDep, client_address
from parley.server.schemas import ErrorBody, LoginRequest, LoginResponse, TicketResponse

router = APIRouter(prefix="/api", tags=["auth"])

_ERRORS: dict[int | str, dict[str, object]] = {
    401: {"model": ErrorBody, "description": "Wrong username or password (one answer for both)."},
    429: {"model": ErrorBody, "description": "Too many failed attempts; see Retry-After."},
}


@router.post("/login", responses=_ERRORS)
async def login(body: LoginRequest, request: Request, runtime: RuntimeDep) -> LoginResponse:
    session = await runtime.auth.login(body.username, body.password, client_address(request))
    return LoginResponse(token=session.token, expires_at=session.expires_at, username=session.user.username)


@router.post("/logout", status_code=204, responses={401: {"model": ErrorBody}})
async def logout(principal: PrincipalDep, runtime: RuntimeDep, sessions: SessionsDep) -> Response:
    await runtime.auth.logout(principal)
    await sessions.close_session(principal.claims.jti)
    return Response(status_code=204)


@router.post("/ws-ticket", responses={401: {"model": ErrorBody}})
async def ws_ticket(principal: PrincipalDep, runtime: RuntimeDep) -> TicketResponse:
    ticket, expires_in = await runtime.auth.issue_ticket(principal)
    return TicketResponse(ticket=ticket, expires_in=expires_in)
