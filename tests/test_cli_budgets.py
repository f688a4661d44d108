"""``parley budget`` and ``parley usage``, run as an admin would."""

from __future__ import annotations

import asyncio
import datetime
import time

from parley.config import Settings
from parley.core.store.base import UsageRecord
from parley.core.store.registry import open_stores
from parley.core.usage.months import day_key, month_key, next_month_start
from tests.test_cli import data_dir, run  # noqa: F401 - the fixture is used by name

PASSWORD = "hunter2hunter2\n"


def record_usage(directory, username, model, prompt, completion):
    async def record():
        async with open_stores("sqlite", Settings(data_dir=directory)) as stores:
            user = await stores.users.get_user_by_name(username)
            now = time.time()
            used = UsageRecord(user.id, model, prompt, completion, False, "app", now)
            await stores.usage.settle(used, month_key(now), 0)

    asyncio.run(record())


def test_budget_set_show_and_clear(monkeypatch, capsys, data_dir):  # noqa: F811
    run(monkeypatch, capsys, "users", "add", "alice", "--password-stdin", stdin=PASSWORD)
    record_usage(data_dir, "alice", "m1", 1200, 34)
    reset = next_month_start(month_key(time.time()))
    code, out, _ = run(monkeypatch, capsys, "budget", "set", "alice", "100000")
    assert code == 0
    assert out.strip() == (
        f"alice: 100,000 tokens a month; 1,234 used in {month_key(time.time())};"
        f" resets on {reset.day} {reset:%B %Y} (UTC)."
    )
    assert "100,000 tokens a month; 1,234 used" in run(monkeypatch, capsys, "budget", "show", "alice")[1]
    assert run(monkeypatch, capsys, "budget", "clear", "alice")[1].strip() == "Removed alice's budget."
    assert "alice: no budget; 1,234 tokens used" in run(monkeypatch, capsys, "budget", "show", "alice")[1]
    assert run(monkeypatch, capsys, "budget", "clear", "alice")[1].strip() == "alice had no budget."


def test_budget_errors_are_clear(monkeypatch, capsys, data_dir):  # noqa: F811
    run(monkeypatch, capsys, "users", "add", "alice", "--password-stdin", stdin=PASSWORD)
    code, _, err = run(monkeypatch, capsys, "budget", "set", "ghost", "10")
    assert code == 1 and "No such user" in err
    code, _, err = run(monkeypatch, capsys, "budget", "set", "alice", "0")
    assert code == 1 and "1 to" in err


def test_usage_prints_a_table_for_everyone_or_one_user(monkeypatch, capsys, data_dir):  # noqa: F811
    for name in ("alice", "bob"):
        run(monkeypatch, capsys, "users", "add", name, "--password-stdin", stdin=PASSWORD)
    record_usage(data_dir, "alice", "m1", 1000, 200)
    record_usage(data_dir, "bob", "m1", 1, 2)
    record_usage(data_dir, "bob", "m2", 3, 4)
    today = day_key(time.time())
    code, out, _ = run(monkeypatch, capsys, "usage")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].startswith("Usage of everyone, ") and lines[0].endswith(f"to {today} (UTC days)")
    assert lines[1].split() == ["day", "model", "prompt", "completion", "requests"]
    assert lines[2].split() == [today, "m1", "1,001", "202", "2"]
    assert lines[3].split() == [today, "m2", "3", "4", "1"]
    assert lines[4].split() == ["total", "1,004", "206", "3"]
    out = run(monkeypatch, capsys, "usage", "--user", "bob", "--from", today, "--to", today)[1]
    assert out.splitlines()[0] == f"Usage of bob, {today} to {today} (UTC days)"
    assert out.splitlines()[-1].split() == ["total", "4", "6", "2"]
    yesterday = (datetime.date.fromisoformat(today) - datetime.timedelta(days=1)).isoformat()
    out = run(monkeypatch, capsys, "usage", "--to", yesterday)[1]
    assert out.splitlines()[-1].split() == ["total", "0", "0", "0"]
    code, _, err = run(monkeypatch, capsys, "usage", "--from", "soon")
    assert code == 1 and "YYYY-MM-DD" in err
