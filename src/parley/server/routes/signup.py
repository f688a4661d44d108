"""Sign-up from the login page, when PARLEY_SIGNUP allows it (``core/auth/signup.py``)."""

from __future__ import annotations

from fastapi import APIRouter, Request

from parley.server.deps import RuntimeDep, client_address
from parley.server.schemas import AccountCreated, ErrorBody, SignupRequest

router = APIRouter(prefix="/api", tags=["auth"])


@router.post(
    "/signup",
    status_code=201,
    responses={
        400: {"model": ErrorBody, "description": "The username, password or email does not qualify."},
        403: {"model": ErrorBody, "description": "Sign-up is off on this server."},
        409: {"model": ErrorBody, "description": "The username is taken."},
        429: {"model": ErrorBody, "description": "Too many attempts from this address; see Retry-After."},
    },
)
async def signup(body: SignupRequest, request: Request, runtime: RuntimeDep) -> AccountCreated:
    user = await runtime.signup.sign_up(body.username, body.password, body.email, client_address(request))
    return AccountCreated(username=user.username, pending=user.pending)
