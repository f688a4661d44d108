"""The serverless store's check: the region, the credentials, and the table (``describe_table``)."""

from __future__ import annotations

import asyncio
from typing import Any

from parley.config import ENV_DYNAMODB_TABLE, Settings
from parley.doctor.findings import Finding, broken, ok, warning

SUBJECT = "DynamoDB table"


async def check_dynamodb(settings: Settings) -> list[Finding]:
    if settings.store != "dynamodb":
        return []
    if not settings.dynamodb_table:
        return [broken(SUBJECT, "no table is named", f"set {ENV_DYNAMODB_TABLE} (the stack's output TableName)")]
    return await asyncio.to_thread(_describe, settings, settings.dynamodb_table)


def _describe(settings: Settings, table: str) -> list[Finding]:
    import boto3
    from botocore.config import Config
    from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, NoRegionError

    from parley.aws.clients import aws_client

    region = boto3.session.Session().region_name
    if region is None:
        return [broken("AWS region", "no region is set", "set AWS_REGION (or AWS_DEFAULT_REGION, or a profile's)")]
    quick = Config(connect_timeout=5, read_timeout=5, retries={"max_attempts": 1})
    try:
        client: Any = aws_client("dynamodb", settings, config=quick)
        description = client.describe_table(TableName=table)["Table"]
    except NoRegionError:
        return [broken("AWS region", "no region is set", "set AWS_REGION")]
    except NoCredentialsError:
        return [broken("AWS credentials", "no AWS credentials were found", "set AWS_PROFILE or sign in (aws sso)")]
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        if code == "ResourceNotFoundException":
            return [
                broken(SUBJECT, f"{table} does not exist in {region}", "deploy the stack (make deploy) or fix the name")
            ]
        return [broken(SUBJECT, f"describe_table({table}) failed: {code or error}", "check the credentials' rights")]
    except BotoCoreError as error:
        return [broken(SUBJECT, f"cannot reach DynamoDB: {error}", "check the network and the endpoint")]
    status = description.get("TableStatus", "?")
    if status != "ACTIVE":
        return [warning(SUBJECT, f"{table} in {region} is {status}", "wait for it to become ACTIVE")]
    return [ok("AWS region", region), ok(SUBJECT, f"{table} is ACTIVE")]
