"""Short-lived state on DynamoDB, expired by the table's TTL (and checked on read, as TTL deletes lazily)."""

from __future__ import annotations

import json
import time
from typing import Any

from botocore.exceptions import ClientError

from parley.aws.dynamodb import keys
from parley.aws.dynamodb.table import GSI1, Table, failed_item, is_condition_failure
from parley.core.rate_limit import take_from_bucket
from parley.core.store.base import MAX_FOLLOWERS, LiveSignals, Registration, SessionRef


def _ttl(expires_at: float) -> int:
    return int(expires_at) + 1


class DynamoTokenRevocationStore:
    def __init__(self, table: Table) -> None:
        self._table = table

    async def revoke(self, jti: str, expires_at: float, *, user_id: str) -> None:
        pk, sk = keys.revoked(jti)
        # The user id lets the session-end function (on the table's stream) find the session's connections.
        await self._table.put({"pk": pk, "sk": sk, "user_id": user_id, "ttl": _ttl(expires_at)})

    async def is_revoked(self, jti: str) -> bool:
        return await self._table.get(*keys.revoked(jti)) is not None


class DynamoTicketStore:
    def __init__(self, table: Table) -> None:
        self._table = table

    async def put_ticket(self, ticket_hash: str, session: SessionRef, expires_at: float) -> None:
        pk, sk = keys.ticket(ticket_hash)
        await self._table.put(
            {
                "pk": pk,
                "sk": sk,
                "user_id": session.user_id,
                "jti": session.jti,
                "token_version": session.token_version,
                "expires_at": expires_at,
                "ttl": _ttl(expires_at),
            }
        )

    async def take_ticket(self, ticket_hash: str, now: float) -> SessionRef | None:
        # Deleting and reading in one call makes a ticket single-use even under concurrent redemptions.
        old = await self._table.delete(*keys.ticket(ticket_hash), returns="ALL_OLD")
        if not old or float(old["expires_at"]) < now or "jti" not in old:
            return None
        return SessionRef(user_id=str(old["user_id"]), jti=str(old["jti"]), token_version=int(old["token_version"]))


class DynamoThrottleStore:
    def __init__(self, table: Table) -> None:
        self._table = table

    async def hit(self, key: str, now: float, window_seconds: float) -> tuple[int, float]:
        pk, sk = keys.throttle(key)
        for _ in range(5):  # bounded: each round either counts or loses a race that another writer won
            try:
                item = await self._table.update(
                    pk,
                    sk,
                    "ADD failures :one",
                    values={":one": 1, ":now": now},
                    condition="window_ends > :now",
                    returns="ALL_NEW",
                )
                return int(item["failures"]), float(item["window_ends"])
            except ClientError as error:
                if not is_condition_failure(error):
                    raise
            window_ends = now + window_seconds
            try:
                await self._table.put(
                    {"pk": pk, "sk": sk, "failures": 1, "window_ends": window_ends, "ttl": _ttl(window_ends)},
                    condition="attribute_not_exists(pk) OR window_ends <= :now",
                    values={":now": now},
                )
                return 1, window_ends
            except ClientError as error:
                if not is_condition_failure(error):
                    raise
        # Five windows begun under us in one call cannot happen with windows of minutes; were it to, this
        # attempt is counted as one past whatever is there rather than not at all.
        current = await self._table.get(pk, sk)
        if current is None:
            return 1, now + window_seconds
        return int(current["failures"]) + 1, float(current["window_ends"])

    async def refund(self, key: str, now: float) -> None:
        try:
            await self._table.update(
                *keys.throttle(key),
                "ADD failures :minus_one",
                values={":minus_one": -1, ":now": now, ":zero": 0},
                condition="window_ends > :now AND failures > :zero",
            )
        except ClientError as error:
            if not is_condition_failure(error):  # the window has ended: nothing left to take back
                raise

    async def clear(self, key: str) -> None:
        await self._table.delete(*keys.throttle(key))


class DynamoPreferencesStore:
    def __init__(self, table: Table) -> None:
        self._table = table

    async def get_preferences(self, user_id: str) -> dict[str, Any] | None:
        item = await self._table.get(*keys.preferences(user_id))
        if item is None:
            return None
        data: dict[str, Any] = json.loads(item["data"])
        return data

    async def put_preferences(self, user_id: str, preferences: dict[str, Any]) -> None:
        pk, sk = keys.preferences(user_id)
        await self._table.put({"pk": pk, "sk": sk, "data": json.dumps(preferences), "updated_at": time.time()})


