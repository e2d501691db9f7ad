"""The event stream against real servers: append-once (EV-09), one round trip per batch, trimming,
and the consumer-group calls the profile updater relies on."""

from __future__ import annotations

from typing import Any

import pytest
from redis.asyncio import Redis

from proxy.records.event_record import EventRecord, decode_record
from proxy.records.events import PageView
from proxy.store.event_log import EventLog
from proxy.store.keys import KeySchema
from tests.event_records import engaged_batch, engaged_record
from tests.redis_server import RELAXED_STORE, RedisServerProcess

from .conftest import MakeStore

# generous call timeouts: these tests check behaviour, not timing, on a possibly busy machine
RELAXED = RELAXED_STORE


def record(event_id: str, *, visitor: str = "visitor-1") -> EventRecord:
    return engaged_record(event_id, visitor=visitor, ms=1000)


def batch(n: int, start: int = 0) -> list[EventRecord]:
    return engaged_batch(n, start, ms=1000)


async def command_calls(log: EventLog, command: str) -> int:
    async def info(client: Redis) -> Any:
        return await client.info("commandstats")

    stats: dict[str, Any] = await log.store.run(info, default={}, timeout_s=1.0)
    return int(stats.get(f"cmdstat_{command}", {}).get("calls", 0))


async def stream_ids(log: EventLog) -> list[str]:
    async def read(client: Redis) -> list[str]:
        entries: list[Any] = await client.xrange(log.key) or []
        return [decode_record(fields[b"r"]).event.id for _, fields in entries]

    ids: list[str] = await log.store.run(read, default=[], timeout_s=2.0)
    return ids


async def test_same_event_three_times_is_stored_once(
    server_url: str, make_store: MakeStore
) -> None:
    log = EventLog(make_store(server_url, RELAXED))
    one = record("retried-1")
    assert await log.append([one]) == 1
    assert await log.append([one]) == 0
    assert await log.append([one, record("other-01")]) == 1
    assert await log.length() == 2
    assert sorted(await stream_ids(log)) == ["other-01", "retried-1"]


async def test_duplicate_inside_one_batch_is_stored_once(
    server_url: str, make_store: MakeStore
) -> None:
    log = EventLog(make_store(server_url, RELAXED))
    assert await log.append([record("twice-01"), record("twice-01")]) == 1
    assert await log.length() == 1


async def test_batch_of_50_is_one_round_trip(server_url: str, make_store: MakeStore) -> None:
    log = EventLog(make_store(server_url, RELAXED))
    assert await log.append(batch(1, start=999)) == 1  # loads the script (EVALSHA miss + EVAL)
    evalsha_before = await command_calls(log, "evalsha")
    eval_before = await command_calls(log, "eval")
    assert await log.append(batch(50)) == 50
    assert await command_calls(log, "evalsha") == evalsha_before + 1
    assert await command_calls(log, "eval") == eval_before
    assert await log.length() == 51


async def test_seen_keys_share_the_stream_slot_and_expire(
    server_url: str, make_store: MakeStore
) -> None:
    store = make_store(server_url, RELAXED)
    log = EventLog(store, dedupe_ttl_s=3600)
    await log.append([record("slot-check")])
    seen = store.keys.event_seen_key("slot-check")
    assert seen == "vernier:{events:0}:seen:slot-check"
    ttl = await store.run(lambda r: r.ttl(seen), default=-2)
    assert 3590 <= ttl <= 3600


async def test_stream_is_bounded_by_max_len(server_url: str, make_store: MakeStore) -> None:
    log = EventLog(make_store(server_url, RELAXED), max_len=100)
    for start in range(0, 1000, 50):
        assert await log.append(batch(50, start)) == 50
    length = await log.length()
    assert length is not None and 100 <= length < 300  # "~": trimmed by whole radix-tree nodes


async def test_unavailable_store_returns_none(
    redis_server: RedisServerProcess, make_store: MakeStore
) -> None:
    log = EventLog(make_store(redis_server.url, RELAXED))
    redis_server.kill()
    assert await log.append(batch(3)) is None
    assert await log.length() is None


async def test_appends_wait_for_the_fsync_where_the_server_can_confirm_it(
    server_url: str, make_store: MakeStore, caplog: pytest.LogCaptureFixture
) -> None:
    """WAITAOF (Valkey, Redis >= 7.2) makes an append answer only once fsync-ed; an older server
    says it does not know the command, and the log appends without waiting, saying so once."""
    store = make_store(server_url, RELAXED)
    log = EventLog(store)

    async def knows_waitaof(client: Redis) -> bool:
        version = str((await client.info("server"))["redis_version"])  # Valkey says 7.2.4
        return tuple(int(part) for part in version.split(".")[:2]) >= (7, 2)

    can_confirm = await store.run(knows_waitaof, default=None, timeout_s=5.0)
    for start in range(0, 30, 10):
        assert await log.append(batch(10, start)) == 10
    assert await log.append(batch(10)) == 0  # seen: stored once
    assert log.wait_for_fsync is can_confirm and log.unfsynced_total == 0
    warnings = [r for r in caplog.records if "cannot confirm fsync" in r.getMessage()]
    assert len(warnings) == (0 if can_confirm else 1)


async def test_consumer_group_reads_acks_and_reclaims(
    server_url: str, make_store: MakeStore
) -> None:
    log = EventLog(make_store(server_url, RELAXED))
    assert await log.create_group("g") is True
    assert await log.create_group("g") is True  # BUSYGROUP is fine
    await log.append(batch(5))
    first = await log.read_group("g", "c1", count=3, block_ms=10)
    assert first is not None and [r.event.id for _, r in first if r] == [
        "event-000000",
        "event-000001",
        "event-000002",
    ]
    assert await log.read_group("g", "c1", count=10, block_ms=10, pending=True) == first
    assert await log.ack("g", [first[0][0]]) == 1
    # c1 "dies": c2 takes over its pending entries once they are idle long enough
    assert await log.claim_stale("g", "c2", min_idle_ms=60_000, count=10) == []
    claimed = await log.claim_stale("g", "c2", min_idle_ms=0, count=10)
    assert claimed == first[1:]
    rest = await log.read_group("g", "c2", count=10, block_ms=10)
    assert rest is not None and len(rest) == 2
    assert await log.read_group("g", "c2", count=10, block_ms=10) == []


async def test_lost_group_is_recreated(server_url: str, make_store: MakeStore) -> None:
    store = make_store(server_url, RELAXED)
    log = EventLog(store)
    await log.append(batch(2))
    assert await log.read_group("nogroup", "c", count=10, block_ms=10) == []
    again = await log.read_group("nogroup", "c", count=10, block_ms=10)
    assert again is not None and len(again) == 2


async def test_entry_that_is_not_a_record_reads_as_none(
    server_url: str, make_store: MakeStore
) -> None:
    store = make_store(server_url, RELAXED)
    log = EventLog(store)
    await log.create_group("g")
    await store.run(lambda r: r.xadd(log.key, {"r": b"not json"}), default=None)
    await log.append([EventRecord(
        event=PageView(id="pageview-1", ts=1, url="/"), page="page-0001",
        session="s-1", visitor="v-1", received_ms=1,
    )])  # fmt: skip
    entries = await log.read_group("g", "c", count=10, block_ms=10)
    assert entries is not None and [r is None for _, r in entries] == [True, False]


def test_event_seen_key_rejects_ids_that_break_the_tag() -> None:
    with pytest.raises(ValueError, match="event id"):
        KeySchema().event_seen_key("a}b")
