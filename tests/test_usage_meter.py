"""The usage meter: reservations against a monthly budget, settling what an answer used, estimates."""

from __future__ import annotations

import datetime

import pytest

from parley.core.providers.base import ChatMessage
from parley.core.usage.estimate import estimate_prompt_tokens, estimate_text_tokens
from parley.core.usage.meter import HOLD_SECONDS, Reservation, UsageMeter
from parley.core.usage.months import next_month_start
from parley.errors import BudgetExceeded

DEC_31_LATE = datetime.datetime(2026, 12, 31, 23, 0, tzinfo=datetime.UTC).timestamp()


@pytest.fixture
async def user(runtime):
    return await runtime.stores.users.create_user("alice", "hash")


def meter_at(runtime, timestamp):
    return UsageMeter(runtime.stores.usage, clock=lambda: timestamp)


async def test_a_reservation_holds_max_tokens_and_the_prompt_until_settled(runtime, user):
    meter = meter_at(runtime, DEC_31_LATE)
    reservation = await meter.reserve(user.id, max_tokens=1000, prompt_tokens=20)
    assert (reservation.user_id, reservation.month, reservation.tokens) == (user.id, "2026-12", 1020)
    assert reservation.hold_id
    assert await runtime.stores.usage.month_used(user.id, "2026-12") == 1020
    await meter.settle(reservation, "m", 18, 7, estimated=False)
    assert await runtime.stores.usage.month_used(user.id, "2026-12") == 25
    (day,) = await runtime.stores.usage.daily(user.id, "2026-12-31", "2026-12-31")
    assert (day.model, day.prompt_tokens, day.completion_tokens, day.requests) == ("m", 18, 7, 1)


async def test_release_gives_everything_back_and_records_nothing(runtime, user):
    meter = meter_at(runtime, DEC_31_LATE)
    reservation = await meter.reserve(user.id, max_tokens=500)
    await meter.release(reservation, "m")
    assert await runtime.stores.usage.month_used(user.id, "2026-12") == 0
    assert await runtime.stores.usage.daily(user.id, "2026-12-31", "2026-12-31") == []


async def test_a_used_up_budget_refuses_with_when_it_resets(runtime, user):
    meter = meter_at(runtime, DEC_31_LATE)
    await runtime.stores.usage.set_budget(user.id, 100_000)
    first = await meter.reserve(user.id, max_tokens=100_000)
    with pytest.raises(BudgetExceeded) as refused:
        await meter.reserve(user.id, max_tokens=10)
    error = refused.value
    assert error.resets_at == datetime.datetime(2027, 1, 1, tzinfo=datetime.UTC)
    assert error.retry_after == 3600
    assert error.message == ("Your monthly budget of 100,000 tokens is used up; it resets on 1 January 2027 (UTC).")
    await meter.settle(first, "m", 10, 10)  # the answer used far less than it held: room again
    await meter.reserve(user.id, max_tokens=10)
    # A new month starts from nothing.
    january = meter_at(runtime, DEC_31_LATE + 7200)
    assert (await january.reserve(user.id, max_tokens=99_999)).month == "2027-01"


def test_estimates_are_about_four_characters_a_token():
    assert estimate_text_tokens("") == 0
    assert estimate_text_tokens("abcd") == 1
    assert estimate_text_tokens("abcde") == 2
    messages = [ChatMessage("system", "be brief"), ChatMessage("user", "What is 2+2?")]
    assert estimate_prompt_tokens(messages) == (4 + 2) + (4 + 3)


def test_months_reset_at_midnight_utc_on_the_first():
    assert next_month_start("2026-02") == datetime.datetime(2026, 3, 1, tzinfo=datetime.UTC)
    assert next_month_start("2026-12") == datetime.datetime(2027, 1, 1, tzinfo=datetime.UTC)


def test_a_reservation_travels_as_plain_data():
    reservation = Reservation("u1", "2026-12", 42, "hold-1")
    assert Reservation.from_dict(reservation.to_dict()) == reservation


async def test_a_reservation_from_before_holds_still_settles(runtime, user):
    # A prepared chat in flight during a deploy: its reservation was taken without a hold.
    await runtime.stores.usage.reserve(user.id, "2026-12", 1000)
    reservation = Reservation.from_dict({"user_id": user.id, "month": "2026-12", "tokens": 1000})
    assert reservation.hold_id is None
    await meter_at(runtime, DEC_31_LATE).settle(reservation, "m", 30, 20)
    assert await runtime.stores.usage.month_used(user.id, "2026-12") == 50


async def test_settling_a_reservation_twice_counts_it_once(runtime, user):
    meter = meter_at(runtime, DEC_31_LATE)
    reservation = await meter.reserve(user.id, max_tokens=1000)
    await meter.settle(reservation, "m", 30, 20)
    await meter.settle(reservation, "m", 30, 20)
    await meter.release(reservation, "m")
    assert await runtime.stores.usage.month_used(user.id, "2026-12") == 50


async def test_a_dead_answers_reservation_is_given_back_once_its_hold_expires(runtime, user):
    started = DEC_31_LATE - 3 * 3600
    await runtime.stores.usage.set_budget(user.id, 1000)
    dead = await meter_at(runtime, started).reserve(user.id, max_tokens=1000)  # its process dies: never settled
    with pytest.raises(BudgetExceeded):
        await meter_at(runtime, started + HOLD_SECONDS - 1).reserve(user.id, max_tokens=10)  # it may still run
    later = await meter_at(runtime, started + HOLD_SECONDS).reserve(user.id, max_tokens=10)
    assert await runtime.stores.usage.month_used(user.id, "2026-12") == 10
    # Not dead after all, only slow: what it used counts, once, and its reservation is not taken off again.
    await meter_at(runtime, started + HOLD_SECONDS + 60).settle(dead, "m", 100, 200)
    await meter_at(runtime, started + HOLD_SECONDS + 60).settle(later, "m", 2, 3)
    assert await runtime.stores.usage.month_used(user.id, "2026-12") == 300 + 5


def test_a_hold_outlasts_any_answer_on_aws():
    # The worker may wait 15 minutes in Lambda's queue, then runs 15 minutes at most.
    assert HOLD_SECONDS > 15 * 60 + 15 * 60
