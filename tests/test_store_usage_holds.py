"""Reservations' holds, on both stores: a hold settles once, an expired one (its answer's process died) is given
back once by whoever next reserves or reads, and a slow answer that settles after that is counted once."""

from __future__ import annotations

import asyncio
import time

import pytest

from parley.core.store.base import UsageHold, UsageRecord

DEC_3 = 1_796_256_000.0  # 2026-12-03 00:00 UTC
MONTH = "2026-12"
HOLD = 600.0  # seconds a hold lasts in these tests


@pytest.fixture
async def user(stores):
    return await stores.users.create_user("Alice", "hash-1")


def hold(hold_id: str, at: float = DEC_3) -> UsageHold:
    return UsageHold(id=hold_id, started_at=at, expires_at=at + HOLD)


def used(user_id: str, prompt: int, completion: int, at: float = DEC_3 + 60) -> UsageRecord:
    return UsageRecord(user_id, "m1", prompt, completion, estimated=False, source="app", created_at=at)


async def test_a_settled_hold_is_gone_and_the_counter_holds_what_was_used(stores, user):
    assert await stores.usage.reserve(user.id, MONTH, 1000, hold("a")) is None
    assert await stores.usage.month_used(user.id, MONTH) == 1000
    assert await stores.usage.reclaim_expired(user.id, DEC_3 + HOLD - 1) == 0  # not expired yet: kept
    assert await stores.usage.month_used(user.id, MONTH) == 1000

    await stores.usage.settle(used(user.id, 30, 20), MONTH, 1000, "a")
    assert await stores.usage.month_used(user.id, MONTH) == 50
    assert await stores.usage.reclaim_expired(user.id, DEC_3 + HOLD + 1) == 0  # nothing held any more
    assert await stores.usage.month_used(user.id, MONTH) == 50


async def test_settling_twice_counts_once(stores, user):
    await stores.usage.reserve(user.id, MONTH, 1000, hold("a"))
    await stores.usage.settle(used(user.id, 30, 20), MONTH, 1000, "a")
    await stores.usage.settle(used(user.id, 30, 20), MONTH, 1000, "a")  # a retried worker, say
    assert await stores.usage.month_used(user.id, MONTH) == 50
    (day,) = await stores.usage.daily(user.id, "2026-12-03", "2026-12-03")
    assert (day.prompt_tokens, day.completion_tokens, day.requests) == (30, 20, 1)


async def test_an_expired_hold_is_given_back_when_the_counter_is_read(stores, user):
    await stores.usage.reserve(user.id, MONTH, 1000, hold("dead"))
    await stores.usage.reserve(user.id, MONTH, 300, hold("alive", at=DEC_3 + 400))
    assert await stores.usage.reclaim_expired(user.id, DEC_3 + HOLD) == 1000  # expired at its expiry
    assert await stores.usage.month_used(user.id, MONTH) == 300  # the live one is still held
    assert await stores.usage.reclaim_expired(user.id, DEC_3 + HOLD + 1) == 0  # once
    assert await stores.usage.month_used(user.id, MONTH) == 300
    assert await stores.usage.daily(user.id, "2026-12-03", "2026-12-03") == []  # nothing recorded as used


async def test_an_expired_hold_is_given_back_by_the_next_reservation_before_the_budget_check(stores, user):
    await stores.usage.set_budget(user.id, 1000)
    await stores.usage.reserve(user.id, MONTH, 1000, hold("dead"))
    assert await stores.usage.reserve(user.id, MONTH, 10, hold("refused", at=DEC_3 + 60)) == 1000  # still held
    assert await stores.usage.reserve(user.id, MONTH, 10, hold("next", at=DEC_3 + HOLD)) is None
    assert await stores.usage.month_used(user.id, MONTH) == 10
    # The refused reservation left no hold to give back.
    assert await stores.usage.reclaim_expired(user.id, DEC_3 + 2 * HOLD) == 10


async def test_a_hold_of_an_earlier_month_is_given_back_to_that_month(stores, user):
    await stores.usage.reserve(user.id, "2026-11", 700, hold("november", at=DEC_3 - 120))
    await stores.usage.reserve(user.id, MONTH, 10, hold("december", at=DEC_3 + HOLD))
    assert await stores.usage.month_used(user.id, "2026-11") == 0
    assert await stores.usage.month_used(user.id, MONTH) == 10


