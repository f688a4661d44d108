from __future__ import annotations

from typing import Any

import pytest

from tests.cfn import (
    all_policy_statements,
    as_list,
    flatten,
    parley_functions,
    prompts_topic,
    resources,
    table_grants,
    websocket_api,
)

DATA_SERVICES = ("dynamodb", "sns", "s3", "secretsmanager", "execute-api")
KEYED_ACTIONS = {
    "dynamodb:GetItem",
    "dynamodb:Query",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:BatchWriteItem",
    "dynamodb:ConditionCheckItem",
    "dynamodb:BatchGetItem",
}
# What each function may do to the table's items, by partition key (src/parley/aws/functions/table_access.py, read
# with parley/aws/dynamodb/keys.py): dynamodb:LeadingKeys patterns per action.
USER, USERNAME, MESSAGES, REVOKED, TICKET = "USER#*", "USERNAME#*", "CONV#*", "JTI#*", "TICKET#*"
SETUP = "SETUP"  # the first-run setup code's one item
THROTTLE, CONNECTION, ANSWER, SLOTS, RATE = "THROTTLE#*", "CONN#*", "GEN#*", "SLOTS#*", "RATE#*"
API_KEY = "APIKEY#*"
USAGE = "USAGE#*"
SHARE = "SHARE#*"  # a share link's snapshot, under its token's hash
PASSAGES = "PASSAGES#*"  # an attached document's passages and keyword index
EXPECTED_TABLE_ACCESS = {
    # /api/keys: a key's lookup item (APIKEY#), its owner's record and its name's claim (USER#). First-run setup
    # reads and spends the setup code (SETUP); it and sign-up claim a username (USERNAME#).
    "http_api": {
        "dynamodb:GetItem": {USERNAME, USER, REVOKED, THROTTLE, ANSWER, USAGE, SETUP},
        "dynamodb:Query": {MESSAGES, SLOTS, USER, USAGE, SHARE, PASSAGES},
        "dynamodb:PutItem": {
            USER,
            USERNAME,
            MESSAGES,
            REVOKED,
            TICKET,
            THROTTLE,
            ANSWER,
            SLOTS,
            API_KEY,
            USAGE,
            SHARE,
        },
        "dynamodb:UpdateItem": {USER, MESSAGES, THROTTLE, RATE, ANSWER, API_KEY, USAGE},
        # /api/chat reads attached documents' passages (retrieval); a deleted file's passages go with it.
        "dynamodb:DeleteItem": {USER, THROTTLE, SLOTS, USAGE, SHARE, SETUP, PASSAGES},
        "dynamodb:BatchWriteItem": {MESSAGES, SHARE, PASSAGES},
        # A new share's transaction checks that its conversation (a user item) still exists.
        "dynamodb:ConditionCheckItem": {MESSAGES, USER},
        "dynamodb:BatchGetItem": {USER, MESSAGES, PASSAGES},
    },
    "authorizer": {"dynamodb:GetItem": {REVOKED, USER}},
    "ws_connect": {
        "dynamodb:GetItem": {REVOKED, USER},
        "dynamodb:PutItem": {CONNECTION},
        "dynamodb:DeleteItem": {TICKET, CONNECTION},
    },
    "ws_disconnect": {"dynamodb:DeleteItem": {CONNECTION}},
    # $default serves resume: follows a running answer, or reads (and may settle) the saved one.
    "ws_default": {
        "dynamodb:GetItem": {CONNECTION, REVOKED, USER},
        "dynamodb:Query": {MESSAGES},
        "dynamodb:PutItem": {MESSAGES},
        "dynamodb:UpdateItem": {RATE, ANSWER, MESSAGES},
        "dynamodb:DeleteItem": {CONNECTION},
        "dynamodb:BatchWriteItem": {MESSAGES},
    },
    "ws_stop": {
        "dynamodb:GetItem": {CONNECTION, REVOKED, USER},
        "dynamodb:UpdateItem": {RATE, ANSWER},
        "dynamodb:DeleteItem": {CONNECTION},
    },
    "ws_sendprompt": {
        "dynamodb:GetItem": {CONNECTION, REVOKED, USER, ANSWER, USAGE},
        "dynamodb:ConditionCheckItem": {MESSAGES},
        "dynamodb:BatchGetItem": {PASSAGES},
        # A reservation puts its hold (USAGE#), giving back the user's expired holds (a query) first.
        "dynamodb:Query": {MESSAGES, SLOTS, PASSAGES, USAGE},
        "dynamodb:PutItem": {USER, MESSAGES, ANSWER, SLOTS, USAGE},
        "dynamodb:UpdateItem": {USER, MESSAGES, RATE, ANSWER, USAGE},
        "dynamodb:DeleteItem": {SLOTS, CONNECTION, USAGE},
        "dynamodb:BatchWriteItem": {MESSAGES},
    },
    # Settling an answer reads its reservation's hold and deletes it with the usage it records.
    "worker": {
        "dynamodb:GetItem": {ANSWER, USAGE},
        "dynamodb:Query": {MESSAGES},
        "dynamodb:PutItem": {MESSAGES, USAGE},
        "dynamodb:UpdateItem": {MESSAGES, ANSWER, USAGE},
        "dynamodb:DeleteItem": {SLOTS, USAGE},
        "dynamodb:BatchWriteItem": {MESSAGES},
    },
    "session_end": {"dynamodb:DeleteItem": {CONNECTION}},
    # /v1: reads a key and its user, records a key's use and, for a key that says so, saves the request; each
    # answer takes one of its user's answer slots (shared with the app's answers).
    "openai_api": {
        "dynamodb:GetItem": {API_KEY, USER, USAGE, ANSWER},
        "dynamodb:Query": {MESSAGES, SLOTS, USAGE},
        "dynamodb:PutItem": {USER, MESSAGES, USAGE, ANSWER, SLOTS},
        "dynamodb:UpdateItem": {API_KEY, USER, MESSAGES, RATE, USAGE, ANSWER},
        "dynamodb:DeleteItem": {SLOTS, USAGE},
        "dynamodb:ConditionCheckItem": {MESSAGES},
        "dynamodb:BatchWriteItem": {MESSAGES},
    },
    # Saves imported conversations whole (or deletes what it made), records them, and keeps its job's progress.
    "import_worker": {
        "dynamodb:GetItem": {USER},
        "dynamodb:Query": {MESSAGES},
        "dynamodb:PutItem": {USER, MESSAGES},
        "dynamodb:UpdateItem": {USER},
        "dynamodb:DeleteItem": {USER},
        "dynamodb:BatchWriteItem": {MESSAGES},
        "dynamodb:ConditionCheckItem": {MESSAGES},
    },
    # Reads the record of the file whose original arrived, and saves what processing learned (or its error);
    # indexes a document's passages (replacing an earlier index of the same file).
    "file_worker": {
        "dynamodb:GetItem": {USER},
        "dynamodb:PutItem": {USER, PASSAGES},
        "dynamodb:Query": {PASSAGES},
        "dynamodb:DeleteItem": {PASSAGES},
        "dynamodb:BatchWriteItem": {PASSAGES},
    },
}
# Queries of the index (gsi1), by its partition key: the user list, a user's conversations, a user's connections,
# a user's search postings of a word.
EXPECTED_INDEX_QUERIES = {
    "http_api": {"dynamodb:Query": {"USERS", "CONVS#*", "WORD#*", "IMPORTS#*", "SHARES#*"}},
    "ws_connect": {"dynamodb:Query": {"CONNS#*"}},
    "session_end": {"dynamodb:Query": {"CONNS#*"}},
}
STREAM_READS = ("dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator")


