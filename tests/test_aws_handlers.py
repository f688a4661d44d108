"""The Lambda functions, driven by saved API Gateway / SNS / DynamoDB stream event JSON and a fake context, against
DynamoDB, SNS, SQS and Secrets Manager served by moto on loopback, and the fake OpenAI upstream."""

from __future__ import annotations

import copy
import io
import itertools
import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import boto3
import jwt
import pytest

from parley.aws.functions.authorizer import AuthorizerFunction
from parley.aws.functions.connect import ConnectFunction
from parley.aws.functions.http_api import HttpApiFunction
from parley.aws.functions.sendprompt import SendPromptFunction
from parley.aws.functions.sessions import SessionEndFunction
from parley.aws.functions.websocket import (
    DefaultFunction,
    DisconnectFunction,
    StopFunction,
)
from parley.aws.functions.worker import WorkerFunction
from parley.aws.local.iam import restricted_stores
from parley.cli.main import main as parley_cli
from parley.config import Settings, ThrottleRule
from parley.testing.fake_openai import FakeOpenAI, Script
from tests.conftest import FAST_ARGON2, PASSWORD

EVENTS = Path(__file__).parent / "events"
# Each function class and the deployed function (handler module) whose role it runs with.
ROLES = {
    HttpApiFunction: "http_api",
    AuthorizerFunction: "authorizer",
    ConnectFunction: "ws_connect",
    DisconnectFunction: "ws_disconnect",
    SendPromptFunction: "ws_sendprompt",
    StopFunction: "ws_stop",
    DefaultFunction: "ws_default",
    WorkerFunction: "worker",
    SessionEndFunction: "session_end",
}
CALLBACK = "https://wsapi12345.execute-api.us-east-1.amazonaws.com/prod"


def event(name: str) -> dict:
    return copy.deepcopy(json.loads((EVENTS / f"{name}.json").read_text()))


@dataclass
class FakeContext:
    function_name: str = "parley-test"
    aws_request_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    memory_limit_in_mb: int = 512

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


class RecordingManagementApi:
    """Stands in for @connections: records every frame; can play a client that has gone (410)."""

    def __init__(self, gone_after: int | None = None) -> None:
        self.frames: list[tuple[str, dict]] = []
        self.sizes: list[int] = []
        self.disconnected: list[str] = []
        self.gone_after = gone_after

    async def post(self, connection_id: str, data: str) -> bool:
        if self.gone_after is not None and len(self.frames) >= self.gone_after:
            return False
        self.frames.append((connection_id, json.loads(data)))
        self.sizes.append(len(data.encode()))
        return True

    async def disconnect(self, connection_id: str) -> None:
        self.disconnected.append(connection_id)

    def of_type(self, kind: str) -> list[dict]:
        return [frame for _, frame in self.frames if frame["type"] == kind]


@dataclass
class AwsWorld:
    settings: Settings
    env: dict
    queue_url: str
    sqs: object
    fake: FakeOpenAI
    refused: list[str] = field(default_factory=list)

    def build(self, function_class, management=None):
        # Through a table client that refuses what the function's deployed role would (parley.aws.local.iam).
        client = boto3.client("dynamodb", endpoint_url=self.settings.aws_endpoint_url)
        stores = restricted_stores(ROLES[function_class], client, self.settings.dynamodb_table, self.refused)
        function = function_class(settings=self.settings, env=self.env, stores=stores)
        if management is not None:
            function._management_apis[CALLBACK] = management
        return function

    def published_jobs(self) -> list[dict]:
        messages = self.sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
        jobs = []
        for message in messages.get("Messages", []):
            jobs.append(json.loads(message["Body"])["Message"])
            self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])
        return jobs


