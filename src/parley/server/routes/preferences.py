"""The settings a user saves (model parameters, system prompt presets, theme), kept on the server."""

from __future__ import annotations

from fastapi import APIRouter

from parley.server.deps import PrincipalDep, RuntimeDep
from parley.server.schemas import ErrorBody, Preferences

router = APIRouter(prefix="/api/preferences", tags=["preferences"])


@router.get("", responses={401: {"model": ErrorBody}})
async def get_preferences(principal: PrincipalDep, runtime: RuntimeDep) -> Preferences:
    saved = await runtime.stores.preferences.get_preferences(principal.user.id)
    return Preferences.model_validate(saved) if saved else Preferences()


@router.put("", responses={401: {"model": ErrorBody}, 422: {"model": ErrorBody}})
async def put_preferences(body: Preferences, principal: PrincipalDep, runtime: RuntimeDep) -> Preferences:
    await runtime.stores.preferences.put_preferences(principal.user.id, body.model_dump(mode="json"))
    return body
