"""IAM on the table, locally: each function's DynamoDB client may make only the calls its deployed role allows.

The roles are built from ``parley.aws.functions.table_access``; this applies the same table the way IAM evaluates
``ForAllValues:StringLike`` on ``dynamodb:LeadingKeys``: every partition key a call names must match one of the
patterns granted for its action (on the index, the index's partition key). Any other call is refused with
``AccessDeniedException``, as on AWS, so the emulation and the tests fail where a deployment would.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator, Mapping
from fnmatch import fnmatchcase
from typing import Any

from botocore.exceptions import ClientError

from parley.aws.dynamodb import dynamo_stores
from parley.aws.functions.table_access import INDEX, INDEX_QUERIES, TABLE_ACCESS
from parley.core.store.base import Stores

log = logging.getLogger(__name__)

# How each request of a transaction is authorized (AWS checks the single-item action).
_TRANSACTION_ACTIONS = {
    "Put": "PutItem",
    "Update": "UpdateItem",
    "Delete": "DeleteItem",
    "ConditionCheck": "ConditionCheckItem",
}
# "name = :value" in a key condition: the partition key's equality (the sort key's, if any, is another term).
_EQUALITY = re.compile(r"(#?[A-Za-z_][\w]*)\s*=\s*(:[\w]+)")


class TableAccess:
    """What one function may do to one table."""

    def __init__(self, function: str, table: str, refused: list[str] | None = None) -> None:
        if function not in TABLE_ACCESS:
            raise KeyError(f"{function} has no entry in parley.aws.functions.table_access")
        self.function = function
        self.table = table
        self._actions = TABLE_ACCESS[function]
        self._index_keys = INDEX_QUERIES.get(function, ())
        self.refused = [] if refused is None else refused
        """Every refusal, also those the code catches and logs (a failed save is only logged): tests check it."""

    def install(self, client: Any) -> None:
        """Check every call of this boto3 DynamoDB client before it is sent."""
        client.meta.events.register("before-parameter-build.dynamodb", self._check)

    def _check(self, params: Mapping[str, Any], model: Any, **_: Any) -> None:
        reason = self.refusal(model.name, params)
        if reason is not None:
            message = f"{self.function} may not {model.name}: {reason} (parley/aws/functions/table_access.py)"
            self.refused.append(message)
            log.error("access denied: %s", message)
            raise ClientError({"Error": {"Code": "AccessDeniedException", "Message": message}}, model.name)

    def refusal(self, operation: str, params: Mapping[str, Any]) -> str | None:
        """Why IAM would refuse this call; None when it is allowed."""
        for action, table, index, key in _requests(operation, params):
            if table != self.table:
                return f"nothing is granted on the table {table!r}"
            if index is None:
                allowed = self._actions.get(action, ())
            else:
                allowed = self._index_keys if (index, action) == (INDEX, "Query") else ()
            where = "the table" if index is None else f"the index {index}"
            if not allowed:
                return f"{action} on {where} is not granted"
            if key is None:
                return f"{action} names no partition key"
            if not any(fnmatchcase(key, pattern) for pattern in allowed):
                return f"{action} on {where} is granted for {', '.join(allowed)}, not for {key!r}"
        return None


def _requests(operation: str, params: Mapping[str, Any]) -> Iterator[tuple[str, str, str | None, str | None]]:
    """(action, table, index or None, partition key) for each item a call touches, as IAM authorizes them."""
    table = params.get("TableName", "")
    if operation in ("GetItem", "DeleteItem", "UpdateItem"):
        yield operation, table, None, _partition_key(params.get("Key"))
    elif operation == "PutItem":
        yield operation, table, None, _partition_key(params.get("Item"))
    elif operation == "Query":
        index = params.get("IndexName")
        yield operation, table, index, _queried_key(params, "gsi1pk" if index else "pk")
    elif operation == "BatchWriteItem":
        for name, requests in params.get("RequestItems", {}).items():
            for request in requests:
                item = request.get("PutRequest", {}).get("Item") or request.get("DeleteRequest", {}).get("Key")
                yield operation, name, None, _partition_key(item)
    elif operation == "TransactWriteItems":
        for entry in params.get("TransactItems", []):
            ((kind, request),) = entry.items()
            key = request.get("Key") or request.get("Item")
            yield _TRANSACTION_ACTIONS[kind], request.get("TableName", ""), None, _partition_key(key)
    else:  # Scan, DescribeTable, BatchGetItem, PartiQL...: nothing else is granted
        yield operation, table, None, None


def _partition_key(key: Mapping[str, Any] | None) -> str | None:
    value = (key or {}).get("pk", {})
    return value.get("S") if isinstance(value, Mapping) else None


def _queried_key(params: Mapping[str, Any], attribute: str) -> str | None:
    names = params.get("ExpressionAttributeNames", {})
    values = params.get("ExpressionAttributeValues", {})
    for name, placeholder in _EQUALITY.findall(params.get("KeyConditionExpression", "")):
        if names.get(name, name) == attribute:
            value = values.get(placeholder, {})
            return value.get("S") if isinstance(value, Mapping) else None
    return None


def restricted_stores(function: str, client: Any, table: str, refused: list[str] | None = None) -> Stores:
    """The stores of ``function`` over ``table``, through ``client``, which from now on may make only the calls
    the function's deployed role allows; each call refused is added to ``refused``."""
    TableAccess(function, table, refused).install(client)
    return dynamo_stores(client, table)
