"""Usage records, daily totals, monthly counters and budgets on the table (``keys.py`` draws their keys).

A reservation is one conditional ``UpdateItem`` on the month's counter (ADD, only while the counter is under the
budget), so parallel answers in any number of Lambda containers cannot together pass the budget by more than one
reservation. An answer's end is one transaction: its record, ADD to its day's totals, ADD to the month's counter.

With a hold (``HOLD#`` item), a reservation is one transaction of the conditional ADD and the hold's Put; the end's
transaction deletes the hold on condition that it is there in the state it was read in (reclaimed or not), and
reclaiming an expired hold is one transaction that marks it reclaimed (on condition that it was not) and gives its
tokens back. Whichever of a settle and a reclaim comes second sees the other's write, so nothing counts twice.
"""

from __future__ import annotations

import uuid
from typing import Any

from botocore.exceptions import ClientError

from parley.aws.dynamodb import keys
from parley.aws.dynamodb.table import Table, is_condition_failure
from parley.core.store.base import RECLAIMED_HOLD_KEPT_SECONDS, DailyUsage, UsageHold, UsageRecord
from parley.core.usage.months import day_key

# A hold never reclaimed nor settled (its user never came back) is dropped by the table's TTL once its month is over.
_UNCLAIMED_HOLD_KEPT_SECONDS = 40 * 86_400.0
# Settling re-reads the hold when a reclaim changed it between the read and the write.
_SETTLE_ATTEMPTS = 3


class DynamoUsageStore:
    def __init__(self, table: Table) -> None:
        self._table = table

    async def reserve(self, user_id: str, month: str, tokens: int, hold: UsageHold | None = None) -> int | None:
        if hold is not None:
            await self.reclaim_expired(user_id, hold.started_at)
        budget = await self.get_budget(user_id)
        pk, sk = keys.usage_month(user_id, month)
        under_budget = None if budget is None else "attribute_not_exists(used) OR used < :budget"
        values: dict[str, Any] = {":tokens": tokens} if budget is None else {":tokens": tokens, ":budget": budget}
        try:
            if hold is None:
                await self._table.update(pk, sk, "ADD used :tokens", values=values, condition=under_budget)
            else:
                hold_pk, hold_sk = keys.usage_hold(user_id, hold.id)
                item = {
                    "pk": hold_pk,
                    "sk": hold_sk,
                    "month": month,
                    "tokens": tokens,
                    "started_at": hold.started_at,
                    "expires_at": hold.expires_at,
                    "ttl": int(hold.expires_at + _UNCLAIMED_HOLD_KEPT_SECONDS),
                }
                await self._table.transact(
                    [
                        self._table.update_action(pk, sk, "ADD used :tokens", values=values, condition=under_budget),
                        self._table.put_action(item, condition="attribute_not_exists(pk)"),
                    ]
                )
        except ClientError as error:
            if budget is not None and is_condition_failure(error):
                return budget
            raise
        return None

    async def settle(self, record: UsageRecord, month: str, reserved: int, hold_id: str | None = None) -> None:
        if hold_id is None:  # a reservation taken before holds existed
            await self._table.transact(self._settle_actions(record, month, record.total_tokens - reserved))
            return
        hold_key = keys.usage_hold(record.user_id, hold_id)
        for attempt in range(_SETTLE_ATTEMPTS):
            hold = await self._table.get(*hold_key)
            if hold is None:
                return  # settled already
            reclaimed = bool(hold.get("reclaimed"))
            state = "attribute_exists(reclaimed)" if reclaimed else "attribute_not_exists(reclaimed)"
            # A reclaimed hold's tokens were given back already: only what the answer used is added.
            delta = record.total_tokens if reclaimed else record.total_tokens - reserved
            delete = self._table.delete_action(*hold_key, condition=f"attribute_exists(pk) AND {state}")
            try:
                await self._table.transact([delete, *self._settle_actions(record, month, delta)])
                return
            except ClientError as error:
                if not is_condition_failure(error) or attempt == _SETTLE_ATTEMPTS - 1:
                    raise

    async def reclaim_expired(self, user_id: str, now: float) -> int:
        expired = await self._table.query_all(
            "pk = :pk AND begins_with(sk, :hold)",
            {":pk": keys.usage(user_id), ":hold": keys.HOLD_PREFIX, ":now": now},
            filter_expression="expires_at <= :now AND attribute_not_exists(reclaimed)",
        )
        given_back = 0
        for hold in expired:
            tokens = int(hold["tokens"])
            try:
                await self._table.transact(
                    [
                        self._table.update_action(
                            hold["pk"],
                            hold["sk"],
                            "SET reclaimed = :yes, #ttl = :ttl",
                            values={":yes": True, ":ttl": int(float(hold["expires_at"]) + RECLAIMED_HOLD_KEPT_SECONDS)},
                            names={"#ttl": "ttl"},
                            condition="attribute_exists(pk) AND attribute_not_exists(reclaimed)",
                        ),
                        self._table.update_action(
                            *keys.usage_month(user_id, str(hold["month"])),
                            "ADD used :tokens",
                            values={":tokens": -tokens},
                        ),
                    ]
                )
            except ClientError as error:
                if not is_condition_failure(error):
                    raise
                continue  # settled or reclaimed by another meanwhile (or a conflict: the next read tries again)
            given_back += tokens
        return given_back

    def _settle_actions(self, record: UsageRecord, month: str, delta: int) -> list[dict[str, Any]]:
        """The month's counter moved by ``delta``, and the record with its day's totals when it used any tokens."""
        table, user_id = self._table, record.user_id
        actions: list[dict[str, Any]] = [
            table.update_action(*keys.usage_month(user_id, month), "ADD used :tokens", values={":tokens": delta})
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
        return actions

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