@pytest.fixture
def world(moto_server, dynamodb_table, tmp_path):
    sns = boto3.client("sns", endpoint_url=moto_server)
    sqs = boto3.client("sqs", endpoint_url=moto_server)
    secrets = boto3.client("secretsmanager", endpoint_url=moto_server)
    topic = sns.create_topic(Name=f"prompts-{uuid.uuid4().hex[:8]}")["TopicArn"]
    queue_url = sqs.create_queue(QueueName=f"tap-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
    jwt_arn = secrets.create_secret(Name=f"jwt-{uuid.uuid4().hex[:8]}", SecretString="s" * 64)["ARN"]
    with FakeOpenAI(api_key="sk-upstream").run_in_thread() as fake:
        settings = Settings(
            data_dir=tmp_path / "lambda-tmp",
            store="dynamodb",
            dynamodb_table=dynamodb_table,
            aws_endpoint_url=moto_server,
            sns_topic_arn=topic,
            jwt_secret_arn=jwt_arn,
            local_model=False,
            openai_base_url=fake.base_url,
            openai_api_key="sk-upstream",
            argon2=FAST_ARGON2,
            allowed_origins=("https://d111111abcdef8.cloudfront.net",),
            ws_callback_url=CALLBACK,
            ws_post_interval=0.05,
            save_interval_seconds=0.05,
        )
        env = {
            "PARLEY_STORE": "dynamodb",
            "PARLEY_DYNAMODB_TABLE": dynamodb_table,
            "AWS_ENDPOINT_URL": moto_server,
            "PARLEY_DATA_DIR": str(tmp_path / "cli"),
            "PARLEY_JWT_SECRET": "s" * 64,
            "PARLEY_LOCAL_MODEL": "off",
        }
        yield AwsWorld(settings=settings, env=env, queue_url=queue_url, sqs=sqs, fake=fake)


def add_user(world, monkeypatch, name="alice"):
    """Users are created with the CLI against the table, as the README tells an AWS user to."""
    for key, value in world.env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD + "\n"))
    assert parley_cli(["users", "add", name, "--store", "dynamodb", "--password-stdin"]) == 0


def login(world, http) -> str:
    request = event("http_api_login")
    request["body"] = json.dumps({"username": "alice", "password": PASSWORD})
    response = http(request, FakeContext())
    assert response["statusCode"] == 200, response
    return json.loads(response["body"])["token"]


def authorized(request: dict, token: str, method: str, path: str, body: dict | None = None) -> dict:
    request["headers"]["authorization"] = f"Bearer {token}"
    request["rawPath"] = request["requestContext"]["http"]["path"] = path
    request["requestContext"]["http"]["method"] = method
    request["rawQueryString"] = ""
    request.pop("queryStringParameters", None)
    if body is not None:
        request["body"] = json.dumps(body)
        request["headers"]["content-type"] = "application/json"
    return request


def connect(world, http, token, connection_id="conn-1") -> dict:
    ticket_response = http(authorized(event("http_api_authorized"), token, "POST", "/api/ws-ticket"), FakeContext())
    ticket = json.loads(ticket_response["body"])["ticket"]
    request = event("ws_connect")
    request["queryStringParameters"] = {"ticket": ticket}
    request["requestContext"]["connectionId"] = connection_id
    return request


def message(body: dict, connection_id="conn-1", route="sendprompt") -> dict:
    request = event("ws_message")
    request["body"] = json.dumps(body)
    request["requestContext"]["connectionId"] = connection_id
    request["requestContext"]["routeKey"] = route
    return request


def sns_event(job: str) -> dict:
    record = event("sns_record")
    record["Records"][0]["Sns"]["Message"] = job
    return record


@pytest.fixture
def functions(world):
    built = []

    def build(function_class, management=None):
        function = world.build(function_class, management)
        built.append(function)
        return function

    yield build
    for function in built:
        function.close()
    assert world.refused == []


def test_login_authorizer_and_http_routes(world, functions, monkeypatch):
    add_user(world, monkeypatch)
    http = functions(HttpApiFunction)
    token = login(world, http)
    authorizer = functions(AuthorizerFunction)
    allowed = event("authorizer_request")
    allowed["headers"]["authorization"] = f"Bearer {token}"
    answer = authorizer(allowed, FakeContext())
    assert answer["isAuthorized"] is True and answer["context"]["username"] == "alice"
    for bad in ("Bearer nope", "", f"Basic {token}"):
        denied = event("authorizer_request")
        denied["headers"]["authorization"] = bad
        assert authorizer(denied, FakeContext()) == {"isAuthorized": False}

    listing = http(authorized(event("http_api_authorized"), token, "GET", "/api/conversations"), FakeContext())
    assert listing["statusCode"] == 200 and json.loads(listing["body"])["items"] == []
    chat = http(
        authorized(event("http_api_authorized"), token, "POST", "/api/chat", {"prompt": "Hi over HTTP"}), FakeContext()
    )
    assert chat["statusCode"] == 200
    assert json.loads(chat["body"])["bot"] == "Hello from the fake model."

    wrong = event("http_api_login")
    wrong["body"] = json.dumps({"username": "alice", "password": "wrong-password"})
    assert http(wrong, FakeContext())["statusCode"] == 401

    # Logout revokes the token: the app refuses it even if API Gateway's authorizer cache still holds it.
    assert (
        http(authorized(event("http_api_authorized"), token, "POST", "/api/logout"), FakeContext())["statusCode"] == 204
    )
    assert authorizer(allowed, FakeContext()) == {"isAuthorized": False}
    again = http(authorized(event("http_api_authorized"), token, "GET", "/api/conversations"), FakeContext())
    assert again["statusCode"] == 401


