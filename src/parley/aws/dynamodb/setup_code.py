"""The first-run setup code on DynamoDB: one item holding its hash, deleted in the transaction that creates the
admin, so of two setups racing with the code one writes the user and the other's transaction fails."""

from __future__ import annotations

import time

from botocore.exceptions import ClientError

from parley.aws.dynamodb import keys
from parley.aws.dynamodb.table import Table, is_condition_failure
from parley.aws.dynamodb.users import DynamoUserStore, new_user_puts
from parley.core.store.base import User, new_user


class DynamoSetupCodeStore:
    def __init__(self, table: Table, users: DynamoUserStore) -> None:
        self._table = table
        self._users = users

    async def put_setup_code(self, code_hash: str) -> None:
        pk, sk = keys.setup_code()
        await self._table.put({"pk": pk, "sk": sk, "code_hash": code_hash, "created_at": time.time()})

    async def setup_code_matches(self, code_hash: str) -> bool:
        item = await self._table.get(*keys.setup_code())
        return item is not None and item.get("code_hash") == code_hash

    async def create_first_admin(self, code_hash: str, username: str, password_hash: str) -> User | None:
        # DynamoDB cannot make "no user exists" a condition: it is read first, and the code (made only while no
        # user exists, by `parley serve` or `parley setup-code`) is what one setup alone can spend.
        if await self._users.count_users() > 0:
            return None
        user = new_user(username, password_hash, is_admin=True)
        spend = self._table.delete_action(*keys.setup_code(), condition="code_hash = :h", values={":h": code_hash})
        puts = [self._table.put_action(item, condition=condition) for item, condition in new_user_puts(user)]
        try:
            await self._table.transact([spend, *puts])
        except ClientError as error:
            if is_condition_failure(error):
                return None
            raise
        return user
