"""Each function's access to the table (parley/aws/functions/table_access.py): the patterns name the item kinds of
keys.py, and the emulation refuses what IAM's LeadingKeys conditions would (the end-to-end tests run through it)."""

from __future__ import annotations

import ast
from fnmatch import fnmatchcase
from pathlib import Path

import boto3
import pytest
from botocore.exceptions import ClientError

from parley.aws.dynamodb import keys
from parley.aws.dynamodb.table import GSI1
from parley.aws.functions import table_access
from parley.aws.local.iam import TableAccess, restricted_stores
from parley.core.store.base import SessionRef

TABLE = "parley-test"
# One key of every kind keys.py builds: the table's partition keys, then the index's.
TABLE_KEYS = {
    "user": keys.user("u1")[0],
    "username": keys.username("Alice")[0],
    "preferences": keys.preferences("u1")[0],
    "conversation": keys.conversation("u1", "c1")[0],
    "messages": keys.messages("c1"),
    "revoked": keys.revoked("j1")[0],
    "ticket": keys.ticket("t1")[0],
    "throttle": keys.throttle("user:alice")[0],
    "connection": keys.connection("k1")[0],
    "generation": keys.generation("u1", "m1")[0],
    "slot": keys.generation_slot("u1", 0)[0],
    "rate": keys.request_rate("u1")[0],
    "api key": keys.api_key("0f" * 32)[0],
    "api key record": keys.api_key_record("u1", "k1")[0],
    "api key name": keys.api_key_name("u1", "laptop")[0],
    "budget": keys.budget("u1")[0],
    "usage month": keys.usage_month("u1", "2026-12")[0],
    "usage day": keys.usage_day("u1", "2026-12-03", "m")[0],
    "usage record": keys.usage_record("u1", 1.0, "r1")[0],
    "usage hold": keys.usage_hold("u1", "h1")[0],
    "imported conversation": keys.imported_conversation("u1", "chatgpt", "ab12")[0],
    "import job": keys.import_job("u1", "j1")[0],
    "share": keys.share("0f" * 32)[0],
    "share of its owner": keys.share_of_owner("u1", "s1")[0],
    "setup code": keys.setup_code()[0],
    "passages of a document": keys.passages("u1", "f1"),
}
INDEX_KEYS = {
    "users": keys.USERS_INDEX,
    "conversations": keys.conversations_index("u1"),
    "connections": keys.connections_index("u1"),
    "search postings": keys.word_index("u1", "glacier"),
    "import jobs": keys.import_jobs_index("u1"),
    "shares": keys.shares_index("u1"),
}
HANDLERS = Path(table_access.__file__).parents[1] / "handlers"


def matching(patterns: list[str], key: str) -> list[str]:
    return [pattern for pattern in patterns if fnmatchcase(key, pattern)]


def test_every_function_has_an_entry_and_no_other():
    functions = {path.stem for path in HANDLERS.glob("*.py") if path.stem != "__init__"}
    assert set(table_access.TABLE_ACCESS) == functions
    assert set(table_access.INDEX_QUERIES) <= functions


def test_each_pattern_is_one_kind_of_item_and_every_kind_has_one():
    table_patterns = sorted(
        {p for actions in table_access.TABLE_ACCESS.values() for ps in actions.values() for p in ps}
    )
    index_patterns = sorted({p for patterns in table_access.INDEX_QUERIES.values() for p in patterns})
    for name, key in TABLE_KEYS.items():
        assert len(matching(table_patterns, key)) == 1, name
        assert matching(index_patterns, key) == [], name
    for name, key in INDEX_KEYS.items():
        assert len(matching(index_patterns, key)) == 1, name
    for pattern in table_patterns:
        assert any(fnmatchcase(key, pattern) for key in TABLE_KEYS.values()), pattern
    for pattern in index_patterns:
        assert any(fnmatchcase(key, pattern) for key in INDEX_KEYS.values()), pattern
    assert table_access.INDEX == GSI1


def test_the_file_imports_nothing_so_infra_can_load_it_by_path():
    tree = ast.parse(Path(table_access.__file__).read_text())
    imports = [node for node in ast.walk(tree) if isinstance(node, ast.Import | ast.ImportFrom)]
    assert [(node.module if isinstance(node, ast.ImportFrom) else None) for node in imports] == ["__future__"]


def key(pk: str) -> dict:
    return {"pk": {"S": pk}, "sk": {"S": "X"}}