class DynamoConnectionStore:
    def __init__(self, table: Table) -> None:
        self._table = table

    async def put_connection(self, connection_id: str, session: SessionRef, expires_at: float) -> None:
        pk, sk = keys.connection(connection_id)
        await self._table.put(
            {
                "pk": pk,
                "sk": sk,
                "gsi1pk": keys.connections_index(session.user_id),
                "gsi1sk": connection_id,
                "user_id": session.user_id,
                "jti": session.jti,
                "token_version": session.token_version,
                "expires_at": expires_at,
                "ttl": _ttl(expires_at),
            }
        )

    async def get_connection(self, connection_id: str) -> SessionRef | None:
        item = await self._table.get(*keys.connection(connection_id))
        if item is None or float(item["expires_at"]) < time.time():
            return None
        if "jti" not in item or "token_version" not in item:
            return None  # recorded without its whole session: refused, and its client opens a new connection
        return SessionRef(user_id=str(item["user_id"]), jti=str(item["jti"]), token_version=int(item["token_version"]))

    async def delete_connection(self, connection_id: str) -> None:
        await self._table.delete(*keys.connection(connection_id))

    async def user_connections(self, user_id: str, *, jti: str | None = None) -> list[str]:
        # A user holds a handful of connections: filtering them here is cheaper than an index per session.
        items = await self._table.query_all("gsi1pk = :p", {":p": keys.connections_index(user_id)}, index=GSI1)
        now = time.time()
        return [
            str(item["gsi1sk"])
            for item in items
            if float(item["expires_at"]) >= now and (jti is None or item.get("jti") == jti)
        ]