SITE = "https://d111111abcdef8.cloudfront.net"  # the page's origin; CloudFront passes /api/* on to the HTTP API


def from_the_page(
    request: dict, method: str, path: str, cookie: str, *, proof: bool = True, origin: str = SITE
) -> dict:
    """A request as the web app's fetch makes it through CloudFront: the cookie (in payload 2.0's list), the CSRF
    header and the page's Origin; Host is API Gateway's own."""
    request["headers"].pop("authorization", None)
    request["headers"]["origin"] = origin
    if proof:
        request["headers"]["x-parley-csrf"] = "1"
    request["cookies"] = [cookie]
    request["rawPath"] = request["requestContext"]["http"]["path"] = path
    request["requestContext"]["http"]["method"] = method
    request["rawQueryString"] = ""
    request.pop("queryStringParameters", None)
    return request


def test_the_web_apps_cookie_passes_the_authorizer_and_the_app_only_with_its_proof(world, functions, monkeypatch):
    add_user(world, monkeypatch)
    http = functions(HttpApiFunction)
    authorizer = functions(AuthorizerFunction)
    request = event("http_api_login")
    request["headers"].update({"origin": SITE, "x-parley-csrf": "1"})
    request["body"] = json.dumps({"username": "alice", "password": PASSWORD, "cookie": True})
    response = http(request, FakeContext())
    assert response["statusCode"] == 200, response
    assert json.loads(response["body"])["token"] is None  # never handed to page script
    (set_cookie,) = response["cookies"]
    attributes = {part.strip().lower() for part in set_cookie.split(";")}
    assert {"httponly", "secure", "samesite=strict", "path=/api"} <= attributes
    cookie = set_cookie.split(";")[0]

    for method, path in (("GET", "/api/conversations"), ("POST", "/api/ws-ticket")):
        asked = from_the_page(event("authorizer_request"), method, path, cookie)
        assert authorizer(asked, FakeContext())["isAuthorized"]
        answer = http(from_the_page(event("http_api_authorized"), method, path, cookie), FakeContext())
        assert answer["statusCode"] == 200, answer
    # Without the header, or from another origin, the cookie changes nothing, at the authorizer and in the app.
    for refused in (
        {"proof": False},
        {"origin": "https://evil.example"},
        {"origin": "https://d111111abcdef8.cloudfront.net.evil.example"},
    ):
        denied = from_the_page(event("authorizer_request"), "POST", "/api/ws-ticket", cookie, **refused)
        assert authorizer(denied, FakeContext()) == {"isAuthorized": False}, refused
        forged = from_the_page(event("http_api_authorized"), "POST", "/api/ws-ticket", cookie, **refused)
        answer = http(forged, FakeContext())
        assert answer["statusCode"] == 403, refused
        assert json.loads(answer["body"])["error"]["code"] == "cross_site_request"
    # Reads need no proof: the cookie is SameSite=Strict, and another origin cannot read the answer anyway.
    reading = from_the_page(event("authorizer_request"), "GET", "/api/conversations", cookie, proof=False)
    assert authorizer(reading, FakeContext())["isAuthorized"]

    logout = http(from_the_page(event("http_api_authorized"), "POST", "/api/logout", cookie), FakeContext())
    assert logout["statusCode"] == 204
    assert any("max-age=0" in part.lower() for part in logout["cookies"][0].split(";"))
    after = from_the_page(event("authorizer_request"), "GET", "/api/conversations", cookie)
    assert authorizer(after, FakeContext()) == {"isAuthorized": False}


