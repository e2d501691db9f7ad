"""Slot metrics against the real (embedded) store: counters written once, read back as windows,
conversions attributed through the session's variants. (The guardrail judges joined decisions in
the learner: tests/govern/test_guardrail.py and tests/integration/test_guardrail_applied.py.)
"""

from __future__ import annotations

import asyncio
import textwrap
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest
from redis.asyncio import Redis

from proxy.govern.metrics_consumer import GROUP, SlotMetricsConsumer
from proxy.govern.windows import metric_fields
from proxy.records.event_record import EventRecord
from proxy.records.events import Click, Conversion, Engaged, Event, Impression
from proxy.records.slot_counts import Counts, SlotWindows
from proxy.rules.engine import RuleEngine
from proxy.rules.load import load_rules
from proxy.store import slot_metrics
from proxy.store.client import Store
from proxy.store.connection import StoreSettings
from proxy.store.event_log import EventLog
from proxy.store.governance import Proposal, check_and_consume
from proxy.store.slot_metrics import Increment, read_slot_windows
from tests.redis_server import RedisServerProcess

MINUTE = 29_000_000
NOW_MS = MINUTE * 60_000 + 20_000
RULES = """
slots:
  - id: hero
    selector: "#hero"
    control: a
    variants:
      a: []
      b: [{op: hide, selector: "#hero"}]
      c: [{op: hide, selector: "#hero"}]
  - id: promo
    selector: "#promo"
    control: x
    variants:
      x: []
      y: [{op: hide, selector: "#promo"}]
  - id: solo
    selector: "#solo"
    control: only
    variants:
      only: []
"""


@dataclass
class Rules:
    current: RuleEngine


@pytest.fixture
def rules(tmp_path: Path) -> Rules:
    (tmp_path / "rules.yaml").write_text(textwrap.dedent(RULES))
    return Rules(RuleEngine.build(load_rules(tmp_path)))


@pytest.fixture
async def store(embedded_store_url: str) -> AsyncIterator[Store]:
    settings = StoreSettings(
        key_prefix=f"t{uuid.uuid4().hex[:12]}:", op_timeout_s=2.0, connect_timeout_s=1.0
    )
    store = Store(embedded_store_url, settings)
    yield store
    await store.close()


def consumer(store: Store, rules: Rules, **kwargs: Any) -> SlotMetricsConsumer:
    return SlotMetricsConsumer(
        store, rules, clock=lambda: NOW_MS / 1000, consumer="c1", block_ms=20, retry_s=0.02,
        **kwargs,
    )  # fmt: skip


def new_id() -> str:
    return uuid.uuid4().hex[:20]


def rec(
    event: Event,
    *,
    session: str = "session-1",
    page: str = "page-0001",
    ms: int = NOW_MS,
    bot: bool = False,
) -> EventRecord:
    return EventRecord(
        event=event, page=page, session=session, visitor=f"v-{session}", received_ms=ms, bot=bot
    )


def impression(slot: str, variant: str, **kwargs: Any) -> EventRecord:
    event = Impression(id=new_id(), ts=1, slot=slot, variant=variant, decision="decision-1")
    return rec(event, **kwargs)


def click(slot: str | None, variant: str | None, **kwargs: Any) -> EventRecord:
    event = Click(id=new_id(), ts=1, target="a.cta", slot=slot, variant=variant)
    return rec(event, **kwargs)


def conversion(**kwargs: Any) -> EventRecord:
    return rec(Conversion(id=new_id(), ts=1, name="checkout", value=12.5), **kwargs)


async def hold(store: Store, session: str, shown: Mapping[str, str]) -> None:
    """Make ``session`` hold ``slot -> variant`` the way the proxy does (governance script)."""
    proposals = [Proposal(slot, variant, new_id(), 1, 0) for slot, variant in shown.items()]
    verdicts = await check_and_consume(
        store, session, proposals, now_ms=NOW_MS, ttl_s=3600, session_changes=9,
        min_interval_ms=0, max_slots_per_page=9,
    )  # fmt: skip
    assert verdicts is not None


async def hold_many(store: Store, held: Mapping[str, str], slot: str = "hero") -> None:
    """Many sessions at once (the simulations): the same ``sticky:<slot>`` fields, pipelined."""

    async def write(client: Redis) -> None:
        async with client.pipeline(transaction=False) as pipe:
            for session, variant in held.items():
                pipe.hset(store.keys.session_key(session), f"sticky:{slot}", f"{variant}|d-1")
            await pipe.execute()

    await store.run(write, default=None)


async def drain(worker: SlotMetricsConsumer, total: int) -> None:
    """Step the consumer until it has acknowledged ``total`` entries in all."""
    for _ in range(1000):
        if worker.processed >= total:
            return
        assert await worker.step()
    pytest.fail(f"consumer stuck at {worker.processed} of {total} entries")