class DynamoStopSignalStore:
    """Answers by (user, msgid), and each user's answer slots: ``max_running`` items that answers lease.

    DynamoDB cannot count and insert in one step, so a new answer takes a free slot item with a
    conditional put (one winner per slot, whichever container asks), then records its msgid."""

    def __init__(self, table: Table) -> None:
        self._table = table

    async def register_generation(
        self, user_id: str, msgid: str, expires_at: float, *, max_running: int, lease_until: float
    ) -> Registration:
        now = time.time()
        if await self._recorded(user_id, msgid, now):
            return Registration.DUPLICATE
        slot = await self._lease_slot(user_id, msgid, max_running, lease_until, now)
        if slot is None:
            return Registration.AT_CAPACITY
        pk, sk = keys.generation(user_id, msgid)
        try:
            await self._table.put(
                {
                    "pk": pk,
                    "sk": sk,
                    "stop_requested": False,
                    "finished": False,
                    "followers": {},
                    "slot": slot,
                    "ttl": _ttl(expires_at),
                },
                condition="attribute_not_exists(pk) OR #ttl < :now",
                values={":now": int(now)},
                names={"#ttl": "ttl"},
            )
        except ClientError as error:
            if not is_condition_failure(error):
                raise
            await self._release_slot(user_id, slot, msgid)  # the same msgid, sent twice at once, won elsewhere
            return Registration.DUPLICATE
        return Registration.STARTED

    async def _recorded(self, user_id: str, msgid: str, now: float) -> bool:
        item = await self._table.get(*keys.generation(user_id, msgid))
        return item is not None and int(item["ttl"]) >= int(now)

    async def _lease_slot(
        self, user_id: str, msgid: str, max_running: int, lease_until: float, now: float
    ) -> int | None:
        for _ in range(2):  # a second look, when others took every slot that looked free
            for slot in await self._free_slots(user_id, max_running, now):
                pk, sk = keys.generation_slot(user_id, slot)
                try:
                    await self._table.put(
                        {
                            "pk": pk,
                            "sk": sk,
                            "slot": slot,
                            "msgid": msgid,
                            "lease_until": lease_until,
                            "ttl": _ttl(lease_until),
                        },
                        condition="attribute_not_exists(pk) OR lease_until < :now",
                        values={":now": now},
                    )
                    return slot
                except ClientError as error:
                    if not is_condition_failure(error):
                        raise
        return None

    async def _free_slots(self, user_id: str, max_running: int, now: float) -> list[int]:
        items = await self._table.query_all("pk = :p", {":p": keys.generation_slots(user_id)})
        held = {int(item["slot"]) for item in items if float(item["lease_until"]) >= now}
        return [slot for slot in range(max_running) if slot not in held]

    async def _release_slot(self, user_id: str, slot: int, msgid: str) -> None:
        try:
            # Only this answer's lease: once it has ended, the slot may belong to another answer.
            await self._table.delete(*keys.generation_slot(user_id, slot), condition="msgid = :m", values={":m": msgid})
        except ClientError as error:
            if not is_condition_failure(error):
                raise

    async def request_stop(self, user_id: str, msgid: str) -> bool:
        try:
            await self._table.update(
                *keys.generation(user_id, msgid),
                "SET stop_requested = :yes",
                values={":yes": True, ":no": False},
                condition="attribute_exists(pk) AND finished = :no",
            )
        except ClientError as error:
            if is_condition_failure(error):
                return False
            raise
        return True

    async def stop_requested(self, user_id: str, msgid: str) -> bool:
        item = await self._table.get(*keys.generation(user_id, msgid))
        return bool(item and item.get("stop_requested"))

    async def follow(self, user_id: str, msgid: str, connection_id: str, after_seq: int) -> bool:
        # On the answer's own item, so the worker reads them with the stop flag, and a follower added before the
        # answer is marked finished is seen by the worker's last read after it.
        try:
            await self._table.update(
                *keys.generation(user_id, msgid),
                "SET followers.#connection = :seq",
                names={"#connection": connection_id, "#ttl": "ttl"},
                values={":seq": after_seq, ":no": False, ":now": int(time.time()), ":max": MAX_FOLLOWERS},
                condition="attribute_exists(pk) AND finished = :no AND #ttl >= :now AND size(followers) < :max",
            )
        except ClientError as error:
            if is_condition_failure(error):
                return False
            raise
        return True

    async def signals(self, user_id: str, msgid: str) -> LiveSignals:
        item = await self._table.get(*keys.generation(user_id, msgid))
        if item is None:
            return LiveSignals()
        followers = item.get("followers") or {}
        return LiveSignals(
            stop_requested=bool(item.get("stop_requested")),
            followers={str(connection): int(seq) for connection, seq in followers.items()},
        )

    async def finish_generation(self, user_id: str, msgid: str) -> None:
        generation = await self._table.update(
            *keys.generation(user_id, msgid), "SET finished = :yes", values={":yes": True}, returns="ALL_NEW"
        )
        if "slot" in generation:
            await self._release_slot(user_id, int(generation["slot"]), msgid)


class DynamoRequestRateStore:
    """Token buckets as one item per key holding when the bucket is full again (``full_at``).

    Two conditional updates at most, no read-then-write: every container sees the same bucket."""

    def __init__(self, table: Table) -> None:
        self._table = table

    async def take(self, key: str, now: float, interval: float, burst: int) -> float:
        pk, sk = keys.request_rate(key)
        room = now + (burst - 1) * interval  # a request passes while the bucket is full again by then
        expiry = {"#ttl": "ttl"}
        ttl = _ttl(now + burst * interval)  # by then the bucket is full again: the item says nothing more
        for _ in range(5):  # bounded: each round either decides or loses a race to this user's other requests
            try:  # a full (or new) bucket: start it again with one request taken
                await self._table.update(
                    pk,
                    sk,
                    "SET full_at = :next, #ttl = :ttl",
                    values={":next": now + interval, ":now": now, ":ttl": ttl},
                    names=expiry,
                    condition="attribute_not_exists(full_at) OR full_at <= :now",
                    returns_on_failure="ALL_OLD",
                )
                return 0.0
            except ClientError as error:
                if not is_condition_failure(error):
                    raise
                old = failed_item(error) or {}
            _, wait = take_from_bucket(float(old.get("full_at", now)), now, interval, burst)
            if wait > 0:
                return wait
            try:  # room left: take one
                await self._table.update(
                    pk,
                    sk,
                    "SET full_at = full_at + :interval, #ttl = :ttl",
                    values={":interval": interval, ":now": now, ":room": room, ":ttl": ttl},
                    names=expiry,
                    condition="full_at > :now AND full_at <= :room",
                )
                return 0.0
            except ClientError as error:
                if not is_condition_failure(error):
                    raise
        return interval
