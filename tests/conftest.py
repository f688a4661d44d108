"""Shared fixtures: settings in a temp dir, a runtime over a mock provider, an HTTP client, a live server."""

from __future__ import annotations

import os
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass

import httpx
import pytest

from parley.config import Argon2Params, Settings
from parley.core.providers.registry import ModelRegistry
from parley.core.store.registry import open_stores
from parley.runtime import Runtime, open_runtime
from parley.server.app import create_app
from parley.server.embedded import serving
from parley.testing.mock_provider import MockProvider

PASSWORD = "correct horse battery"
# Light argon2id parameters keep the suite fast; the production defaults are tested on their own.
FAST_ARGON2 = Argon2Params(time_cost=1, memory_kib=8 * 1024, parallelism=1)


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        local_model=False,
        argon2=FAST_ARGON2,
        save_interval_seconds=0.05,
        retry_base_delay=0.01,
        first_token_timeout=5,
        token_idle_timeout=5,
    )


@pytest.fixture
def provider() -> MockProvider:
    return MockProvider()


@pytest.fixture
async def runtime(settings: Settings, provider: MockProvider) -> AsyncIterator[Runtime]:
    registry = ModelRegistry()
    registry.add_provider(provider, await provider.list_models())
    async with open_runtime(settings, models=registry) as opened:
        yield opened


@pytest.fixture
async def client(settings: Settings, runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings, runtime)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as http:
        yield http


@dataclass
class Account:
    username: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


MakeUser = Callable[[str], Awaitable[Account]]


@pytest.fixture
def make_user(runtime: Runtime, client: httpx.AsyncClient) -> MakeUser:
    async def make(username: str) -> Account:
        await runtime.auth.create_user(username, PASSWORD)
        response = await client.post("/api/login", json={"username": username, "password": PASSWORD})
        assert response.status_code == 200, response.text
        return Account(username=username, token=response.json()["token"])

    return make


@pytest.fixture
async def alice(make_user: MakeUser) -> Account:
    return await make_user("alice")


@pytest.fixture
async def bob(make_user: MakeUser) -> Account:
    return await make_user("bob")


@dataclass
class LiveServer:
    base_url: str
    ws_url: str


@pytest.fixture
async def live_server(settings: Settings, runtime: Runtime) -> AsyncIterator[LiveServer]:
    """The app served by a real uvicorn on a loopback port, in this event loop."""
    async with serving(create_app(settings, runtime)) as port:
        yield LiveServer(base_url=f"http://127.0.0.1:{port}", ws_url=f"ws://127.0.0.1:{port}/ws")


@pytest.fixture(scope="session")
def moto_server():
    """AWS services (DynamoDB, SNS, Secrets Manager, ...) served by moto on a loopback port."""
    from parley.aws.local.moto_server import MotoServer

    saved = {name: os.environ.get(name) for name in AWS_TEST_ENV}
    os.environ.update(AWS_TEST_ENV)
    server = MotoServer()
    try:
        yield server.start()
    finally:
        server.stop()
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


AWS_TEST_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
}


@pytest.fixture
def dynamodb_table(moto_server) -> Iterator[str]:
    """A new, empty table (named for the test) in the moto server."""
    import uuid

    import boto3

    from parley.aws.dynamodb.schema import create_table

    name = f"parley-test-{uuid.uuid4().hex[:12]}"
    client = boto3.client("dynamodb", endpoint_url=moto_server)
    create_table(client, name)
    yield name
    client.delete_table(TableName=name)  # moto would keep its items for the rest of the session


UPSTREAM_KEY = "sk-upstream"


@pytest.fixture
async def fake():
    """The scripted fake OpenAI upstream (a module may define its own ``fake``, with other models)."""
    from parley.testing.fake_openai import FakeOpenAI

    async with FakeOpenAI(api_key=UPSTREAM_KEY) as upstream:
        yield upstream


@pytest.fixture
def open_deployment(fake, tmp_path, monkeypatch):
    """Opens the serverless path's local emulation over ``fake``, with alice as its user (added by the CLI,
    as the README tells an AWS user to) and the CLI pointed at it; keyword arguments change its settings."""
    import asyncio
    import io
    from contextlib import asynccontextmanager

    from parley.aws.local.deployment import run_local_deployment
    from parley.cli.main import main as parley_cli

    @asynccontextmanager
    async def open_it(**overrides):
        env = {"OPENAI_BASE_URL": fake.base_url, "OPENAI_API_KEY": UPSTREAM_KEY, "PARLEY_LOCAL_MODEL": "off"}
        async with run_local_deployment(
            data_dir=tmp_path / "lambda",
            env=env,
            overrides={"argon2": FAST_ARGON2, "ws_post_interval": 0.05, "save_interval_seconds": 0.05, **overrides},
        ) as running:
            for name, value in running.cli_env().items():
                monkeypatch.setenv(name, value)
            monkeypatch.setenv("PARLEY_DATA_DIR", str(tmp_path / "cli"))
            monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD + "\n"))
            assert await asyncio.to_thread(parley_cli, ["users", "add", "alice", "--password-stdin"]) == 0
            yield running
        # What a function's deployed role would refuse fails the test, even where the code catches and logs it.
        assert running.refused_table_calls == []

    return open_it


def pytest_sessionfinish(session, exitstatus):
    # llama-cpp-python opens two /dev/null files at import and never closes them; close them here so the
    # interpreter's shutdown does not print ResourceWarnings after the test report.
    utils = sys.modules.get("llama_cpp._utils")
    for handle in (getattr(utils, "outnull_file", None), getattr(utils, "errnull_file", None)):
        if handle is not None:
            handle.close()


# Store tests run on both backends: SQLite, and DynamoDB on moto.
@pytest.fixture(params=["sqlite", "dynamodb"])
def store_settings(request, tmp_path):
    if request.param == "sqlite":
        return Settings(data_dir=tmp_path / "data")
    return Settings(
        data_dir=tmp_path / "data",
        store="dynamodb",
        dynamodb_table=request.getfixturevalue("dynamodb_table"),
        aws_endpoint_url=request.getfixturevalue("moto_server"),
    )


@pytest.fixture
async def stores(store_settings):
    async with open_stores(store_settings.store, store_settings) as opened:
        yield opened


@pytest.fixture
async def other_stores(store_settings, stores):
    """The same data opened a second time: another process (a second Lambda container) using the store."""
    async with open_stores(store_settings.store, store_settings) as opened:
        yield opened
