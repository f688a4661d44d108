"""The pure parts of `make bench-peers`: reading peers' streams, Open WebUI's export format, reusing peer venvs."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest
from bench.openai_sse import delta_texts
from bench.peer_env import PeerEnvError, PeerSpec, ensure, environment
from bench.peers.open_webui_export import export_chat


def test_content_deltas_are_read_and_other_events_skipped() -> None:
    chunk = {"choices": [{"index": 0, "delta": {"role": "assistant", "content": " w1"}}]}
    assert delta_texts(f"data: {json.dumps(chunk)}") == [" w1"]
    # Open WebUI adds events without choices (usage, sources) and empty deltas to the same stream.
    assert delta_texts('data: {"usage": {"completion_tokens": 3}}') == []
    assert delta_texts('data: {"choices": [{"delta": {}, "finish_reason": "stop"}]}') == []
    assert delta_texts('data: {"choices": [{"delta": {"content": ""}}]}') == []
    assert delta_texts(": keep-alive") == []
    assert delta_texts("") == []
    assert delta_texts("data: [DONE]") is None
    assert delta_texts("data:[DONE]") is None


def test_a_malformed_stream_line_is_an_error() -> None:
    with pytest.raises(json.JSONDecodeError):
        delta_texts("data: {not json")


def test_an_exported_chat_is_one_thread_in_open_webuis_shape() -> None:
    turns = [("user", "hello"), ("assistant", "hi there"), ("user", "again"), ("assistant", "yes")]
    form = export_chat("A chat", turns, 1_700_000_000, model="fake-model")
    chat = form["chat"]
    messages = chat["messages"]
    assert [(m["role"], m["content"]) for m in messages] == turns
    assert messages[0]["parentId"] is None
    for parent, child in itertools.pairwise(messages):
        assert child["parentId"] == parent["id"]
        assert parent["childrenIds"] == [child["id"]]
    assert messages[-1]["childrenIds"] == []
    assert chat["history"]["currentId"] == messages[-1]["id"]
    assert set(chat["history"]["messages"]) == {m["id"] for m in messages}
    assert chat["title"] == "A chat" and chat["models"] == ["fake-model"]
    assert form["created_at"] == 1_700_000_000 and form["updated_at"] > form["created_at"]
    assert len({m["id"] for m in messages}) == len(messages)


def _fake_install(path: Path, spec: PeerSpec) -> None:
    (path / "bin").mkdir(parents=True)
    (path / "bin" / "python").touch()
    (path / "parley-peer.json").write_text(json.dumps({"fingerprint": spec.fingerprint()}))


def test_a_peer_environment_is_reused_only_for_the_same_packages(tmp_path: Path) -> None:
    spec = PeerSpec(name="peer", packages=("peer==1.0",), first=("torch==2.13.0",))
    env = environment(spec, tmp_path)
    assert env.path == tmp_path / "peer"
    assert not env.installed()
    _fake_install(env.path, spec)
    assert env.installed()
    upgraded = PeerSpec(name="peer", packages=("peer==1.1",), first=("torch==2.13.0",))
    assert not environment(upgraded, tmp_path).installed()
    (env.path / "bin" / "python").unlink()  # a half-removed environment is not reused
    assert not env.installed()


def test_a_directory_not_made_here_is_never_replaced(tmp_path: Path) -> None:
    foreign = tmp_path / "peer" / "bin"
    foreign.mkdir(parents=True)  # e.g. another tool's venv under the same name
    with pytest.raises(PeerEnvError):
        ensure(PeerSpec(name="peer", packages=("peer==1.0",)), tmp_path)
    assert foreign.is_dir()
