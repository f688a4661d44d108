"""``parley export`` / ``parley import``: a history moves from a local (SQLite) home to a serverless (DynamoDB)
one and back, equal but for the conversations' ids."""

from __future__ import annotations

import asyncio
import io
import json
import zipfile

import pytest

from parley.cli.main import main
from parley.config import Settings
from parley.core.store.registry import open_stores
from tests.test_history import documents, make_history, without_conversation_ids


@pytest.fixture
def homes(tmp_path, monkeypatch, dynamodb_table, moto_server):
    monkeypatch.setenv("PARLEY_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("PARLEY_LOCAL_MODEL", "off")
    monkeypatch.setenv("PARLEY_DYNAMODB_TABLE", dynamodb_table)
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server)
    return {
        "sqlite": Settings(data_dir=tmp_path / "data"),
        "dynamodb": Settings(
            data_dir=tmp_path / "data", store="dynamodb", dynamodb_table=dynamodb_table, aws_endpoint_url=moto_server
        ),
    }


def parley(monkeypatch, *argv, stdin=""):
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    return main(list(argv))


def add_user(monkeypatch, store, name):
    assert (
        parley(monkeypatch, "users", "add", name, "--store", store, "--password-stdin", stdin="long enough pw\n") == 0
    )


def test_a_history_moves_from_a_local_home_to_a_serverless_one_and_back(homes, monkeypatch, capsys, tmp_path):
    add_user(monkeypatch, "sqlite", "alice")

    async def seed():
        async with open_stores("sqlite", homes["sqlite"]) as stores:
            user = await stores.users.get_user_by_name("alice")
            await make_history(stores, user.id)

    asyncio.run(seed())
    local = tmp_path / "local.zip"
    assert parley(monkeypatch, "export", "--user", "alice", "--output", str(local)) == 0
    assert not (tmp_path / "local.zip.partial").exists()

    add_user(monkeypatch, "dynamodb", "alice")
    capsys.readouterr()
    assert parley(monkeypatch, "import", str(local), "--user", "alice", "--store", "dynamodb") == 0
    assert "Imported 2 conversation(s) for alice." in capsys.readouterr().out
    serverless = tmp_path / "serverless.zip"
    assert parley(monkeypatch, "export", "--user", "alice", "--store", "dynamodb", "-o", str(serverless)) == 0
    _, from_local = documents(local.read_bytes())
    _, from_serverless = documents(serverless.read_bytes())
    assert without_conversation_ids(from_serverless) == without_conversation_ids(from_local)

    # And back, into a second account of the local home.
    add_user(monkeypatch, "sqlite", "alice2")
    capsys.readouterr()
    assert parley(monkeypatch, "import", str(serverless), "--user", "alice2") == 0
    assert "Imported 2 conversation(s)" in capsys.readouterr().out
    back = tmp_path / "back.zip"
    assert parley(monkeypatch, "export", "--user", "alice2", "-o", str(back)) == 0
    _, from_back = documents(back.read_bytes())
    assert without_conversation_ids(from_back) == without_conversation_ids(from_local)

    # The same archive again: nothing new.
    assert parley(monkeypatch, "import", str(serverless), "--user", "alice2") == 0
    out = capsys.readouterr().out
    assert "Imported 0 conversation(s)" in out and "2 were imported before" in out


def test_export_writes_the_zip_to_standard_output(tmp_path, monkeypatch, capsysbinary):
    monkeypatch.setenv("PARLEY_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("PARLEY_LOCAL_MODEL", "off")
    add_user(monkeypatch, "sqlite", "alice")
    capsysbinary.readouterr()
    assert parley(monkeypatch, "export", "--user", "alice") == 0
    archive = capsysbinary.readouterr().out
    with zipfile.ZipFile(io.BytesIO(archive)) as opened:
        assert json.loads(opened.read("manifest.json"))["conversations"] == 0


def test_import_reports_what_it_skipped_and_refuses_unknown_users(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("PARLEY_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("PARLEY_LOCAL_MODEL", "off")
    add_user(monkeypatch, "sqlite", "alice")
    from tests.test_history import archive_of, conversation_doc, message_doc

    path = tmp_path / "mixed.zip"
    path.write_bytes(
        archive_of(
            conversation_doc("Fine", [message_doc("a", None)]),
            conversation_doc("Odd role", [message_doc("a", None, "wizard")]),
        )
    )
    capsys.readouterr()
    assert parley(monkeypatch, "import", str(path), "--user", "alice") == 0
    out = capsys.readouterr().out
    assert "Imported 1 conversation(s)" in out and "Skipped 1 that could not be read:" in out
    assert "Odd role: message 1 has the role 'wizard'" in out
    assert parley(monkeypatch, "import", str(path), "--user", "nobody") == 1
    assert "no user named 'nobody'" in capsys.readouterr().err
    png = tmp_path / "conversations.json"
    png.write_bytes(b"\x89PNG\r\n\x1a\n\0\0")
    assert parley(monkeypatch, "import", str(png), "--user", "alice") == 1
    assert "not a file Parley can import" in capsys.readouterr().err
