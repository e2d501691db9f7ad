"""Retention by age on real servers: entries older than the bound leave both streams, newer ones
stay, and a store that does not answer is skipped (issue #17)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from redis.asyncio import Redis

from proxy.store.client import Store
from proxy.store.retention import keep_trimming, trim_older_than
from tests.redis_server import RELAXED_STORE, RedisServerProcess

from .conftest import MakeStore

HOUR_MS = 3600 * 1000


async def add_at(store: Store, key: str, *ages_ms: int) -> None:
    """Entries whose ids say they were added ``age_ms`` ago (ids are the store's ms clock)."""
    now_ms = int(time.time() * 1000)

    async def add(client: Redis) -> None:
        for age_ms in sorted(ages_ms, reverse=True):
            await client.xadd(key, {"r": b"x"}, id=f"{now_ms - age_ms}-0")

    await store.run(add, default=None, timeout_s=5.0)


async def length(store: Store, key: str) -> int:
    async def xlen(client: Redis) -> int:
        return int(await client.xlen(key))

    result: int = await store.run(xlen, default=-1, timeout_s=5.0)
    return result


async def test_entries_older_than_the_bound_are_trimmed(
    server_url: str, make_store: MakeStore
) -> None:
    store = make_store(server_url, RELAXED_STORE)
    key = store.keys.events_key()
    await add_at(store, key, 3 * HOUR_MS, 2 * HOUR_MS + 1000, HOUR_MS, 1000)
    assert await trim_older_than(store, key, 2 * 3600) == 2
    assert await length(store, key) == 2
    assert await trim_older_than(store, key, 2 * 3600) == 0  # idempotent


async def test_the_background_loop_trims_every_stream_to_its_own_age(
    server_url: str, make_store: MakeStore
) -> None:
    store = make_store(server_url, RELAXED_STORE)
    events, decisions = store.keys.events_key(), store.keys.decisions_key()
    await add_at(store, events, 3 * HOUR_MS, 1000)
    await add_at(store, decisions, 3 * HOUR_MS, 1000)
    stop = asyncio.Event()
    trimming = asyncio.create_task(
        keep_trimming(store, {events: 2 * 3600, decisions: 4 * 3600}, stop, every_s=60)
    )
    deadline = time.monotonic() + 10
    while await length(store, events) != 1:
        assert time.monotonic() < deadline, "the first round should trim the event stream"
        await asyncio.sleep(0.01)
    stop.set()
    await trimming
    assert await length(store, decisions) == 2  # its own, longer bound


async def test_a_store_that_does_not_answer_is_skipped(
    redis_server: RedisServerProcess, make_store: MakeStore
) -> None:
    store = make_store(redis_server.url)
    redis_server.kill()
    assert await trim_older_than(store, store.keys.events_key(), 60) is None


async def test_entries_a_consumer_group_has_not_acknowledged_stay(
    server_url: str, make_store: MakeStore
) -> None:
    """A consumer that was down (a learner restarted after hours) loses nothing: the trim stops
    at the oldest entry its group has pending or not yet read, up to ``unread_max_age_s``."""
    store = make_store(server_url, RELAXED_STORE)
    key = store.keys.decisions_key()
    await add_at(store, key, 5 * HOUR_MS, 4 * HOUR_MS, 3 * HOUR_MS, 1000)

    async def read_two_ack_one(client: Redis) -> None:
        await client.xgroup_create(key, "learner", id="0")
        read: Any = await client.xreadgroup("learner", "c1", {key: ">"}, count=2)
        first_id = read[0][1][0][0]
        await client.xack(key, "learner", first_id)

    await store.run(read_two_ack_one, default=None, timeout_s=5.0)
    # the 5 h entry was acknowledged; the 4 h one is pending; the 3 h one was never read
    assert await trim_older_than(store, key, 2 * 3600, unread_max_age_s=24 * 3600) == 1
    assert await length(store, key) == 3
    # past the hold limit the age bound wins
    assert await trim_older_than(store, key, 2 * 3600, unread_max_age_s=2 * 3600) == 2
    assert await length(store, key) == 1


async def test_a_group_that_has_read_everything_holds_nothing_back(
    server_url: str, make_store: MakeStore, caplog: pytest.LogCaptureFixture
) -> None:
    """An idle group (nothing delivered yet, nothing new) neither holds the trim nor warns."""
    store = make_store(server_url, RELAXED_STORE)
    key = store.keys.decisions_key()
    await add_at(store, key, 30 * HOUR_MS)

    async def group_then_empty(client: Redis) -> None:
        await client.xgroup_create(key, "results", id="$")  # created after the old entry

    await store.run(group_then_empty, default=None, timeout_s=5.0)
    assert await trim_older_than(store, key, 2 * 3600, unread_max_age_s=24 * 3600) == 1
    assert await trim_older_than(store, key, 2 * 3600, unread_max_age_s=24 * 3600) == 0
    assert "has not read" not in caplog.text