def test_a_call_passes_when_every_key_it_names_is_granted_for_its_action():
    worker = TableAccess("worker", TABLE)
    assert worker.refusal("GetItem", {"TableName": TABLE, "Key": key("GEN#u1#m1")}) is None
    assert "not for 'USER#u1'" in worker.refusal("GetItem", {"TableName": TABLE, "Key": key("USER#u1")})
    assert worker.refusal("PutItem", {"TableName": TABLE, "Item": key("CONV#c1")}) is None
    query = {"TableName": TABLE, "KeyConditionExpression": "pk = :p", "ExpressionAttributeValues": {":p": {"S": "C"}}}
    assert "Query on the table is not granted" in TableAccess("authorizer", TABLE).refusal("Query", query)
    batch = {TABLE: [{"DeleteRequest": {"Key": key("CONV#c1")}}, {"DeleteRequest": {"Key": key("CONV#c2")}}]}
    assert worker.refusal("BatchWriteItem", {"RequestItems": batch}) is None
    batch[TABLE].append({"PutRequest": {"Item": key("USER#u1")}})
    assert worker.refusal("BatchWriteItem", {"RequestItems": batch}) is not None  # every key must be granted


def test_an_index_query_is_checked_against_the_indexs_partition_key():
    session_end = TableAccess("session_end", TABLE)
    query = {
        "TableName": TABLE,
        "IndexName": "gsi1",
        "KeyConditionExpression": "#k = :p AND begins_with(gsi1sk, :s)",
        "ExpressionAttributeNames": {"#k": "gsi1pk"},
        "ExpressionAttributeValues": {":p": {"S": "CONNS#u1"}, ":s": {"S": "a"}},
    }
    assert session_end.refusal("Query", query) is None
    query["ExpressionAttributeValues"][":p"] = {"S": "CONVS#u1"}
    assert session_end.refusal("Query", query) is not None
    # The index is not the table: a query of the table's CONN# partitions is another grant, not given.
    table_query = {
        "TableName": TABLE,
        "KeyConditionExpression": "pk = :p",
        "ExpressionAttributeValues": {":p": {"S": "CONN#k1"}},
    }
    assert "Query on the table is not granted" in session_end.refusal("Query", table_query)


def test_what_names_no_key_or_another_table_is_refused():
    http = TableAccess("http_api", TABLE)
    assert "Scan on the table is not granted" in http.refusal("Scan", {"TableName": TABLE})
    assert http.refusal("DescribeTable", {"TableName": TABLE}) is not None
    assert "nothing is granted on the table 'other'" in http.refusal(
        "GetItem", {"TableName": "other", "Key": key("USER#u1")}
    )
    # A transaction's requests are authorized as single-item actions: PutItem on connections is not the app's.
    transaction = {"TransactItems": [{"Put": {"TableName": TABLE, "Item": key("CONN#k1")}}]}
    assert "PutItem on the table is granted for" in http.refusal("TransactWriteItems", transaction)


async def test_the_restricted_client_answers_access_denied_as_aws_does(moto_server, dynamodb_table):
    refused: list[str] = []
    client = boto3.client("dynamodb", endpoint_url=moto_server)
    stores = restricted_stores("ws_disconnect", client, dynamodb_table, refused)
    await stores.connections.delete_connection("k1")  # granted
    with pytest.raises(ClientError) as error:
        await stores.connections.put_connection("k1", SessionRef(user_id="u1", jti="j1", token_version=0), 0.0)
    assert error.value.response["Error"]["Code"] == "AccessDeniedException"
    assert len(refused) == 1 and refused[0].startswith("ws_disconnect may not PutItem")


def test_only_the_openai_function_and_the_app_api_touch_api_keys():
    for function, actions in table_access.TABLE_ACCESS.items():
        touches = any(table_access.API_KEYS in patterns for patterns in actions.values())
        assert touches == (function in ("http_api", "openai_api")), function
    # The /v1 function reads a key and writes only its last use: it cannot make or revoke one.
    openai_api = TableAccess("openai_api", TABLE)
    assert openai_api.refusal("GetItem", {"TableName": TABLE, "Key": key("APIKEY#ab")}) is None
    assert openai_api.refusal("PutItem", {"TableName": TABLE, "Item": key("APIKEY#ab")}) is not None
    assert openai_api.refusal("DeleteItem", {"TableName": TABLE, "Key": key("USER#u1")}) is not None