async def poll(timeout_s: float, check: Callable[[], Awaitable[bool] | bool]) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        result = check()
        if result if isinstance(result, bool) else await result:
            return
        if time.monotonic() > deadline:
            pytest.fail(f"condition not met within {timeout_s} s")
        await asyncio.sleep(0.02)


async def control_hash(store: Store) -> dict[str, dict[str, Any]]:
    async def read(client: Redis) -> dict[Any, Any]:
        return dict(await client.hgetall(store.keys.control_key()))

    raw: dict[Any, Any] = await store.run(read, default={})
    return {name.decode(): orjson.loads(value) for name, value in raw.items()}


async def ttl(store: Store, key: str) -> int:
    async def read(client: Redis) -> int:
        return int(await client.ttl(key))

    return int(await store.run(read, default=-3))


def current(windows: SlotWindows, variant: str) -> Counts:
    return windows.counts.get(variant, {}).get(MINUTE, Counts())


# -- the store side --------------------------------------------------------------------------


async def test_counts_are_written_once_and_read_back_as_windows(store: Store) -> None:
    increments = [
        Increment("hero", "a", "impressions", MINUTE, "e1"),
        Increment("hero", "a", "impressions", MINUTE, "e2"),
        Increment("hero", "a", "clicks", MINUTE, "click:p1"),
        Increment("hero", "b", "impressions", MINUTE - 3, "e3"),
        Increment("hero", "b", "conversions", MINUTE - 3, "e4"),
        Increment("promo", "y", "impressions", MINUTE, "e5"),
    ]
    assert await slot_metrics.count(store, increments) == 6
    assert await slot_metrics.count(store, increments) == 0  # redelivered: nothing new
    windows = await read_slot_windows(store, "hero", NOW_MS)
    assert windows is not None
    assert windows.counts == {
        "a": {MINUTE: Counts(2, 1, 0)},
        "b": {MINUTE - 3: Counts(1, 0, 1)},
    }
    fields = metric_fields("hero", windows, NOW_MS)
    assert fields["metric.hero.a.ctr_1m"] == 0.5
    assert fields["metric.hero.b.cvr_5m"] == 1.0
    key = store.keys.metrics_key("hero", f"1m:{MINUTE}")
    assert 7000 < await ttl(store, key) <= 7200
    assert 800 < await ttl(store, f"{key}:seen") <= 900


async def test_windows_reach_sixty_minutes_back_and_no_further(store: Store) -> None:
    increments = [
        Increment("hero", "a", "impressions", MINUTE - age, f"e{age}") for age in (0, 60, 61)
    ]
    assert await slot_metrics.count(store, increments) == 3
    windows = await read_slot_windows(store, "hero", NOW_MS)
    assert windows is not None
    assert sorted(windows.counts["a"]) == [MINUTE - 60, MINUTE]


async def test_unavailable_store_reads_none(store: Store) -> None:
    dead = Store("redis://127.0.0.1:1/0", StoreSettings(connect_timeout_s=0.2, op_timeout_s=0.2))
    try:
        assert await read_slot_windows(dead, "hero", NOW_MS) is None
        assert await slot_metrics.count(dead, [Increment("hero", "a", "clicks", 1, "m")]) is None
        assert await slot_metrics.pause_variant(dead, "hero", "b", "why", "me") is False
    finally:
        await dead.close()


async def test_pause_never_overwrites(store: Store) -> None:
    assert await slot_metrics.pause_variant(store, "hero", "b", "by hand", "ops", at_ms=5)
    assert not await slot_metrics.pause_variant(store, "hero", "b", "worse", "guardrail")
    assert await control_hash(store) == {
        "variant:hero:b": {"why": "by hand", "by": "ops", "at_ms": 5}
    }


# -- the consumer ----------------------------------------------------------------------------


async def test_consumer_counts_impressions_clicks_and_attributed_conversions(
    store: Store, rules: Rules
) -> None:
    await hold(store, "session-1", {"hero": "b", "promo": "y"})
    await hold(store, "session-2", {"hero": "a"})
    records = [
        impression("hero", "b", session="session-1"),
        impression("hero", "b", session="session-1", page="page-0002"),
        impression("promo", "y", session="session-1"),
        click("hero", "b", session="session-1"),
        click("hero", "b", session="session-1"),  # same page view: one click
        click("hero", "b", session="session-1", page="page-0002"),
        conversion(session="session-1"),  # counts for hero/b and promo/y
        impression("hero", "a", session="session-2"),
        conversion(session="session-2"),  # hero/a
        conversion(session="session-3"),  # holds nothing: not attributable
        click(None, None, session="session-2"),  # not on a slot
        impression("hero", "a", session="bot-1", bot=True),
        conversion(session="session-2", bot=True),
        impression("hero", "forged", session="session-2"),  # not a variant of the rules
        impression("nowhere", "a", session="session-2"),
        impression("hero", "a", session="session-2", ms=NOW_MS - 62 * 60_000),  # too old
        rec(Engaged(id=new_id(), ts=1, ms=5000)),
    ]
    assert await EventLog(store).append(records) == len(records)
    worker = consumer(store, rules)
    await drain(worker, len(records))

    hero = await read_slot_windows(store, "hero", NOW_MS)
    promo = await read_slot_windows(store, "promo", NOW_MS)
    assert hero is not None and promo is not None
    assert hero.counts == {"a": {MINUTE: Counts(1, 0, 1)}, "b": {MINUTE: Counts(2, 2, 1)}}
    assert promo.counts == {"y": {MINUTE: Counts(1, 0, 1)}}
    assert worker.counted == 9
    assert worker.duplicates == 1  # the second click of page-0001
    assert worker.skipped == 8


