"""Reading usage and setting budgets, for the API and the CLI. Who may do what: a user reads their own usage; an
admin reads anyone's or everyone's (``report_as``), and sets, reads and clears budgets (``require_admin``). The CLI
is run by whoever owns the data, and reads and sets anything."""

from __future__ import annotations

import datetime
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from parley.core.store.base import DailyUsage, UsageStore, User, UserStore
from parley.core.usage.months import month_key, next_month_start, utc
from parley.errors import Forbidden, InvalidInput, NotFound

DEFAULT_DAYS = 30
MAX_DAYS = 366
MAX_MONTHLY_TOKENS = 10**12


@dataclass(frozen=True)
class BudgetStatus:
    username: str
    monthly_tokens: int | None  # None: no budget
    used: int  # this month's tokens, with those reserved by answers still running
    month: str
    resets_at: datetime.datetime


@dataclass(frozen=True)
class UsageReport:
    first_day: str
    last_day: str
    username: str | None  # None: everyone
    days: list[DailyUsage]
    budget: BudgetStatus | None  # the budget of the one user reported on, when they have one

    @property
    def prompt_tokens(self) -> int:
        return sum(day.prompt_tokens for day in self.days)

    @property
    def completion_tokens(self) -> int:
        return sum(day.completion_tokens for day in self.days)

    @property
    def requests(self) -> int:
        return sum(day.requests for day in self.days)


class UsageReports:
    def __init__(self, users: UserStore, usage: UsageStore, *, clock: Callable[[], float] = time.time) -> None:
        self._users = users
        self._usage = usage
        self._clock = clock

    async def report_as(
        self,
        viewer: User,
        first_day: str | None = None,
        last_day: str | None = None,
        *,
        username: str | None = None,
        everyone: bool = False,
    ) -> UsageReport:
        """What ``viewer`` may read: their own usage, or (admins only) ``username``'s or everyone's."""
        if (username is not None or everyone) and not viewer.is_admin:
            raise Forbidden("Only an admin can read other users' usage.")
        subject = None if everyone else viewer if username is None else await self.user_named(username)
        return await self.report(first_day, last_day, subject)

    async def report(self, first_day: str | None, last_day: str | None, subject: User | None) -> UsageReport:
        """Totals per day and model from ``first_day`` to ``last_day`` (default: the last 30 UTC days) of
        ``subject``, with their budget when they have one; of everyone, summed, when ``subject`` is None."""
        first, last = self.day_range(first_day, last_day)
        if subject is None:
            rows: list[DailyUsage] = []
            for user in await self._users.list_users():
                rows += await self._usage.daily(user.id, first, last)
            return UsageReport(first, last, None, _summed(rows), None)
        rows = await self._usage.daily(subject.id, first, last)
        status = await self.budget_status(subject)
        return UsageReport(first, last, subject.username, rows, status if status.monthly_tokens else None)

    def day_range(self, first_day: str | None, last_day: str | None) -> tuple[str, str]:
        today = utc(self._clock()).date()
        last = _parse_day(last_day, "to") if last_day else today
        first = _parse_day(first_day, "from") if first_day else last - datetime.timedelta(days=DEFAULT_DAYS - 1)
        if first > last:
            raise InvalidInput("'from' must not be after 'to'.")
        if (last - first).days >= MAX_DAYS:
            raise InvalidInput(f"A range is at most {MAX_DAYS} days.")
        return first.isoformat(), last.isoformat()

    async def user_named(self, username: str) -> User:
        user = await self._users.get_user_by_name(username)
        if user is None:
            raise NotFound("No such user.")
        return user

    async def budget_status(self, user: User) -> BudgetStatus:
        now = self._clock()
        month = month_key(now)
        await self._usage.reclaim_expired(user.id, now)  # answers whose process died hold nothing any more
        return BudgetStatus(
            username=user.username,
            monthly_tokens=await self._usage.get_budget(user.id),
            used=await self._usage.month_used(user.id, month),
            month=month,
            resets_at=next_month_start(month),
        )

    async def set_budget(self, username: str, monthly_tokens: int) -> BudgetStatus:
        if not 0 < monthly_tokens <= MAX_MONTHLY_TOKENS:
            raise InvalidInput(f"A monthly budget is 1 to {MAX_MONTHLY_TOKENS:,} tokens.")
        user = await self.user_named(username)
        await self._usage.set_budget(user.id, monthly_tokens)
        return await self.budget_status(user)

    async def budget_of(self, username: str) -> BudgetStatus:
        return await self.budget_status(await self.user_named(username))

    async def clear_budget(self, username: str) -> bool:
        return await self._usage.clear_budget((await self.user_named(username)).id)


def require_admin(user: User) -> None:
    """Budgets are an admin's to set and read (the CLI, run by whoever owns the data, needs no check)."""
    if not user.is_admin:
        raise Forbidden("Only an admin can manage budgets.")


def _parse_day(text: str, name: str) -> datetime.date:
    try:
        return datetime.date.fromisoformat(text)
    except ValueError:
        raise InvalidInput(f"'{name}' is a date as YYYY-MM-DD.") from None


def _summed(rows: Iterable[DailyUsage]) -> list[DailyUsage]:
    totals: dict[tuple[str, str], DailyUsage] = {}
    for row in rows:
        seen = totals.get((row.day, row.model))
        if seen is not None:
            row = DailyUsage(
                row.day,
                row.model,
                seen.prompt_tokens + row.prompt_tokens,
                seen.completion_tokens + row.completion_tokens,
                seen.requests + row.requests,
            )
        totals[(row.day, row.model)] = row
    return [totals[key] for key in sorted(totals)]