def test_no_policy_allows_every_action_of_a_data_service(template_json: dict[str, Any]) -> None:
    allowed, denied = [], []
    for holder, statement in all_policy_statements(template_json):
        for action in as_list(statement.get("Action", [])):
            service = action.split(":", 1)[0]
            if action == "*" or (service in DATA_SERVICES and action.endswith(":*")):
                (allowed if statement["Effect"] == "Allow" else denied).append((holder, statement))
    assert allowed == []
    # A wildcard only ever takes away: the bucket and topic refuse every request not made over TLS.
    for holder, statement in denied:
        assert statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}, holder
    assert {template_json["Resources"][holder]["Type"] for holder, _ in denied} <= {
        "AWS::S3::BucketPolicy",
        "AWS::SNS::TopicPolicy",
    }


def test_no_parley_function_has_a_wildcard_action(template_json: dict[str, Any]) -> None:
    for function in parley_functions(template_json).values():
        wildcards = [action for action in function.actions() if action.endswith("*")]
        # How SNS asks KMS for a data key when the publisher sends to the encrypted topic (see the next test).
        assert wildcards == (["kms:GenerateDataKey*"] if function.name == "ws_sendprompt" else []), function.name


def test_only_the_publisher_may_use_the_topics_key_and_only_through_its_alias(template_json: dict[str, Any]) -> None:
    _, topic = prompts_topic(template_json)
    # The AWS managed key: no monthly charge, and a key policy that lets the account use it through SNS.
    assert flatten(topic["Properties"]["KmsMasterKeyId"]) == "arn:aws:kms:us-east-1:123456789012:alias/aws/sns"
    users = {}
    for name, function in parley_functions(template_json).items():
        for statement in function.statements:
            if any(action.startswith("kms:") for action in as_list(statement["Action"])):
                users[name] = statement
    assert set(users) == {"ws_sendprompt"}
    statement = users["ws_sendprompt"]
    assert sorted(as_list(statement["Action"])) == ["kms:Decrypt", "kms:GenerateDataKey*"]
    assert statement["Condition"] == {"ForAnyValue:StringEquals": {"kms:ResourceAliases": "alias/aws/sns"}}