ORIGIN_SECRET = "origin-secret-" + "7" * 50


def test_login_failures_count_against_the_viewer_only_when_cloudfront_vouches_for_it(world, moto_server):
    """Behind CloudFront, sourceIp is an edge server that many viewers share: the per-address limit counts the
    viewer CloudFront names, and only when the origin secret proves that CloudFront named it."""
    arn = boto3.client("secretsmanager", endpoint_url=moto_server).create_secret(
        Name=f"cloudfront-{uuid.uuid4().hex[:8]}", SecretString=ORIGIN_SECRET
    )["ARN"]
    settings = world.settings.with_overrides(
        cloudfront_secret_arn=arn,
        throttle_per_address=ThrottleRule(limit=2, window_seconds=300),
        throttle_per_user=ThrottleRule(limit=1000, window_seconds=300),
    )
    http = HttpApiFunction(settings=settings, env=world.env)
    guesses = iter(range(1000))

    def failed_login(viewer: str, secret: str | None = ORIGIN_SECRET, source_ip: str | None = None) -> int:
        request = event("http_api_login_via_cloudfront")
        request["body"] = json.dumps({"username": f"someone{next(guesses)}", "password": "a wrong guess"})
        request["headers"]["x-parley-viewer-address"] = viewer
        if secret is None:
            del request["headers"]["x-parley-origin-secret"]
        else:
            request["headers"]["x-parley-origin-secret"] = secret
        if source_ip is not None:
            request["requestContext"]["http"]["sourceIp"] = source_ip
        return int(http(request, FakeContext())["statusCode"])

    try:
        # Through CloudFront: one viewer reaches the limit; another viewer on the same edge does not share it.
        assert [failed_login("198.51.100.23") for _ in range(3)] == [401, 401, 429]
        assert failed_login("198.51.100.24") == 401
        assert failed_login("2001:db8::7") == 401
        # Not through CloudFront (no secret, or a guessed one): the header is a claim, and sourceIp counts.
        direct = "203.0.113.7"
        answers = [
            failed_login(f"198.51.100.{n}", secret, source_ip=direct)
            for n, secret in zip(range(100, 103), (None, "a guess", ORIGIN_SECRET[:-1]), strict=True)
        ]
        assert answers == [401, 401, 429]
        # A value that is not one address is not believed either: the edge's own address counts.
        assert [failed_login(bad) for bad in ("198.51.100.25:443", "1.2.3.4, 6.7.8.9", "junk")] == [401, 401, 429]
    finally:
        http.close()


def test_connect_redeems_the_ticket_once_and_checks_origin(world, functions, monkeypatch):
    add_user(world, monkeypatch)
    http = functions(HttpApiFunction)
    token = login(world, http)
    connect_function = functions(ConnectFunction)
    request = connect(world, http, token)
    assert connect_function(request, FakeContext()) == {"statusCode": 200}
    assert connect_function(request, FakeContext()) == {"statusCode": 403}  # replayed ticket

    foreign = connect(world, http, token, "conn-2")
    foreign["headers"]["Origin"] = "https://evil.example"
    assert connect_function(foreign, FakeContext()) == {"statusCode": 403}
    missing = event("ws_connect")
    missing["queryStringParameters"] = None
    assert connect_function(missing, FakeContext()) == {"statusCode": 403}

    disconnect = functions(DisconnectFunction)
    gone = event("ws_disconnect")
    gone["requestContext"]["connectionId"] = "conn-1"
    assert disconnect(gone, FakeContext()) == {"statusCode": 200}
    management = RecordingManagementApi()
    send = functions(SendPromptFunction, management)
    send(message({"action": "sendprompt", "payload": {"msgid": "m", "prompt": "hi"}}), FakeContext())
    assert management.disconnected == ["conn-1"]  # the connection is no longer known
    assert world.published_jobs() == []


