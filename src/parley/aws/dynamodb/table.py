"""A thin async wrapper over one DynamoDB table (low-level boto3 client, injected), and the item codec.

Every call runs in a worker thread: boto3 is blocking and the event loop must never wait on it.
The table has string keys ``pk``/``sk``, a GSI ``gsi1`` (``gsi1pk``/``gsi1sk``) and TTL on ``ttl``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

GSI1 = "gsi1"
_serializer = TypeSerializer()
_deserializer = TypeDeserializer()
# DynamoDB's BatchWriteItem takes at most 25 requests, BatchGetItem 100 keys.
_BATCH = 25
_BATCH_GET = 100


def encode(item: Mapping[str, Any]) -> dict[str, Any]:
    return {key: _serializer.serialize(_to_dynamo(value)) for key, value in item.items() if value is not None}


def decode(raw: Mapping[str, Any]) -> dict[str, Any]:
    return {key: _from_dynamo(_deserializer.deserialize(value)) for key, value in raw.items()}


def _to_dynamo(value: Any) -> Any:
    if isinstance(value, bool):
        return value
    if isinstance(value, float):
        return Decimal(repr(value))
    return value


def _from_dynamo(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value


def is_condition_failure(error: ClientError) -> bool:
    code = error.response.get("Error", {}).get("Code")
    return code in ("ConditionalCheckFailedException", "TransactionCanceledException")


def failed_item(error: ClientError) -> dict[str, Any] | None:
    """The item as it was when a condition failed (asked for with ``returns_on_failure="ALL_OLD"``)."""
    raw = error.response.get("Item")
    return decode(raw) if raw else None


class Table:
    def __init__(self, client: Any, name: str) -> None:
        self.client = client
        self.name = name

    async def _call(self, operation: str, **kwargs: Any) -> dict[str, Any]:
        method = getattr(self.client, operation)
        result: dict[str, Any] = await asyncio.to_thread(method, **kwargs)
        return result

    async def get(self, pk: str, sk: str) -> dict[str, Any] | None:
        result = await self._call(
            "get_item", TableName=self.name, Key=encode({"pk": pk, "sk": sk}), ConsistentRead=True
        )
        return decode(result["Item"]) if "Item" in result else None

    async def put(
        self,
        item: Mapping[str, Any],
        *,
        condition: str | None = None,
        values: Mapping[str, Any] | None = None,
        names: Mapping[str, str] | None = None,
    ) -> None:
        kwargs: dict[str, Any] = {"TableName": self.name, "Item": encode(item)}
        if condition:
            kwargs["ConditionExpression"] = condition
        if values:
            kwargs["ExpressionAttributeValues"] = encode(values)
        if names:
            kwargs["ExpressionAttributeNames"] = dict(names)
        await self._call("put_item", **kwargs)

    async def update(
        self,
        pk: str,
        sk: str,
        expression: str,
        *,
        values: Mapping[str, Any] | None = None,
        names: Mapping[str, str] | None = None,
        condition: str | None = None,
        returns: str = "NONE",
        returns_on_failure: str = "NONE",
    ) -> dict[str, Any]:
        kwargs: dict[str, Any] = {
            "TableName": self.name,
            "Key": encode({"pk": pk, "sk": sk}),
            "UpdateExpression": expression,
            "ReturnValues": returns,
            "ReturnValuesOnConditionCheckFailure": returns_on_failure,
        }
        if values:
            kwargs["ExpressionAttributeValues"] = encode(values)
        if names:
            kwargs["ExpressionAttributeNames"] = dict(names)
        if condition:
            kwargs["ConditionExpression"] = condition
        result = await self._call("update_item", **kwargs)
        return decode(result.get("Attributes", {}))

    async def delete(
        self,
        pk: str,
        sk: str,
        *,
        condition: str | None = None,
        values: Mapping[str, Any] | None = None,
        returns: str = "NONE",
    ) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"TableName": self.name, "Key": encode({"pk": pk, "sk": sk}), "ReturnValues": returns}
        if condition:
            kwargs["ConditionExpression"] = condition
        if values:
            kwargs["ExpressionAttributeValues"] = encode(values)
        result = await self._call("delete_item", **kwargs)
        return decode(result.get("Attributes", {}))

    async def query(
        self,
        key_condition: str,
        values: Mapping[str, Any],
        *,
        index: str | None = None,
        forward: bool = True,
        limit: int | None = None,
        start_key: Mapping[str, Any] | None = None,
        filter_expression: str | None = None,
        names: Mapping[str, str] | None = None,
        count_only: bool = False,
    ) -> tuple[list[dict[str, Any]], dict[str, Any] | None, int]:
        """One page: (items, the key to continue from or None, count)."""
        kwargs: dict[str, Any] = {
            "TableName": self.name,
            "KeyConditionExpression": key_condition,
            "ExpressionAttributeValues": encode(values),
            "ScanIndexForward": forward,
        }
        if index:
            kwargs["IndexName"] = index
        else:
            kwargs["ConsistentRead"] = True
        if limit:
            kwargs["Limit"] = limit
        if start_key:
            kwargs["ExclusiveStartKey"] = encode(start_key)
        if filter_expression:
            kwargs["FilterExpression"] = filter_expression
        if names:
            kwargs["ExpressionAttributeNames"] = dict(names)
        if count_only:
            kwargs["Select"] = "COUNT"
        result = await self._call("query", **kwargs)
        items = [decode(item) for item in result.get("Items", [])]
        last = decode(result["LastEvaluatedKey"]) if "LastEvaluatedKey" in result else None
        return items, last, int(result.get("Count", 0))

    async def query_all(self, key_condition: str, values: Mapping[str, Any], **kwargs: Any) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        start: dict[str, Any] | None = None
        while True:
            page, start, _ = await self.query(key_condition, values, start_key=start, **kwargs)
            items.extend(page)
            if start is None:
                return items

    async def transact_put(self, puts: Iterable[tuple[Mapping[str, Any], str | None]]) -> None:
        """Put several items atomically; each with an optional condition expression."""
        operations = []
        for item, condition in puts:
            put: dict[str, Any] = {"TableName": self.name, "Item": encode(item)}
            if condition:
                put["ConditionExpression"] = condition
            operations.append({"Put": put})
        await self._call("transact_write_items", TransactItems=operations)

    async def delete_keys(self, keys: Iterable[tuple[str, str]]) -> None:
        await self._batch_write([{"DeleteRequest": {"Key": encode({"pk": pk, "sk": sk})}} for pk, sk in keys])

    async def _batch_write(self, pending: list[dict[str, Any]]) -> None:
        for start in range(0, len(pending), _BATCH):
            batch: dict[str, Any] = {self.name: pending[start : start + _BATCH]}
            # Unprocessed items are retried (throttling); bounded so a broken table cannot spin forever.
            for _ in range(8):
                result = await self._call("batch_write_item", RequestItems=batch)
                batch = result.get("UnprocessedItems") or {}
                if not batch:
                    break
                await asyncio.sleep(0.05)

    async def put_many(self, items: Iterable[Mapping[str, Any]]) -> None:
        """Put items in batches (not atomically: each item lands or not on its own)."""
        pending = [{"PutRequest": {"Item": encode(item)}} for item in items]
        await self._batch_write(pending)

    async def get_many(self, keys: Iterable[tuple[str, str]]) -> list[dict[str, Any]]:
        """The items with these keys that exist, in no particular order (eventually consistent reads)."""
        wanted = [encode({"pk": pk, "sk": sk}) for pk, sk in dict.fromkeys(keys)]
        found: list[dict[str, Any]] = []
        for start in range(0, len(wanted), _BATCH_GET):
            request: dict[str, Any] = {self.name: {"Keys": wanted[start : start + _BATCH_GET]}}
            for _ in range(8):
                result = await self._call("batch_get_item", RequestItems=request)
                found.extend(decode(item) for item in result.get("Responses", {}).get(self.name, []))
                request = result.get("UnprocessedKeys") or {}
                if not request:
                    break
                await asyncio.sleep(0.05)
        return found

    def put_action(self, item: Mapping[str, Any], *, condition: str | None = None) -> dict[str, Any]:
        """A Put for :meth:`transact`."""
        put: dict[str, Any] = {"TableName": self.name, "Item": encode(item)}
        if condition:
            put["ConditionExpression"] = condition
        return {"Put": put}

    def update_action(
        self,
        pk: str,
        sk: str,
        expression: str,
        *,
        values: Mapping[str, Any] | None = None,
        names: Mapping[str, str] | None = None,
        condition: str | None = None,
    ) -> dict[str, Any]:
        """An Update for :meth:`transact`."""
        update: dict[str, Any] = {
            "TableName": self.name,
            "Key": encode({"pk": pk, "sk": sk}),
            "UpdateExpression": expression,
        }
        _expression_parts(update, values, names, condition)
        return {"Update": update}

    def delete_action(
        self, pk: str, sk: str, *, condition: str | None = None, values: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        """A Delete for :meth:`transact`."""
        delete: dict[str, Any] = {"TableName": self.name, "Key": encode({"pk": pk, "sk": sk})}
        _expression_parts(delete, values, None, condition)
        return {"Delete": delete}

    def check_action(
        self,
        pk: str,
        sk: str,
        condition: str,
        *,
        values: Mapping[str, Any] | None = None,
        names: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        """A ConditionCheck for :meth:`transact`: the transaction happens only if this item meets ``condition``."""
        check: dict[str, Any] = {"TableName": self.name, "Key": encode({"pk": pk, "sk": sk})}
        _expression_parts(check, values, names, condition)
        return {"ConditionCheck": check}

    async def transact(self, actions: Iterable[dict[str, Any]]) -> None:
        """Every action or none (at most 100); a failed condition raises a ClientError (``is_condition_failure``)."""
        await self._call("transact_write_items", TransactItems=list(actions))


def _expression_parts(
    target: dict[str, Any],
    values: Mapping[str, Any] | None,
    names: Mapping[str, str] | None,
    condition: str | None,
) -> None:
    if values:
        target["ExpressionAttributeValues"] = encode(values)
    if names:
        target["ExpressionAttributeNames"] = dict(names)
    if condition:
        target["ConditionExpression"] = condition
