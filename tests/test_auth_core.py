"""Password hashing, the signing secret, and settings that must refuse to run."""

from __future__ import annotations

import asyncio
import stat
import time

import pytest

from parley.config import Argon2Params, Settings
from parley.core.auth.passwords import PasswordHasher
from parley.core.auth.secret import load_or_create_secret
from parley.errors import ConfigError
from tests.conftest import FAST_ARGON2


async def test_default_parameters_are_owasp_argon2id():
    params = Settings().argon2
    assert (params.memory_kib, params.time_cost, params.parallelism) == (19 * 1024, 2, 1)
    hasher = PasswordHasher(params, concurrency=1)
    hashed = await hasher.hash("s3cret-password")
    assert hashed.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert await hasher.verify(hashed, "s3cret-password")
    assert not await hasher.verify(hashed, "wrong")


async def test_hashing_does_not_block_the_event_loop():
    hasher = PasswordHasher(Argon2Params(time_cost=3, memory_kib=32 * 1024), concurrency=2)
    ticks = 0

    async def ticker():
        nonlocal ticks
        while True:
            await asyncio.sleep(0.005)
            ticks += 1

    task = asyncio.create_task(ticker())
    started = time.monotonic()
    await asyncio.gather(*(hasher.hash(f"password-{i}") for i in range(4)))
    elapsed = time.monotonic() - started
    task.cancel()
    # While four hashes ran, the loop kept ticking: at least a third of the ticks it could have made.
    assert ticks >= (elapsed / 0.005) / 3


async def test_unknown_user_still_pays_a_verify():
    hasher = PasswordHasher(FAST_ARGON2, concurrency=1)
    assert await hasher.verify(None, "anything") is False
    assert "_dummy_hash" in vars(hasher)  # the dummy hash was computed and checked against


def test_secret_is_generated_once_with_mode_0600(tmp_path):
    path = tmp_path / "data" / "jwt_secret"
    first = load_or_create_secret(None, path)
    assert len(bytes.fromhex(first)) == 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_or_create_secret(None, path) == first


@pytest.mark.parametrize("secret", ["changeme", "secret", "short-secret", "x" * 31])
def test_short_or_default_secrets_refuse_to_start(tmp_path, secret):
    with pytest.raises(ConfigError):
        load_or_create_secret(secret, tmp_path / "jwt_secret")


def test_a_weak_secret_in_the_file_is_refused(tmp_path):
    path = tmp_path / "jwt_secret"
    path.write_text("changeme\n")
    with pytest.raises(ConfigError):
        load_or_create_secret(None, path)


def test_settings_resolve_argument_then_env_then_default(tmp_path):
    env = {"PARLEY_PORT": "9000", "PARLEY_DATA_DIR": str(tmp_path), "PARLEY_LOCAL_MODEL": "off"}
    assert Settings.from_env(env).port == 9000
    assert Settings.from_env(env, port=9100).port == 9100
    assert Settings.from_env({}).port == 8000
    assert Settings.from_env(env).local_model is False
    with pytest.raises(ConfigError):
        Settings.from_env({"PARLEY_PORT": "eighty"})