async def test_a_late_settle_after_the_hold_was_reclaimed_counts_what_was_used_once(stores, user):
    await stores.usage.reserve(user.id, MONTH, 1000, hold("slow"))
    assert await stores.usage.reclaim_expired(user.id, DEC_3 + HOLD + 1) == 1000
    assert await stores.usage.month_used(user.id, MONTH) == 0
    # The worker was slow, not dead: what it used is counted, and the reservation is not taken off again.
    await stores.usage.settle(used(user.id, 30, 20), MONTH, 1000, "slow")
    assert await stores.usage.month_used(user.id, MONTH) == 50
    await stores.usage.settle(used(user.id, 30, 20), MONTH, 1000, "slow")
    assert await stores.usage.reclaim_expired(user.id, DEC_3 + HOLD + 2) == 0
    assert await stores.usage.month_used(user.id, MONTH) == 50
    (day,) = await stores.usage.daily(user.id, "2026-12-03", "2026-12-03")
    assert day.requests == 1


async def test_holds_are_the_users_own(stores, user):
    other = await stores.users.create_user("mallory", "h")
    await stores.usage.reserve(user.id, MONTH, 1000, hold("a"))
    await stores.usage.reserve(other.id, MONTH, 500, hold("a"))  # the same id, another user's
    assert await stores.usage.reclaim_expired(other.id, DEC_3 + HOLD) == 500
    assert await stores.usage.month_used(user.id, MONTH) == 1000
    await stores.usage.settle(used(other.id, 1, 1), MONTH, 500, "a")  # the other's hold is gone: nothing
    await stores.usage.settle(used(user.id, 2, 2), MONTH, 1000, "a")
    assert await stores.usage.month_used(user.id, MONTH) == 4
    assert await stores.usage.month_used(other.id, MONTH) == 2  # its late settle: what it used


async def test_a_reservation_without_a_hold_settles_as_before(stores, user):
    # One taken before holds existed (a prepared chat in flight during a deploy).
    await stores.usage.reserve(user.id, MONTH, 1000)
    await stores.usage.settle(used(user.id, 30, 20), MONTH, 1000)
    assert await stores.usage.month_used(user.id, MONTH) == 50


async def test_two_processes_reclaiming_at_once_give_a_hold_back_once(stores, other_stores, user):
    for n in range(5):
        await stores.usage.reserve(user.id, MONTH, 100 + n, hold(f"h{n}"))
    given_back = await asyncio.gather(
        *(s.usage.reclaim_expired(user.id, DEC_3 + HOLD) for s in (stores, other_stores, stores, other_stores))
    )
    assert sum(given_back) == 100 + 101 + 102 + 103 + 104
    assert await stores.usage.month_used(user.id, MONTH) == 0


async def test_a_settle_racing_a_reclaim_counts_what_was_used_once_whichever_wins(stores, other_stores, user):
    for n in range(5):
        await stores.usage.reserve(user.id, MONTH, 1000, hold(f"h{n}"))
    await asyncio.gather(
        *(stores.usage.settle(used(user.id, 5, 5), MONTH, 1000, f"h{n}") for n in range(5)),
        other_stores.usage.reclaim_expired(user.id, DEC_3 + HOLD),
        other_stores.usage.reclaim_expired(user.id, DEC_3 + HOLD),
    )
    assert await stores.usage.month_used(user.id, MONTH) == 5 * 10
    assert await stores.usage.reclaim_expired(user.id, DEC_3 + HOLD + 1) == 0
    (day,) = await stores.usage.daily(user.id, "2026-12-03", "2026-12-03")
    assert day.requests == 5


async def test_a_deleted_users_holds_go_with_it(stores, user):
    await stores.usage.reserve(user.id, MONTH, 1000, hold("a", at=time.time()))
    assert await stores.users.delete_user(user.id)
    assert await stores.usage.reclaim_expired(user.id, time.time() + 2 * HOLD) == 0
