"""Guessing passwords: throttled with Retry-After, in sequences and in parallel bursts, lifted when the
window ends; a guesser cannot lock out the users who share their address; and an unknown user is
indistinguishable from a wrong password, in the answer and in the time it takes."""

from __future__ import annotations

import asyncio
import statistics
import time

import pytest

from parley.config import ThrottleRule
from tests.attacks.targets import PASSWORD

ATTEMPTS = 150
WINDOW = 4  # seconds: short, so the test can wait for the block to lift
LIMIT = 10


async def guess(target, attempts, username_of):
    """``attempts`` wrong passwords; returns each answer's status and Retry-After."""
    answers = []
    async with target.client() as http:
        for i in range(attempts):
            response = await http.post("/api/login", json={"username": username_of(i), "password": f"guess-{i}"})
            answers.append((response.status_code, response.headers.get("retry-after")))
    return answers


def assert_throttled(answers, limit, elapsed):
    statuses = [status for status, _ in answers]
    assert set(statuses) <= {401, 429}, statuses
    assert statuses[:limit] == [401] * limit
    assert statuses[limit] == 429
    # Each window lets at most ``limit`` guesses reach the password check.
    assert statuses.count(401) <= limit * (1 + int(elapsed // WINDOW))
    for status, retry_after in answers:
        if status == 429:
            assert retry_after is not None and 0 < int(retry_after) <= WINDOW


async def wait_and_log_in(target, username):
    await asyncio.sleep(WINDOW + 0.5)
    async with target.client() as http:
        response = await http.post("/api/login", json={"username": username, "password": PASSWORD})
    assert response.status_code == 200, response.text


# Every attempt counts on the address too; its limit is out of the way here (it has a test of its own).
@pytest.mark.target_settings(
    throttle_per_user=ThrottleRule(LIMIT, WINDOW), throttle_per_address=ThrottleRule(ATTEMPTS * 2, WINDOW)
)
async def test_guessing_one_users_password_is_throttled_then_lifts(target, ledger):
    victim = await target.add_user("victim")
    started = time.monotonic()
    answers = await guess(target, ATTEMPTS, lambda i: victim)
    ledger.attempt(target.path, "password guesses", ATTEMPTS)
    assert_throttled(answers, LIMIT, time.monotonic() - started)
    await wait_and_log_in(target, victim)


@pytest.mark.target_settings(throttle_per_address=ThrottleRule(LIMIT * 2, WINDOW))
async def test_guessing_across_many_users_from_one_address_is_throttled_but_the_right_password_gets_in(target, ledger):
    real = await target.add_user("real")
    started = time.monotonic()
    answers = await guess(target, LIMIT * 2 + 1, lambda i: f"someone{i}")
    async with target.client() as http:  # the address is blocked now, but not for whoever knows a password
        assert (await http.post("/api/login", json={"username": real, "password": PASSWORD})).status_code == 200
    answers += await guess(target, ATTEMPTS - len(answers), lambda i: f"someone-else{i}")
    ledger.attempt(target.path, "password guesses", ATTEMPTS + 1)
    assert_throttled(answers, LIMIT * 2, time.monotonic() - started)
    await wait_and_log_in(target, real)


BURST = 150
LONG_WINDOW = 120  # seconds: a burst is counted within one window however slow the machine


def from_address(address):
    """Headers that make a request come from ``address``: both paths trust X-Forwarded-For from loopback
    (uvicorn's default, as behind a reverse proxy on the same host)."""
    return {"X-Forwarded-For": address}


async def burst(target, logins, address="203.0.113.50"):
    """Every (username, password) of ``logins`` at once, each on its own connection; returns the responses."""
    # 150 password checks at once take their turns on the hashing threads: the last waits for all the others.
    async with target.client(headers=from_address(address), timeout=120) as http:
        return await asyncio.gather(
            *(http.post("/api/login", json={"username": name, "password": password}) for name, password in logins)
        )


@pytest.mark.target_settings(
    throttle_per_user=ThrottleRule(LIMIT, LONG_WINDOW), throttle_per_address=ThrottleRule(BURST, LONG_WINDOW)
)
async def test_a_parallel_burst_of_guesses_is_held_to_the_limit_and_a_late_right_guess_gets_nothing(target, ledger):
    victim = await target.add_user("victim")
    logins = [(victim, f"guess-{i}") for i in range(BURST)]
    late = BURST * 2 // 3
    logins[late] = (victim, PASSWORD)
    answers = await burst(target, logins)
    ledger.attempt(target.path, "password guesses", BURST)
    statuses = [answer.status_code for answer in answers]
    assert statuses.count(401) == LIMIT, statuses
    assert statuses.count(429) == BURST - LIMIT, statuses
    assert statuses[late] == 429 and "token" not in answers[late].json()
    assert all(0 < int(answer.headers["Retry-After"]) <= LONG_WINDOW for answer in answers if answer.status_code == 429)


@pytest.mark.target_settings(throttle_per_address=ThrottleRule(LIMIT * 2, LONG_WINDOW))
async def test_a_parallel_burst_from_one_address_is_held_to_its_limit_and_locks_nobody_out(target, ledger):
    real = await target.add_user("real")
    answers = await burst(target, [(f"made-up{i}", f"guess-{i}") for i in range(BURST)])
    ledger.attempt(target.path, "password guesses", BURST + 1)
    statuses = [answer.status_code for answer in answers]
    assert statuses.count(401) == LIMIT * 2, statuses
    assert statuses.count(429) == BURST - LIMIT * 2, statuses
    (login,) = await burst(target, [(real, PASSWORD)])
    assert login.status_code == 200, login.text


@pytest.mark.target_settings(throttle_per_address=ThrottleRule(LIMIT, LONG_WINDOW))
async def test_ipv6_clients_are_counted_by_their_64_bit_prefix(target, ledger):
    # One host is routinely given a whole /64: counted per address, it would have 2**64 budgets.
    answers = await burst(target, [(f"made-up{i}", "guess") for i in range(LIMIT)], "2001:db8:1:2::1")
    (same_prefix,) = await burst(target, [("made-up", "guess")], "2001:db8:1:2:ffff:ffff:ffff:fffe")
    (next_prefix,) = await burst(target, [("made-up", "guess")], "2001:db8:1:3::1")
    ledger.attempt(target.path, "password guesses", LIMIT + 2)
    assert [answer.status_code for answer in answers] == [401] * LIMIT
    assert same_prefix.status_code == 429
    assert next_prefix.status_code == 401


TRIES = 50
OPEN_THROTTLE = ThrottleRule(10_000, 60)


@pytest.mark.target_settings(throttle_per_user=OPEN_THROTTLE, throttle_per_address=OPEN_THROTTLE)
async def test_unknown_user_and_wrong_password_look_and_take_the_same(target, ledger):
    # The production argon2id parameters; throttling is out of the way so every try reaches the hash.
    alice = await target.add_user("alice")
    async with target.client() as http:

        async def timed(username):
            started = time.perf_counter()
            response = await http.post("/api/login", json={"username": username, "password": "not-the-password"})
            return time.perf_counter() - started, response.status_code, response.json()

        wrong_first, unknown_first = await timed(alice), await timed("nobody")  # warm-up: the dummy hash
        assert wrong_first[1:] == unknown_first[1:] == (401, wrong_first[2])
        wrong_password, unknown_user = [], []
        for _ in range(TRIES):  # interleaved, so drift on the machine hits both alike
            wrong_password.append((await timed(alice))[0])
            unknown_user.append((await timed("nobody"))[0])
    ledger.attempt(target.path, "timed logins", 2 * TRIES + 2)
    a, b = statistics.median(wrong_password), statistics.median(unknown_user)
    assert abs(a - b) / max(a, b) < 0.2, (a, b)