def test_each_function_may_touch_only_the_items_it_needs(template_json: dict[str, Any]) -> None:
    (table,) = resources(template_json, "AWS::DynamoDB::Table")
    for name, function in parley_functions(template_json).items():
        on_table, on_index = table_grants(function, table)
        assert on_table == EXPECTED_TABLE_ACCESS[name], name
        assert on_index == EXPECTED_INDEX_QUERIES.get(name, {}), name


def test_every_table_grant_names_the_keys_it_is_for(template_json: dict[str, Any]) -> None:
    # Only actions that name an item's key, each under a LeadingKeys condition: with ForAllValues, an action that
    # names no key (Scan) would pass any pattern.
    (table,) = resources(template_json, "AWS::DynamoDB::Table")
    arns = {"${" + table + ".Arn}", "${" + table + ".Arn}/index/gsi1"}
    for name, function in parley_functions(template_json).items():
        for statement in function.statements:
            actions = {a for a in as_list(statement["Action"]) if a.startswith("dynamodb:")}
            if not actions or set(as_list(statement["Action"])) <= {*STREAM_READS, "dynamodb:ListStreams"}:
                continue
            assert actions <= KEYED_ACTIONS, name
            assert {flatten(resource) for resource in as_list(statement["Resource"])} <= arns, name
            ((operator, condition),) = statement["Condition"].items()
            assert operator == "ForAllValues:StringLike", name
            assert set(condition) == {"dynamodb:LeadingKeys"}, name
            # A pattern is a kind of item (PREFIX#*), or one exact partition (the user list, the setup code).
            exact = {"USERS", SETUP}
            assert all(p.endswith("#*") or p in exact for p in condition["dynamodb:LeadingKeys"]), name


def test_who_may_change_users_sessions_and_tickets(template_json: dict[str, Any]) -> None:
    (table,) = resources(template_json, "AWS::DynamoDB::Table")
    writers: dict[str, set[str]] = {}
    for name, function in parley_functions(template_json).items():
        on_table, _ = table_grants(function, table)
        for action, patterns in on_table.items():
            if action not in ("dynamodb:GetItem", "dynamodb:Query"):
                for pattern in patterns:
                    writers.setdefault(pattern, set()).add(name)
    # Users (and an account's admin flag) and their conversations: the app and the function that starts answers;
    # the /v1 function writes a conversation a key saves, and a key's last use; the import worker writes
    # conversations, import records and jobs (the user item's policy is the partition's: LeadingKeys cannot tell a
    # user item from its conversations); the file worker writes file records (items of their user).
    assert writers["USER#*"] == {"http_api", "ws_sendprompt", "openai_api", "import_worker", "file_worker"}
    assert writers["APIKEY#*"] == {"http_api", "openai_api"}
    # Usernames are claimed by `parley users add`, and in the app by first-run setup and sign-up.
    assert writers["USERNAME#*"] == {"http_api"}
    assert writers["JTI#*"] == writers["THROTTLE#*"] == {"http_api"}
    assert writers["TICKET#*"] == {"http_api", "ws_connect"}
    # Connections: opened and closed, and dropped by any WebSocket route that finds its session ended.
    assert writers["CONN#*"] == {"ws_connect", "ws_disconnect", "session_end", "ws_sendprompt", "ws_stop", "ws_default"}
    authorizer = parley_functions(template_json)["authorizer"].actions()
    assert {action for action in authorizer if action.startswith("dynamodb:")} == {"dynamodb:GetItem"}


