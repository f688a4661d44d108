"""The web app's files, its client-route fallback, /config.json, and the page headers (CSP)."""

from __future__ import annotations

import json

import httpx
import pytest

from parley.config import Settings
from parley.core.providers.registry import ModelRegistry
from parley.errors import ConfigError
from parley.runtime import open_runtime
from parley.server.app import create_app
from parley.server.openapi_export import main as export_openapi
from tests.conftest import FAST_ARGON2

INDEX = '<!doctype html><html><head><script type="module" src="/assets/app-abc123.js"></script></head></html>'


@pytest.fixture
def web_dir(tmp_path):
    root = tmp_path / "dist"
    (root / "assets").mkdir(parents=True)
    (root / "index.html").write_text(INDEX)
    (root / "assets" / "app-abc123.js").write_text("console.log('app')")
    (root / "favicon.svg").write_text("<svg xmlns='http://www.w3.org/2000/svg'/>")
    return root


@pytest.fixture
def settings(tmp_path, web_dir) -> Settings:
    return Settings(data_dir=tmp_path / "data", local_model=False, argon2=FAST_ARGON2, web_dir=web_dir)


def csp_directives(response: httpx.Response) -> dict[str, str]:
    policy = response.headers["content-security-policy"]
    return dict(part.strip().split(" ", 1) for part in policy.split(";"))


async def test_index_is_served_at_the_root_with_a_strict_csp(client):
    response = await client.get("/")
    assert response.status_code == 200
    assert response.text == INDEX
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["cache-control"] == "no-cache"
    directives = csp_directives(response)
    assert directives["script-src"] == "'self'"
    assert directives["default-src"] == "'self'"
    assert directives["object-src"] == "'none'"
    assert directives["frame-ancestors"] == "'none'"
    assert directives["base-uri"] == "'none'"
    assert "unsafe-inline" not in response.headers["content-security-policy"]
    assert "unsafe-eval" not in response.headers["content-security-policy"]
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["referrer-policy"] == "no-referrer"


@pytest.mark.parametrize("path", ["/c/0f3a9", "/c/0f3a9/", "/login", "/some/deep/client/route"])
async def test_client_routes_get_index_html(client, path):
    response = await client.get(path)
    assert response.status_code == 200
    assert response.text == INDEX
    assert "content-security-policy" in response.headers


async def test_hashed_assets_are_cached_for_good(client):
    response = await client.get("/assets/app-abc123.js")
    assert response.status_code == 200
    assert response.text == "console.log('app')"
    assert response.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert "javascript" in response.headers["content-type"]

    again = await client.get("/assets/app-abc123.js", headers={"If-None-Match": response.headers["etag"]})
    assert again.status_code == 304


async def test_other_files_are_revalidated(client):
    response = await client.get("/favicon.svg")
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-cache"


async def test_head_requests_work(client):
    response = await client.head("/c/123")
    assert response.status_code == 200
    assert response.text == ""


@pytest.mark.parametrize("path", ["/assets/missing.js", "/missing.png", "/assets/app-abc123.js.map"])
async def test_missing_files_are_json_404s_not_the_page(client, path):
    response = await client.get(path)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


@pytest.mark.parametrize("path", ["/../secret.txt", "/assets/../../secret.txt", "/assets/%2e%2e/%2e%2e/secret.txt"])
async def test_nothing_outside_the_app_folder_is_served(settings, runtime, tmp_path, path):
    (tmp_path / "secret.txt").write_text("nope")
    app = create_app(settings, runtime)
    sent: list[dict] = []

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,  # as a raw client could send it: no URL normalisation on the way
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"localhost")],
        "client": ("127.0.0.1", 1),
        "server": ("testserver", 80),
    }
    await app(scope, receive, send)
    assert sent[0]["status"] == 404
    assert b"nope" not in b"".join(m.get("body", b"") for m in sent)


@pytest.mark.parametrize("path", ["/api/nothing-here", "/api", "/ws/x", "/docs/extra", "/openapi.json/x"])
async def test_api_paths_are_never_the_app(client, path):
    response = await client.get(path)
    assert response.status_code == 404
    assert response.json() == {"error": {"code": "not_found", "message": "Not Found"}}


async def test_api_status_codes_are_unchanged(client):
    assert (await client.post("/somewhere")).status_code == 404
    assert (await client.delete("/api/health")).status_code == 405
    assert (await client.post("/api/nothing")).status_code == 404
    assert (await client.get("/api/health")).status_code == 200
    assert (await client.get("/openapi.json")).status_code == 200


async def test_config_json_says_same_origin(client):
    response = await client.get("/config.json")
    assert response.status_code == 200
    assert response.json() == {"api_base_url": "", "ws_url": "", "app_name": "Parley"}
    assert response.headers["cache-control"] == "no-store"


async def test_config_json_names_the_app_as_the_operator_set_it(tmp_path):
    env = {"PARLEY_APP_NAME": "  Team   Chat "}
    settings = Settings.from_env(env, data_dir=tmp_path / "data", local_model=False, argon2=FAST_ARGON2)
    async with open_runtime(settings, models=ModelRegistry()) as runtime:
        transport = httpx.ASGITransport(app=create_app(settings, runtime))
        async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as http:
            assert (await http.get("/config.json")).json()["app_name"] == "Team Chat"


@pytest.mark.parametrize("name", ["   ", "x" * 41, "Team\nChat\x07"])
def test_an_app_name_that_does_not_fit_is_refused_at_start(name):
    with pytest.raises(ConfigError, match="PARLEY_APP_NAME"):
        Settings.from_env({"PARLEY_APP_NAME": name})


async def test_without_a_built_app_the_api_still_works(tmp_path, runtime):
    settings = Settings(data_dir=tmp_path / "data", local_model=False, web_dir=tmp_path / "not-built")
    transport = httpx.ASGITransport(app=create_app(settings, runtime))
    async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as http:
        response = await http.get("/")
        assert response.status_code == 404
        assert "make web-build" in response.json()["error"]["message"]
        assert (await http.get("/config.json")).status_code == 200
        assert (await http.get("/api/health")).status_code == 200


async def test_no_web_dir_at_all(tmp_path, runtime):
    settings = Settings(data_dir=tmp_path / "data", local_model=False, web_dir=None)
    transport = httpx.ASGITransport(app=create_app(settings, runtime))
    async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as http:
        assert (await http.get("/c/1")).status_code == 404


def test_web_dir_comes_from_the_environment_or_the_checkout(tmp_path):
    assert Settings.from_env({"PARLEY_WEB_DIR": str(tmp_path)}).web_dir == tmp_path
    default = Settings.from_env({}).web_dir
    assert default is not None and default.parts[-2:] == ("web", "dist")


def test_openapi_export_writes_the_spec(tmp_path):
    out = tmp_path / "openapi.json"
    assert export_openapi([str(out)]) == 0
    spec = json.loads(out.read_text())
    assert "/api/conversations" in spec["paths"]
    assert "/config.json" in spec["paths"]
    assert "WebConfig" in spec["components"]["schemas"]
    assert export_openapi([]) == 2
