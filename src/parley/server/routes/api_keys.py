"""The user's API keys, managed from the web app with a login session (a key cannot manage keys)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response

from parley.server.deps import PrincipalDep, RuntimeDep
from parley.server.schemas import ApiKeyCreate, ApiKeyCreated, ApiKeyList, ApiKeyOut, ErrorBody

router = APIRouter(prefix="/api/keys", tags=["api keys"])

_ERRORS: dict[int | str, dict[str, object]] = {401: {"model": ErrorBody}, 404: {"model": ErrorBody}}


@router.post(
    "", status_code=201, responses={401: {"model": ErrorBody}, 409: {"model": ErrorBody}, 422: {"model": ErrorBody}}
)
async def create_key(body: ApiKeyCreate, principal: PrincipalDep, runtime: RuntimeDep) -> ApiKeyCreated:
    made = await runtime.api_keys.create(
        principal.user,
        body.name,
        expires_in_days=body.expires_in_days,
        save_conversations=body.save_conversations,
    )
    return ApiKeyCreated(key=made.text, **ApiKeyOut.of(made.key).model_dump())


@router.get("", responses={401: {"model": ErrorBody}})
async def list_keys(principal: PrincipalDep, runtime: RuntimeDep) -> ApiKeyList:
    return ApiKeyList(keys=[ApiKeyOut.of(key) for key in await runtime.api_keys.list_keys(principal.user.id)])


@router.delete("/{key_id}", status_code=204, responses=_ERRORS)
async def revoke_key(
    key_id: Annotated[str, Path(min_length=1, max_length=64)], principal: PrincipalDep, runtime: RuntimeDep
) -> Response:
    await runtime.api_keys.revoke(principal.user.id, key_id)
    return Response(status_code=204)
