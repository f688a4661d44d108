from __future__ import annotations

from fastapi import APIRouter

from parley import __version__
from parley.server.deps import RuntimeDep
from parley.server.schemas import HealthResponse

router = APIRouter(prefix="/api", tags=["health"])


@router.get("/health")
async def health(runtime: RuntimeDep) -> HealthResponse:
    return HealthResponse(
        status="ok",
        version=__version__,
        models=len(runtime.models.list_models()),
        setup_required=await runtime.stores.users.count_users() == 0,
        signup=runtime.signup.policy.mode,
    )
