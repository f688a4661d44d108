"""Usage records, daily totals, monthly counters and budgets on the table (``keys.py`` draws their keys).

A reservation is one conditional ``UpdateItem`` on the month's counter (ADD, only while the counter is under the
budget), so parallel answers in any number of Lambda containers cannot together pass the budget by more than one
reservation. An answer's end is one transaction: its record, ADD to its day's totals, ADD to the month's counter.
"""

from __future__ import annotations

import uuid
from typing import Any

from botocore.exceptions import ClientError

from parley.aws.dynamodb import keys
from parley.aws.dynamodb.table import Table, is_condition_failure
from parley.core.store.base import DailyUsage, UsageRecord
from parley.core.usage.months import day_key


class DynamoUsageStore:
    def __init__(self, table: Table) -> None:
        self._table = table

    async def reserve(self, user_id: str, month: str, tokens: int) -> int | None:
        budget = await self.get_budget(user_id)
        pk, sk = keys.usage_month(user_id, month)
        if budget is None:
            await self._table.update(pk, sk, "ADD used :tokens", values={":tokens": tokens})
            return None
        try:
            await self._table.update(
                pk,
                sk,
                "ADD used :tokens",
                values={":tokens": tokens, ":budget": budget},
                condition="attribute_not_exists(used) OR used < :budget",
            )
        except ClientError as error:
            if is_condition_failure(error):
                return budget
            raise
        return None

    async def settle(self, record: UsageRecord, month: str, reserved: int) -> None:
        table, user_id = self._table, record.user_id
        actions: list[dict[str, Any]] = [
            table.update_action(
                *keys.usage_month(user_id, month),
                "ADD used :tokens",
                values={":tokens": record.total_tokens - reserved},
            )
        ]
        if record.total_tokens:
            day = day_key(record.created_at)
            pk, sk = keys.usage_record(user_id, record.created_at, uuid.uuid4().hex)
            actions.append(
                table.put_action(
                    {
                        "pk": pk,
                        "sk": sk,
                        "user_id": user_id,
                        "key_id": record.key_id,
                        "model": record.model,
                        "prompt_tokens": record.prompt_tokens,
                        "completion_tokens": record.completion_tokens,
                        "estimated": record.estimated,
                        "source": record.source,
                        "created_at": record.created_at,
                    }
                )
            )
            actions.append(
                table.update_action(
                    *keys.usage_day(user_id, day, record.model),
                    "ADD prompt_tokens :prompt, completion_tokens :completion, requests :one"
                    " SET #day = :day, model = :model",
                    values={
                        ":prompt": record.prompt_tokens,
                        ":completion": record.completion_tokens,
                        ":one": 1,
                        ":day": day,
                        ":model": record.model,
                    },
                    names={"#day": "day"},
                )
            )
        await table.transact(actions)

    async def month_used(self, user_id: str, month: str) -> int:
        item = await self._table.get(*keys.usage_month(user_id, month))
        return int(item.get("used", 0)) if item else 0

    async def daily(self, user_id: str, first_day: str, last_day: str) -> list[DailyUsage]:
        # The sort keys of the range's days run from DAY#<first> to DAY#<last>#<any model>.
        items = await self._table.query_all(
            "pk = :pk AND sk BETWEEN :first AND :last",
            {
                ":pk": keys.usage(user_id),
                ":first": f"{keys.DAY_PREFIX}{first_day}",
                ":last": f"{keys.DAY_PREFIX}{last_day}#\U0010ffff",
            },
        )
        rows = [
            DailyUsage(i["day"], i["model"], i["prompt_tokens"], i["completion_tokens"], i["requests"]) for i in items
        ]
        return sorted(rows, key=lambda row: (row.day, row.model))

    async def get_budget(self, user_id: str) -> int | None:
        item = await self._table.get(*keys.budget(user_id))
        return int(item["monthly_tokens"]) if item else None

    async def set_budget(self, user_id: str, monthly_tokens: int) -> None:
        pk, sk = keys.budget(user_id)
        await self._table.put({"pk": pk, "sk": sk, "monthly_tokens": monthly_tokens})

    async def clear_budget(self, user_id: str) -> bool:
        old = await self._table.delete(*keys.budget(user_id), returns="ALL_OLD")
        return bool(old)

    async def delete_all_for_user(self, user_id: str) -> None:
        """Everything kept about the user's usage: records, totals, counters and budget (a deleted user's)."""
        items = await self._table.query_all("pk = :pk", {":pk": keys.usage(user_id)})
        await self._table.delete_keys((item["pk"], item["sk"]) for item in items)
