"""``parley doctor`` against real misconfigurations: a wrong key at the fake upstream, a missing model file, a data
directory others can write to, a CPU without what the build needs; and a good setup exits 0."""

from __future__ import annotations

import io
import os

import pytest

from parley.cli.main import main
from parley.doctor.models import check_cpu_features
from parley.testing.fake_openai import FakeOpenAI


@pytest.fixture
def fake_upstream():
    with FakeOpenAI(api_key="sk-right", models=["fake-model"]).run_in_thread() as fake:
        yield fake


@pytest.fixture
def good_setup(tmp_path, monkeypatch, fake_upstream):
    """Everything fine: a private data dir, a built web app, the fake upstream with the right key."""
    data = tmp_path / "data"
    data.mkdir(mode=0o700)
    os.chmod(data, 0o700)
    web = tmp_path / "dist"
    web.mkdir()
    (web / "index.html").write_text("<!doctype html>")
    for name, value in {
        "PARLEY_DATA_DIR": str(data),
        "PARLEY_WEB_DIR": str(web),
        "PARLEY_LOCAL_MODEL": "off",
        "OPENAI_BASE_URL": fake_upstream.base_url,
        "OPENAI_API_KEY": "sk-right",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("PARLEY_JWT_SECRET", raising=False)
    monkeypatch.delenv("PARLEY_MODELS_FILE", raising=False)
    return data


def doctor(monkeypatch, capsys, *argv: str) -> tuple[int, str]:
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    code = main(["doctor", "--timeout", "3", *argv])
    return code, capsys.readouterr().out


def test_a_good_setup_exits_0(monkeypatch, capsys, good_setup):
    code, out = doctor(monkeypatch, capsys)
    assert code == 0, out
    assert "BROKEN" not in out
    assert "accepted the key and lists 1 model(s): fake-model" in out
    assert "All good" in out


def test_a_wrong_api_key_is_found(monkeypatch, capsys, good_setup):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-wrong")
    code, out = doctor(monkeypatch, capsys)
    assert code == 1
    assert "BROKEN   endpoint openai:" in out and "refused the API key (401)" in out
    assert "fix: check the key (OPENAI_API_KEY" in out
    assert "sk-wrong" not in out  # a key is never printed


def test_an_unreachable_endpoint_is_found(monkeypatch, capsys, good_setup, unused_tcp_port):
    monkeypatch.setenv("OPENAI_BASE_URL", f"http://127.0.0.1:{unused_tcp_port}/v1")
    code, out = doctor(monkeypatch, capsys)
    assert code == 1 and "cannot reach http://127.0.0.1:" in out


def test_a_missing_model_file_is_found(monkeypatch, capsys, good_setup, tmp_path):
    models = tmp_path / "models.toml"
    missing = tmp_path / "nowhere" / "model.gguf"
    models.write_text(f'[[endpoints]]\nname = "mine"\ntype = "local"\nmodel_path = "{missing}"\n')
    code, out = doctor(monkeypatch, capsys, "--models", str(models))
    assert code == 1
    assert "BROKEN   local model:" in out and f"{missing}" in out and "does not exist" in out


def test_a_file_that_is_not_a_model_is_found(monkeypatch, capsys, good_setup, tmp_path):
    fake_model = tmp_path / "model.gguf"
    fake_model.write_bytes(b"<html>not found</html>")
    models = tmp_path / "models.toml"
    models.write_text(f'[[endpoints]]\nname = "mine"\ntype = "local"\nmodel_path = "{fake_model}"\n')
    code, out = doctor(monkeypatch, capsys, "--models", str(models))
    assert code == 1 and "is not a GGUF model file" in out


def test_a_data_dir_others_can_write_is_broken(monkeypatch, capsys, good_setup):
    os.chmod(good_setup, 0o777)
    code, out = doctor(monkeypatch, capsys)
    assert code == 1
    assert "BROKEN   data directory:" in out and "writable by other users" in out
    assert f"fix: chmod 700 {good_setup.resolve()}" in out


def test_a_secret_others_can_read_is_broken(monkeypatch, capsys, good_setup):
    secret = good_setup / "jwt_secret"
    secret.write_text("a" * 64 + "\n")
    os.chmod(secret, 0o644)
    code, out = doctor(monkeypatch, capsys)
    assert code == 1 and "BROKEN   signing secret:" in out and "readable by other users" in out
    os.chmod(secret, 0o600)
    assert doctor(monkeypatch, capsys)[0] == 0


def test_a_weak_secret_is_broken(monkeypatch, capsys, good_setup):
    monkeypatch.setenv("PARLEY_JWT_SECRET", "changeme")
    code, out = doctor(monkeypatch, capsys)
    assert code == 1 and "well-known default" in out


def test_no_models_at_all_is_broken(monkeypatch, capsys, good_setup):
    monkeypatch.delenv("OPENAI_API_KEY")
    monkeypatch.delenv("OPENAI_BASE_URL")
    code, out = doctor(monkeypatch, capsys)
    assert code == 1 and "no endpoint can answer" in out


def test_a_missing_web_build_is_broken(monkeypatch, capsys, good_setup, tmp_path):
    monkeypatch.setenv("PARLEY_WEB_DIR", str(tmp_path / "empty"))
    code, out = doctor(monkeypatch, capsys)
    assert code == 1 and "index.html is missing" in out


def test_cpu_features_the_build_needs(tmp_path):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nflags\t\t: fpu sse sse2 avx fma f16c\n")
    (finding,) = check_cpu_features(cpuinfo, machine="x86_64")
    assert finding.status == "broken" and "lacks avx2, bmi2" in finding.message
    cpuinfo.write_text("flags\t\t: fpu avx avx2 fma f16c bmi2 avx512f\n")
    assert check_cpu_features(cpuinfo, machine="x86_64")[0].status == "ok"


def test_the_dynamodb_table_is_described(monkeypatch, capsys, good_setup, dynamodb_table, moto_server):
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server)
    monkeypatch.setenv("PARLEY_DYNAMODB_TABLE", dynamodb_table)
    code, out = doctor(monkeypatch, capsys, "--store", "dynamodb")
    assert code == 0, out
    assert f"{dynamodb_table} is ACTIVE" in out
    monkeypatch.setenv("PARLEY_DYNAMODB_TABLE", "no-such-table")
    code, out = doctor(monkeypatch, capsys, "--store", "dynamodb")
    assert code == 1 and "no-such-table does not exist" in out


def test_sign_up_settings_that_do_not_do_what_they_say_are_warned_about(monkeypatch, capsys, good_setup):
    monkeypatch.setenv("PARLEY_SIGNUP_DOMAINS", "example.org")
    code, out = doctor(monkeypatch, capsys)
    assert code == 0 and "warning  sign-up: PARLEY_SIGNUP_DOMAINS is set but PARLEY_SIGNUP=off" in out
    monkeypatch.setenv("PARLEY_SIGNUP", "open")
    assert "ok       sign-up: open to example.org" in doctor(monkeypatch, capsys)[1]
    monkeypatch.delenv("PARLEY_SIGNUP_DOMAINS")
    assert "anyone who reaches this server" in doctor(monkeypatch, capsys)[1]
