"""The table's shape, for creating it where CDK does not (the local emulation and tests).

It must match ``infra/`` (the deployed table): keys ``pk``/``sk``, GSI ``gsi1``, TTL on ``ttl``, and a
stream with old and new images (the session-end function reads it).
"""

from __future__ import annotations

from typing import Any

from parley.aws.dynamodb.table import GSI1


def create_table(client: Any, name: str) -> str:
    """Create the table and wait until it exists; returns its stream's ARN."""
    client.create_table(
        TableName=name,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[
            {"AttributeName": attribute, "AttributeType": "S"} for attribute in ("pk", "sk", "gsi1pk", "gsi1sk")
        ],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        GlobalSecondaryIndexes=[
            {
                "IndexName": GSI1,
                "KeySchema": [
                    {"AttributeName": "gsi1pk", "KeyType": "HASH"},
                    {"AttributeName": "gsi1sk", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )
    client.get_waiter("table_exists").wait(TableName=name)
    client.update_time_to_live(TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": "ttl"})
    return str(client.describe_table(TableName=name)["Table"]["LatestStreamArn"])