def test_sendprompt_publishes_and_the_worker_streams_the_answer(world, functions, monkeypatch):
    add_user(world, monkeypatch)
    http = functions(HttpApiFunction)
    token = login(world, http)
    functions(ConnectFunction)(connect(world, http, token), FakeContext())
    management = RecordingManagementApi()
    send = functions(SendPromptFunction, management)
    world.fake.enqueue(Script(tokens=[f"word{i} " for i in range(40)], token_delay=0.005))
    params = {"temperature": 0.2, "max_tokens": 99, "top_p": 0.5, "frequency_penalty": 0.1, "presence_penalty": 0.3}
    response = send(
        message({"action": "sendprompt", "payload": {"msgid": "m1", "prompt": "Tell me", "params": params}}),
        FakeContext(),
    )
    assert response == {"statusCode": 200}
    assert management.frames == []  # sendprompt only saves and publishes
    (job,) = world.published_jobs()
    assert json.loads(job)["connection_id"] == "conn-1"

    worker = functions(WorkerFunction, management)
    assert worker(sns_event(job), FakeContext()) == {"status": "ok"}
    kinds = [frame["type"] for _, frame in management.frames]
    assert kinds[0] == "start" and kinds[-1] == "done"
    deltas = management.of_type("delta")
    assert [d["seq"] for d in deltas] == list(itertools.accumulate(len(d["text"]) for d in deltas))
    assert len(deltas) < 40  # coalesced: fewer posts than tokens
    assert "".join(d["text"] for d in deltas) == "".join(f"word{i} " for i in range(40))
    assert max(management.sizes) < 32 * 1024
    upstream = world.fake.chat_requests[-1].body
    for name, value in params.items():
        assert upstream[name] == value

    conversation_id = management.of_type("start")[0]["conversation_id"]
    detail = http(
        authorized(event("http_api_authorized"), token, "GET", f"/api/conversations/{conversation_id}"), FakeContext()
    )
    messages = json.loads(detail["body"])["messages"]
    assert [(m["role"], m["status"]) for m in messages] == [("user", "complete"), ("assistant", "complete")]
    assert messages[1]["content"] == "".join(f"word{i} " for i in range(40))


def test_stop_reaches_the_worker_through_the_store(world, functions, monkeypatch):
    add_user(world, monkeypatch)
    http = functions(HttpApiFunction)
    token = login(world, http)
    functions(ConnectFunction)(connect(world, http, token), FakeContext())
    management = RecordingManagementApi()
    send = functions(SendPromptFunction, management)
    stop = functions(StopFunction, management)
    world.fake.enqueue(Script(tokens=["x"] * 400, token_delay=0.01))
    send(message({"action": "sendprompt", "payload": {"msgid": "m2", "prompt": "long"}}), FakeContext())
    (job,) = world.published_jobs()
    worker = functions(WorkerFunction, management)
    thread = threading.Thread(target=worker, args=(sns_event(job), FakeContext()))
    thread.start()
    deadline = time.monotonic() + 10
    while not management.of_type("delta") and time.monotonic() < deadline:
        time.sleep(0.02)
    stop(message({"action": "stop", "payload": {"msgid": "m2"}}, route="stop"), FakeContext())
    thread.join(timeout=10)
    assert not thread.is_alive()
    done = management.of_type("done")
    assert done and done[0]["finish_reason"] == "stopped"
    assert len("".join(d["text"] for d in management.of_type("delta"))) < 400
    # Stopping again: nothing is running any more.
    stop(message({"action": "stop", "payload": {"msgid": "m2"}}, route="stop"), FakeContext())
    assert management.of_type("error")[-1]["code"] == "not_found"


def test_a_gone_client_does_not_lose_the_answer(world, functions, monkeypatch):
    add_user(world, monkeypatch)
    http = functions(HttpApiFunction)
    token = login(world, http)
    functions(ConnectFunction)(connect(world, http, token), FakeContext())
    management = RecordingManagementApi(gone_after=2)
    send = functions(SendPromptFunction, management)
    world.fake.enqueue(Script(tokens=[f"{i}," for i in range(30)], token_delay=0.005))
    send(message({"action": "sendprompt", "payload": {"msgid": "m3", "prompt": "hi"}}), FakeContext())
    (job,) = world.published_jobs()
    functions(WorkerFunction, management)(sns_event(job), FakeContext())
    assert len(management.frames) == 2
    conversation_id = json.loads(job)["chat"]["conversation_id"]
    detail = http(
        authorized(event("http_api_authorized"), token, "GET", f"/api/conversations/{conversation_id}"), FakeContext()
    )
    answer = json.loads(detail["body"])["messages"][-1]
    assert (answer["content"], answer["status"]) == ("".join(f"{i}," for i in range(30)), "complete")