async def test_redelivered_entries_are_not_counted_twice(store: Store, rules: Rules) -> None:
    class AckFailsOnce(EventLog):
        failed = False

        async def ack(
            self, group: str, entry_ids: Sequence[str], *, timeout_s: float | None = None
        ) -> int | None:
            if entry_ids and not self.failed:
                self.failed = True
                return None  # the counts are written, the acknowledgement is lost
            return await super().ack(group, entry_ids, timeout_s=timeout_s)

    await hold(store, "session-1", {"hero": "c"})
    records = [impression("hero", "c", session="session-1") for _ in range(5)]
    records += [click("hero", "c", session="session-1"), conversion(session="session-1")]
    log = AckFailsOnce(store)
    assert await log.append(records) == 7
    worker = consumer(store, rules, event_log=log)
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop), name="test-slot-metrics")
    try:
        await poll(5.0, lambda: worker.processed == 7)
    finally:
        stop.set()
        await asyncio.wait_for(task, 5.0)
    assert log.failed and worker.failures >= 1
    windows = await read_slot_windows(store, "hero", NOW_MS)
    assert windows is not None and current(windows, "c") == Counts(5, 1, 1)
    assert worker.counted == 7 and worker.duplicates == 7


async def test_entries_of_a_dead_consumer_are_claimed(store: Store, rules: Rules) -> None:
    log = EventLog(store)
    assert await log.create_group(GROUP)
    assert await log.append([impression("hero", "a") for _ in range(3)]) == 3
    taken = await log.read_group(GROUP, "dead", count=10, block_ms=10)
    assert taken is not None and len(taken) == 3  # read, never acknowledged
    worker = consumer(store, rules, claim_idle_ms=0)
    await drain(worker, 3)
    windows = await read_slot_windows(store, "hero", NOW_MS)
    assert windows is not None and current(windows, "a") == Counts(3, 0, 0)


async def test_store_down_fails_open_and_keeps_going(rules: Rules) -> None:
    dead = Store("redis://127.0.0.1:1/0", StoreSettings(connect_timeout_s=0.2, op_timeout_s=0.2))
    worker = consumer(dead, rules)
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop), name="test-slot-metrics-down")
    try:
        await poll(5.0, lambda: worker.failures >= 3)
        assert not task.done()
    finally:
        stop.set()
        await asyncio.wait_for(task, 5.0)
        await dead.close()


# -- on a Redis Cluster ----------------------------------------------------------------------


@pytest.mark.redis_server
async def test_counts_windows_and_pauses_on_a_cluster(
    redis_cluster: RedisServerProcess, rules: Rules
) -> None:
    """Every script touches one hash tag and the multi-session read is a plain pipeline, so all
    of it works on a Cluster."""
    settings = StoreSettings(op_timeout_s=2.0, connect_timeout_s=1.0, startup_timeout_s=10.0)
    store = Store(f"redis+cluster://127.0.0.1:{redis_cluster.port}", settings)
    try:
        assert await store.open()
        await hold(store, "session-1", {"hero": "b", "promo": "y"})
        await hold(store, "session-2", {"hero": "a"})
        records = [
            impression("hero", "b", session="session-1"),
            impression("promo", "y", session="session-1"),
            impression("hero", "a", session="session-2"),
            click("hero", "a", session="session-2"),
            conversion(session="session-1"),
            conversion(session="session-2"),
        ]
        assert await EventLog(store).append(records) == len(records)
        worker = consumer(store, rules)
        await drain(worker, len(records))
        hero = await read_slot_windows(store, "hero", NOW_MS)
        promo = await read_slot_windows(store, "promo", NOW_MS)
        assert hero is not None and promo is not None
        assert hero.counts == {"a": {MINUTE: Counts(1, 1, 1)}, "b": {MINUTE: Counts(1, 0, 1)}}
        assert promo.counts == {"y": {MINUTE: Counts(1, 0, 1)}}
        assert await slot_metrics.pause_variant(store, "hero", "b", "test", "guardrail")
        assert await slot_metrics.mark_guardrail_pause(store, "hero", "b", NOW_MS)
        marked = await read_slot_windows(store, "hero", NOW_MS)
        assert marked is not None and marked.paused_at_ms == {"b": NOW_MS}
    finally:
        await store.close()
