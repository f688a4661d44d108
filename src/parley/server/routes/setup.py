"""First run: the holder of the setup link's code creates the first account, an admin."""

from __future__ import annotations

from fastapi import APIRouter

from parley.server.deps import RuntimeDep
from parley.server.schemas import AccountCreated, ErrorBody, SetupRequest

router = APIRouter(prefix="/api", tags=["auth"])


@router.post(
    "/setup",
    status_code=201,
    responses={
        400: {"model": ErrorBody, "description": "The username or password does not qualify."},
        403: {"model": ErrorBody, "description": "Not the current setup code, or an account exists already."},
    },
)
async def setup(body: SetupRequest, runtime: RuntimeDep) -> AccountCreated:
    user = await runtime.setup.create_admin(body.code, body.username, body.password)
    return AccountCreated(username=user.username, pending=False)