def test_bad_messages_get_error_frames(world, functions, monkeypatch):
    add_user(world, monkeypatch)
    http = functions(HttpApiFunction)
    token = login(world, http)
    functions(ConnectFunction)(connect(world, http, token), FakeContext())
    management = RecordingManagementApi()
    send = functions(SendPromptFunction, management)
    bad = message({"action": "sendprompt", "payload": {"msgid": "m4"}})
    send(bad, FakeContext())
    not_json = message({})
    not_json["body"] = "{nope"
    send(not_json, FakeContext())
    send(
        message({"action": "sendprompt", "payload": {"msgid": "m5", "prompt": "x", "params": {"top_p": 9}}}),
        FakeContext(),
    )
    send(
        message({"action": "sendprompt", "payload": {"msgid": "m6", "prompt": "x", "conversation_id": "not-mine"}}),
        FakeContext(),
    )
    functions(DefaultFunction, management)(message({"action": "dance", "payload": {}}, route="$default"), FakeContext())
    errors = management.of_type("error")
    assert [(e["msgid"], e["code"]) for e in errors] == [
        ("m4", "invalid_input"),
        (None, "invalid_input"),
        ("m5", "invalid_input"),
        ("m6", "not_found"),
        (None, "invalid_input"),
    ]
    assert world.published_jobs() == []


def end_session(world, http, token, monkeypatch, ending: str) -> None:
    """Logout through the HTTP API; the others with the CLI against the table, as an operator would."""
    if ending == "logout":
        response = http(authorized(event("http_api_authorized"), token, "POST", "/api/logout"), FakeContext())
        assert response["statusCode"] == 204
        return
    if ending == "password change":
        monkeypatch.setattr("sys.stdin", io.StringIO("a brand new password\n"))
        command = ["users", "passwd", "alice", "--password-stdin"]
    else:
        command = ["users", ending, "alice"]
    assert parley_cli(command) == 0


@pytest.mark.parametrize("ending", ["logout", "password change", "disable", "remove"])
def test_a_message_on_a_connection_whose_session_ended_is_refused(world, functions, monkeypatch, ending):
    """The session-end function may be late (the stream), miss a connection (the index lags) or give up (its
    retries run out): each message checks the connection's session itself."""
    add_user(world, monkeypatch)
    http = functions(HttpApiFunction)
    ended, other = login(world, http), login(world, http)
    connect_function = functions(ConnectFunction)
    assert connect_function(connect(world, http, ended, "conn-ended"), FakeContext()) == {"statusCode": 200}
    assert connect_function(connect(world, http, other, "conn-other"), FakeContext()) == {"statusCode": 200}
    end_session(world, http, ended, monkeypatch, ending)  # no session-end function runs here

    management = RecordingManagementApi()
    send, stop = functions(SendPromptFunction, management), functions(StopFunction, management)
    prompt = {"action": "sendprompt", "payload": {"msgid": "late", "prompt": "after the end"}}
    assert send(message(prompt, "conn-ended"), FakeContext()) == {"statusCode": 403}
    assert management.disconnected == ["conn-ended"]  # closed, as the local server closes it
    assert management.frames == []
    assert world.published_jobs() == []  # nothing saved, nothing queued, no answer
    # Its record is gone too: a stop on it is refused the same way.
    stop_late = message({"action": "stop", "payload": {"msgid": "late"}}, "conn-ended", route="stop")
    assert stop(stop_late, FakeContext()) == {"statusCode": 403}
    assert management.disconnected == ["conn-ended", "conn-ended"]

    prompt["payload"]["msgid"] = "other"
    answer = send(message(prompt, "conn-other"), FakeContext())
    if ending == "logout":  # only that session ended: the user's other session is served
        assert answer == {"statusCode": 200}
        (job,) = world.published_jobs()
        assert json.loads(job)["connection_id"] == "conn-other"
    else:  # every session of the user ended
        assert answer == {"statusCode": 403}
        assert management.disconnected[-1] == "conn-other"
        assert world.published_jobs() == []


