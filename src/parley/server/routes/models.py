"""The models a user may pick, with the parameter ranges each accepts."""

from __future__ import annotations

from fastapi import APIRouter

from parley.server.deps import PrincipalDep, RuntimeDep
from parley.server.schemas import ErrorBody, ModelOut, ModelsResponse

router = APIRouter(prefix="/api", tags=["models"])


@router.get("/models", responses={401: {"model": ErrorBody}})
async def list_models(_: PrincipalDep, runtime: RuntimeDep) -> ModelsResponse:
    default = runtime.models.default_model
    return ModelsResponse(
        models=[ModelOut.of(info, default) for info in runtime.models.list_models()],
        default_model=default,
    )
