"""DNS rebinding: `parley serve` answers only requests addressed to localhost, the address it is bound to, or a name
in PARLEY_TRUSTED_HOSTS; anything else gets a JSON 400 and a WebSocket handshake is refused."""

from __future__ import annotations

import socket

import httpx
import pytest
import websockets
from websockets.exceptions import InvalidStatus

from parley.config import Settings
from parley.server.app import create_app
from parley.server.embedded import serving
from parley.server.middleware.trusted_host import host_name, host_trusted, trusted_hosts


@pytest.mark.parametrize("host", ["localhost", "LOCALHOST:8000", "127.0.0.1:8000", "[::1]:8000", "app.localhost"])
async def test_loopback_names_are_answered(client, host):
    response = await client.get("/api/health", headers={"Host": host})
    assert response.status_code == 200, host


@pytest.mark.parametrize(
    "host", ["evil.example", "evil.example:8000", "127.0.0.1.evil.example", "localhost.evil.example", "", "[::1"]
)
async def test_a_foreign_host_gets_a_json_400_on_every_route(client, alice, host):
    for method, path in (("GET", "/api/health"), ("POST", "/api/login"), ("GET", "/api/models"), ("GET", "/")):
        response = await client.request(method, path, headers={"Host": host, **alice.headers}, json={})
        assert response.status_code == 400, (host, path)
        assert response.json()["error"]["code"] == "untrusted_host"
        assert response.headers["x-content-type-options"] == "nosniff"


async def test_a_rebound_page_cannot_open_the_websocket(live_server):
    port = int(live_server.base_url.rsplit(":", 1)[1])
    # The browser's view of a rebound name: the socket reaches 127.0.0.1, the handshake names evil.example.
    with socket.create_connection(("127.0.0.1", port)) as sock, pytest.raises(InvalidStatus) as refused:
        await websockets.connect(f"ws://evil.example:{port}/ws?ticket=x", sock=sock)
    assert refused.value.response.status_code == 403


def test_the_trusted_names_come_from_the_bind_address_and_the_setting():
    assert "192.168.1.5" in trusted_hosts(Settings(host="192.168.1.5"))
    assert "0.0.0.0" not in trusted_hosts(Settings(host="0.0.0.0"))  # every interface names no host
    configured = Settings.from_env({"PARLEY_TRUSTED_HOSTS": "chat.example.com, *.internal"})
    hosts = trusted_hosts(configured)
    assert host_trusted("chat.example.com", hosts) and host_trusted("box.internal", hosts)
    assert not host_trusted("example.com", hosts) and not host_trusted("internal", hosts)
    assert host_trusted("anything", trusted_hosts(Settings(trusted_hosts=("*",))))
    assert host_name("[::1]:8000") == "::1" and host_name("Example.COM.:80") == "example.com"


async def test_a_configured_name_is_answered(settings, runtime):
    app = create_app(settings.with_overrides(trusted_hosts=("chat.example.com",)), runtime)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://chat.example.com") as http:
        assert (await http.get("/api/health")).status_code == 200
        assert (await http.get("/api/health", headers={"Host": "other.example.com"})).status_code == 400


async def test_the_bound_address_is_answered(settings, runtime):
    # `parley serve --host 10.1.2.3`: clients on the network use that address.
    app = create_app(settings.with_overrides(host="10.1.2.3"), runtime)
    async with serving(app) as port, httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
        assert (await http.get("/api/health", headers={"Host": f"10.1.2.3:{port}"})).status_code == 200
        assert (await http.get("/api/health", headers={"Host": f"10.1.2.4:{port}"})).status_code == 400
