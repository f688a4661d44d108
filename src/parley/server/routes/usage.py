"""GET /api/usage: tokens per day and model; /api/admin/budgets/{username}: monthly token budgets (admins)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from parley.core.usage.reports import require_admin
from parley.server.deps import PrincipalDep, RuntimeDep
from parley.server.schemas import BudgetIn, BudgetOut, ErrorBody, UsageOut

router = APIRouter(prefix="/api", tags=["usage"])

_DAY = r"^\d{4}-\d{2}-\d{2}$"
Username = Annotated[str, Path(min_length=1, max_length=64, description="The user's name")]
_ADMIN_ERRORS: dict[int | str, dict[str, object]] = {
    401: {"model": ErrorBody},
    403: {"model": ErrorBody},
    404: {"model": ErrorBody},
}


@router.get("/usage", responses={400: {"model": ErrorBody}, **_ADMIN_ERRORS})
async def get_usage(
    principal: PrincipalDep,
    runtime: RuntimeDep,
    first_day: Annotated[str | None, Query(alias="from", pattern=_DAY, description="First UTC day, YYYY-MM-DD")] = None,
    last_day: Annotated[str | None, Query(alias="to", pattern=_DAY, description="Last UTC day (included)")] = None,
    user: Annotated[str | None, Query(min_length=1, max_length=64, description="Admins: this user's")] = None,
    all_users: Annotated[bool, Query(alias="all", description="Admins: everyone's, summed")] = False,
) -> UsageOut:
    """Tokens per UTC day and model (default: the last 30 days), with the month's budget when there is one."""
    report = await runtime.usage.report_as(principal.user, first_day, last_day, username=user, everyone=all_users)
    return UsageOut.of(report, viewer_is_admin=principal.user.is_admin)


@router.get("/admin/budgets/{username}", responses=_ADMIN_ERRORS)
async def get_budget(username: Username, principal: PrincipalDep, runtime: RuntimeDep) -> BudgetOut:
    require_admin(principal.user)
    return BudgetOut.of(await runtime.usage.budget_of(username))


@router.put("/admin/budgets/{username}", responses={**_ADMIN_ERRORS, 422: {"model": ErrorBody}})
async def put_budget(username: Username, body: BudgetIn, principal: PrincipalDep, runtime: RuntimeDep) -> BudgetOut:
    require_admin(principal.user)
    return BudgetOut.of(await runtime.usage.set_budget(username, body.monthly_tokens))


@router.delete("/admin/budgets/{username}", status_code=204, responses=_ADMIN_ERRORS)
async def delete_budget(username: Username, principal: PrincipalDep, runtime: RuntimeDep) -> Response:
    require_admin(principal.user)
    await runtime.usage.clear_budget(username)
    return Response(status_code=204)