def test_only_the_session_end_function_reads_the_tables_stream(template_json: dict[str, Any]) -> None:
    (table,) = resources(template_json, "AWS::DynamoDB::Table")
    stream = "${" + table + ".StreamArn}"
    readers = set()
    for name, function in parley_functions(template_json).items():
        if any(stream in function.resources_for(action) for action in STREAM_READS):
            assert {*STREAM_READS, "dynamodb:ListStreams"} <= function.actions(), name
            readers.add(name)
        else:
            assert "dynamodb:ListStreams" not in function.actions(), name
    assert readers == {"session_end"}


def test_only_sendprompt_publishes_prompts(template_json: dict[str, Any]) -> None:
    topic, _ = prompts_topic(template_json)
    publishers = {
        name for name, function in parley_functions(template_json).items() if "sns:Publish" in function.actions()
    }
    assert publishers == {"ws_sendprompt"}
    assert parley_functions(template_json)["ws_sendprompt"].resources_for("sns:Publish") == ["${" + topic + "}"]
    # Nothing else in the stack may publish either.
    others = [
        holder
        for holder, statement in all_policy_statements(template_json)
        if statement["Effect"] == "Allow" and "sns:Publish" in as_list(statement["Action"])
    ]
    assert len(others) == 1


def test_manage_connections_is_scoped_to_the_websocket_stage(template_json: dict[str, Any]) -> None:
    (api,) = websocket_api(template_json)
    prefix = f"arn:aws:execute-api:us-east-1:123456789012:${{{api}}}/prod/"
    managers = {}
    for name, function in parley_functions(template_json).items():
        if "execute-api:ManageConnections" in function.actions():
            managers[name] = sorted(function.resources_for("execute-api:ManageConnections"))
    assert set(managers) == {"ws_sendprompt", "ws_stop", "ws_default", "worker", "session_end"}
    for name, arns in managers.items():
        # The session-end function only closes connections.
        methods = ("DELETE",) if name == "session_end" else ("DELETE", "GET", "POST")
        assert arns == [prefix + f"{method}/@connections/*" for method in methods], name
    # No other execute-api action: Invoke is API Gateway's business, not the functions'.
    for function in parley_functions(template_json).values():
        assert {a for a in function.actions() if a.startswith("execute-api:")} <= {"execute-api:ManageConnections"}


@pytest.mark.parametrize("name", ["http_api", "worker", "openai_api"])
def test_model_runners_invoke_bedrock_models_of_this_region(template_json: dict[str, Any], name: str) -> None:
    function = parley_functions(template_json)[name]
    expected = [
        "arn:aws:bedrock:us-east-1:123456789012:inference-profile/*",
        "arn:aws:bedrock:us-east-1::foundation-model/*",
    ]
    for action in ("bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"):
        assert sorted(function.resources_for(action)) == expected


def test_only_model_runners_reach_bedrock(template_json: dict[str, Any]) -> None:
    users = {
        name
        for name, function in parley_functions(template_json).items()
        if any(action.startswith("bedrock:") for action in function.actions())
    }
    # And those that embed, when an embedding model is configured (test_settings.py).
    assert users == {"http_api", "worker", "openai_api"}


def test_each_function_has_its_own_role(template_json: dict[str, Any]) -> None:
    roles = [function.role for function in parley_functions(template_json).values()]
    assert len(set(roles)) == len(roles)
