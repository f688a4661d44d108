"""``parley budget``: users' monthly token budgets; ``parley usage``: tokens per day and model, as a table."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from parley.cli.support import Subcommands, run_async, with_stores
from parley.config import Settings

if TYPE_CHECKING:
    from parley.core.store.base import Stores
    from parley.core.usage.reports import BudgetStatus, UsageReport, UsageReports


def add_commands(commands: Subcommands, common: argparse.ArgumentParser) -> None:
    budget = commands.add_parser("budget", help="users' monthly token budgets").add_subparsers(title="budget commands")
    set_ = budget.add_parser("set", parents=[common], help="set a user's monthly token budget (UTC months)")
    set_.add_argument("name")
    set_.add_argument("tokens", type=int)
    set_.set_defaults(run=run_async(_budget_set))
    show = budget.add_parser("show", parents=[common], help="a user's budget and this month's use")
    show.add_argument("name")
    show.set_defaults(run=run_async(_budget_show))
    clear = budget.add_parser("clear", parents=[common], help="remove a user's budget")
    clear.add_argument("name")
    clear.set_defaults(run=run_async(_budget_clear))

    usage = commands.add_parser("usage", parents=[common], help="tokens per day and model (everyone's by default)")
    usage.add_argument("--user", help="only this user's")
    usage.add_argument("--from", dest="first_day", metavar="YYYY-MM-DD", help="first UTC day (default: 30 days ago)")
    usage.add_argument("--to", dest="last_day", metavar="YYYY-MM-DD", help="last UTC day (default: today)")
    usage.set_defaults(run=run_async(_usage))


def _reports(stores: Stores) -> UsageReports:
    from parley.core.usage.reports import UsageReports

    return UsageReports(stores.users, stores.usage)


def describe(status: BudgetStatus) -> str:
    when = f"{status.resets_at.day} {status.resets_at:%B %Y}"
    if status.monthly_tokens is None:
        return f"{status.username}: no budget; {status.used:,} tokens used in {status.month}."
    return (
        f"{status.username}: {status.monthly_tokens:,} tokens a month; {status.used:,} used in {status.month};"
        f" resets on {when} (UTC)."
    )


async def _budget_set(args: argparse.Namespace, settings: Settings) -> int:
    async def apply(stores: Stores) -> int:
        print(describe(await _reports(stores).set_budget(args.name, args.tokens)))
        return 0

    return await with_stores(settings, apply)


async def _budget_show(args: argparse.Namespace, settings: Settings) -> int:
    async def show(stores: Stores) -> int:
        print(describe(await _reports(stores).budget_of(args.name)))
        return 0

    return await with_stores(settings, show)


async def _budget_clear(args: argparse.Namespace, settings: Settings) -> int:
    async def clear(stores: Stores) -> int:
        cleared = await _reports(stores).clear_budget(args.name)
        print(f"Removed {args.name}'s budget." if cleared else f"{args.name} had no budget.")
        return 0

    return await with_stores(settings, clear)


async def _usage(args: argparse.Namespace, settings: Settings) -> int:
    async def show(stores: Stores) -> int:
        reports = _reports(stores)
        subject = await reports.user_named(args.user) if args.user else None
        print(usage_table(await reports.report(args.first_day, args.last_day, subject)))
        return 0

    return await with_stores(settings, show)


def usage_table(report: UsageReport) -> str:
    whose = report.username or "everyone"
    lines = [f"Usage of {whose}, {report.first_day} to {report.last_day} (UTC days)"]
    rows = [("day", "model", "prompt", "completion", "requests")]
    rows += [
        (d.day, d.model, f"{d.prompt_tokens:,}", f"{d.completion_tokens:,}", f"{d.requests:,}") for d in report.days
    ]
    rows.append(("total", "", f"{report.prompt_tokens:,}", f"{report.completion_tokens:,}", f"{report.requests:,}"))
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    for row in rows:
        left = [row[0].ljust(widths[0]), row[1].ljust(widths[1])]
        right = [cell.rjust(width) for cell, width in zip(row[2:], widths[2:], strict=True)]
        lines.append("  ".join(left + right).rstrip())
    if report.budget is not None:
        lines.append(describe(report.budget))
    return "\n".join(lines)
