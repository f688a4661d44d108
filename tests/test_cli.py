"""The ``parley`` command, run as a user would (in-process, with a temp data dir)."""

from __future__ import annotations

import io
import sqlite3

import pytest

from parley.cli.main import main


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("PARLEY_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("PARLEY_LOCAL_MODEL", "off")
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    return tmp_path / "data"


def run(monkeypatch, capsys, *argv, stdin=""):
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_user_lifecycle(monkeypatch, capsys, data_dir):
    code, out, _ = run(
        monkeypatch, capsys, "users", "add", "alice", "--admin", "--password-stdin", stdin="hunter2hunter2\n"
    )
    assert code == 0 and "Created user alice (admin)" in out
    code, out, _ = run(monkeypatch, capsys, "users", "list")
    assert "alice  (admin)" in out
    code, _, err = run(monkeypatch, capsys, "users", "add", "alice", "--password-stdin", stdin="another-password\n")
    assert code == 1 and "taken" in err
    assert run(monkeypatch, capsys, "users", "passwd", "alice", "--password-stdin", stdin="new-password-1\n")[0] == 0
    assert run(monkeypatch, capsys, "users", "disable", "alice")[0] == 0
    assert "disabled" in run(monkeypatch, capsys, "users", "list")[1]
    assert run(monkeypatch, capsys, "users", "enable", "alice")[0] == 0
    assert run(monkeypatch, capsys, "users", "remove", "alice")[0] == 0
    assert "No users yet" in run(monkeypatch, capsys, "users", "list")[1]


def test_password_is_never_stored_in_clear(monkeypatch, capsys, data_dir):
    run(monkeypatch, capsys, "users", "add", "bob", "--password-stdin", stdin="plain-text-password\n")
    raw = b"".join(path.read_bytes() for path in data_dir.glob("parley.db*"))
    assert b"plain-text-password" not in raw
    conn = sqlite3.connect(data_dir / "parley.db")
    (stored,) = conn.execute("SELECT password_hash FROM users WHERE username = 'bob'").fetchone()
    conn.close()
    assert stored.startswith("$argon2id$")


def test_short_password_and_bad_username_are_refused(monkeypatch, capsys, data_dir):
    code, _, err = run(monkeypatch, capsys, "users", "add", "carol", "--password-stdin", stdin="short\n")
    assert code == 1 and "8 to" in err
    code, _, err = run(monkeypatch, capsys, "users", "add", "no spaces", "--password-stdin", stdin="long-enough-pw\n")
    assert code == 1 and "username" in err.lower()


def test_unknown_user_is_a_clear_error(monkeypatch, capsys, data_dir):
    code, _, err = run(monkeypatch, capsys, "users", "disable", "nobody")
    assert code == 1 and "No user named 'nobody'" in err


def test_models_with_nothing_configured(monkeypatch, capsys, data_dir):
    code, out, _ = run(monkeypatch, capsys, "models")
    assert code == 0 and "No models available." in out


def test_serve_holds_clients_to_the_same_limits_as_every_parley_server(monkeypatch, data_dir):
    import uvicorn

    from parley.config import Settings
    from parley.server.http_protocol import BoundedHttpProtocol

    built = []

    class Server:  # stands in for uvicorn's: records the config instead of listening
        def __init__(self, config):
            built.append(config)
            self.started = False

        def run(self):
            self.started = True

    monkeypatch.setattr(uvicorn, "Server", Server)
    monkeypatch.setattr("logging.config.dictConfig", lambda config: None)
    monkeypatch.setenv("PARLEY_REQUEST_READ_TIMEOUT", "3")
    assert main(["serve", "--port", "8123"]) == 0
    assert main(["serve", "--forwarded-allow-ips", "10.0.0.2, 10.0.0.3"]) == 0
    monkeypatch.setenv("PARLEY_FORWARDED_ALLOW_IPS", "10.0.0.4")
    assert main(["serve"]) == 0
    config, behind_proxies, from_env = built
    assert issubclass(config.http, BoundedHttpProtocol) and config.http.read_timeout == 3
    assert config.ws_max_size == Settings().max_body_bytes
    assert config.port == 8123
    # Whose X-Forwarded-For is believed: loopback unless told (a proxy on this host), as uvicorn's default.
    assert config.forwarded_allow_ips == ["127.0.0.1", "::1"]
    assert behind_proxies.forwarded_allow_ips == ["10.0.0.2", "10.0.0.3"]
    assert from_env.forwarded_allow_ips == ["10.0.0.4"]


def test_api_key_lifecycle(monkeypatch, capsys, data_dir):
    from parley.core.auth.api_keys import key_hash, well_formed

    run(monkeypatch, capsys, "users", "add", "alice", "--password-stdin", stdin="hunter2hunter2\n")
    code, out, _ = run(monkeypatch, capsys, "keys", "create", "laptop", "--user", "alice", "--expires-in-days", "30")
    key = out.strip()
    assert code == 0 and out == key + "\n" and well_formed(key)  # the key alone on stdout
    conn = sqlite3.connect(data_dir / "parley.db")
    (stored,) = conn.execute("SELECT key_hash FROM api_keys").fetchone()
    conn.close()
    assert stored == key_hash(key)
    raw = b"".join(path.read_bytes() for path in data_dir.glob("parley.db*"))
    assert key.encode() not in raw

    code, _, err = run(monkeypatch, capsys, "keys", "create", "LAPTOP", "--user", "alice")
    assert code == 1 and "already have a key" in err
    code, out, _ = run(monkeypatch, capsys, "keys", "list", "--user", "alice")
    assert code == 0 and "laptop" in out and key[:11] in out and key not in out and "last used never" in out
    assert run(monkeypatch, capsys, "keys", "revoke", "laptop", "--user", "alice")[0] == 0
    assert "revoked" in run(monkeypatch, capsys, "keys", "list", "--user", "alice")[1]
    code, _, err = run(monkeypatch, capsys, "keys", "revoke", "laptop", "--user", "alice")
    assert code == 1 and "No key named" in err
    code, _, err = run(monkeypatch, capsys, "keys", "list", "--user", "nobody")
    assert code == 1 and "No user named" in err


def test_pending_accounts_are_listed_approved_and_rejected(monkeypatch, capsys, data_dir):
    import asyncio

    from parley.config import Settings
    from parley.core.store.registry import open_stores

    async def sign_up() -> None:
        settings = Settings(data_dir=data_dir)
        async with open_stores("sqlite", settings) as stores:
            await stores.users.create_user("erin", "hash", pending=True, email="erin@example.org")
            await stores.users.create_user("frank", "hash", pending=True)

    asyncio.run(sign_up())
    code, out, _ = run(monkeypatch, capsys, "users", "pending")
    assert code == 0 and "erin  signed up" in out and "<erin@example.org>" in out and "frank  signed up" in out
    assert "erin  (pending)" in run(monkeypatch, capsys, "users", "list")[1]
    assert run(monkeypatch, capsys, "users", "approve", "erin")[0] == 0
    code, _, err = run(monkeypatch, capsys, "users", "approve", "erin")
    assert code == 1 and "not waiting for approval" in err
    assert run(monkeypatch, capsys, "users", "reject", "frank")[0] == 0
    assert "No accounts are waiting" in run(monkeypatch, capsys, "users", "pending")[1]
    assert run(monkeypatch, capsys, "users", "list")[1].strip() == "erin"
