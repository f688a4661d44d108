"""DNS rebinding: a page on evil.example points its own name at the server once loaded; its requests then arrive
with ``Host: evil.example``. Only names the server goes by are answered (on AWS, CloudFront and API Gateway answer
only their own; the emulation checks as `parley serve` does)."""

from __future__ import annotations


async def test_a_foreign_host_is_refused(target, ledger):
    # A page on evil.example that rebinds its name to this server reaches it with Host: evil.example.
    player = await target.player()
    port = target.url.rsplit(":", 1)[1]
    async with target.client() as http:
        for host in ("evil.example", f"evil.example:{port}", f"127.0.0.1.evil.example:{port}"):
            for method, path in (("GET", "/api/health"), ("POST", "/api/login"), ("GET", "/api/conversations")):
                headers = {"Host": host, "Authorization": f"Bearer {player.token}"}
                response = await http.request(method, path, headers=headers, json={})
                assert response.status_code == 400, (host, path, response.text)
                assert response.json()["error"]["code"] == "untrusted_host"
            ledger.attempt(target.path, "foreign Host", 3)
        assert (await http.get("/api/health", headers={"Host": f"localhost:{port}"})).status_code == 200
