"""What only the DynamoDB message log has to get right: a long answer spread over chunk items is never read torn."""

from __future__ import annotations

import asyncio

import boto3

from parley.aws.dynamodb import dynamo_stores, keys
from parley.core.store.base import MessageStatus
from parley.core.store.parts import text_parts


async def test_a_long_answer_saved_while_it_is_read_is_always_read_whole(moto_server, dynamodb_table):
    client = boto3.client("dynamodb", endpoint_url=moto_server)
    stores = dynamo_stores(client, dynamodb_table)
    user = await stores.users.create_user("alice", "h")
    conversation = await stores.conversations.create_conversation(user.id, "t", "m")
    answer = await stores.messages.append(
        user.id, conversation.id, parent_id=None, role="assistant", parts=(), status=MessageStatus.STREAMING
    )
    # Each version is over 200 KB of JSON (three items), and each differs from the last in every chunk.
    versions = [chr(ord("a") + i) * (220_000 + i * 7) for i in range(12)]
    reads: list[str] = []

    async def save() -> None:
        for text in versions:
            await stores.messages.update(
                user.id, conversation.id, answer.id, parts=text_parts(text), status=MessageStatus.STREAMING
            )

    async def read() -> None:
        while len(reads) < 40:
            (message,) = await stores.messages.all_messages(user.id, conversation.id)
            reads.append(message.content)

    await asyncio.gather(save(), read())
    assert all(text == "" or text in versions for text in reads)
    (final,) = await stores.messages.all_messages(user.id, conversation.id)
    assert final.content == versions[-1]
    # The chunks of the versions replaced are gone: the message and the last version's two chunks remain.
    items = await asyncio.to_thread(
        client.query,
        TableName=dynamodb_table,
        KeyConditionExpression="pk = :p AND begins_with(sk, :m)",
        ExpressionAttributeValues={":p": {"S": keys.messages(conversation.id)}, ":m": {"S": keys.MESSAGE_PREFIX}},
    )
    assert items["Count"] == 3