def test_a_connection_recorded_without_its_whole_session_is_refused(world, functions, monkeypatch):
    """A record written before connections kept their token version cannot be checked: its socket is closed,
    and the client opens a new one."""
    add_user(world, monkeypatch)
    http = functions(HttpApiFunction)
    token = login(world, http)
    connect_function = functions(ConnectFunction)
    assert connect_function(connect(world, http, token, "conn-old"), FakeContext()) == {"statusCode": 200}
    table = boto3.client("dynamodb", endpoint_url=world.settings.aws_endpoint_url)
    table.update_item(
        TableName=world.settings.dynamodb_table,
        Key={"pk": {"S": "CONN#conn-old"}, "sk": {"S": "CONN"}},
        UpdateExpression="REMOVE token_version",
    )
    management = RecordingManagementApi()
    send = functions(SendPromptFunction, management)
    prompt = {"action": "sendprompt", "payload": {"msgid": "m", "prompt": "hi"}}
    assert send(message(prompt, "conn-old"), FakeContext()) == {"statusCode": 403}
    assert management.disconnected == ["conn-old"]
    assert world.published_jobs() == []


def stream_event(name: str, user_id: str, jti: str = "") -> dict:
    """A saved DynamoDB stream event, about this user (and this token)."""
    text = (EVENTS / f"{name}.json").read_text()
    return json.loads(text.replace("USER_ID", user_id).replace("JTI#JTI", f"JTI#{jti}"))


def claims_of(token: str) -> dict:
    return jwt.decode(token, options={"verify_signature": False})


def open_connections(function, user_id: str) -> list[str]:
    return sorted(function.loop.run_until_complete(function.stores.connections.user_connections(user_id)))


def test_session_end_closes_only_the_connections_of_the_session_that_logged_out(world, functions, monkeypatch):
    add_user(world, monkeypatch)
    http = functions(HttpApiFunction)
    ended, kept = login(world, http), login(world, http)
    connect_function = functions(ConnectFunction)
    for token, connection_id in ((ended, "conn-ended-1"), (ended, "conn-ended-2"), (kept, "conn-kept")):
        assert connect_function(connect(world, http, token, connection_id), FakeContext()) == {"statusCode": 200}
    management = RecordingManagementApi()
    session_end = functions(SessionEndFunction, management)
    user_id, jti = claims_of(ended)["sub"], claims_of(ended)["jti"]

    answer = session_end(stream_event("dynamodb_stream_logout", user_id, jti), FakeContext())
    assert answer == {"closed": 2}
    assert sorted(management.disconnected) == ["conn-ended-1", "conn-ended-2"]
    assert open_connections(session_end, user_id) == ["conn-kept"]
    # Delivered again (a retried batch): nothing left to close.
    assert session_end(stream_event("dynamodb_stream_logout", user_id, jti), FakeContext()) == {"closed": 0}


def test_session_end_closes_every_connection_when_the_user_changes(world, functions, monkeypatch):
    add_user(world, monkeypatch)
    http = functions(HttpApiFunction)
    first, second = login(world, http), login(world, http)
    connect_function = functions(ConnectFunction)
    connect_function(connect(world, http, first, "conn-1"), FakeContext())
    connect_function(connect(world, http, second, "conn-2"), FakeContext())
    management = RecordingManagementApi()
    session_end = functions(SessionEndFunction, management)
    user_id = claims_of(first)["sub"]

    # A password rehashed at login keeps the token version: nothing ends.
    rehashed = stream_event("dynamodb_stream_user_modified", user_id)
    rehashed["Records"][0]["dynamodb"]["NewImage"]["token_version"] = {"N": "0"}
    assert session_end(rehashed, FakeContext()) == {"closed": 0}
    assert management.disconnected == []

    assert session_end(stream_event("dynamodb_stream_user_modified", user_id), FakeContext()) == {"closed": 2}
    assert sorted(management.disconnected) == ["conn-1", "conn-2"]
    assert open_connections(session_end, user_id) == []


def test_session_end_closes_every_connection_of_a_removed_user(world, functions, monkeypatch):
    add_user(world, monkeypatch)
    http = functions(HttpApiFunction)
    token = login(world, http)
    functions(ConnectFunction)(connect(world, http, token, "conn-1"), FakeContext())
    management = RecordingManagementApi()
    session_end = functions(SessionEndFunction, management)
    removed = stream_event("dynamodb_stream_user_modified", claims_of(token)["sub"])
    record = removed["Records"][0]
    record["eventName"] = "REMOVE"
    del record["dynamodb"]["NewImage"]
    assert session_end(removed, FakeContext()) == {"closed": 1}
    assert management.disconnected == ["conn-1"]
