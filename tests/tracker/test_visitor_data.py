"""The profile consumer, the visitor summary and erasure, against real servers."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from proxy.records.event_record import EventRecord
from proxy.records.events import Click, Engaged, Event, PageView, Scroll
from proxy.store.client import Store
from proxy.store.event_log import EventLog
from proxy.store.profiles import load_profile
from proxy.tracker.profile_consumer import ProfileConsumer
from proxy.tracker.profile_update import ProfileState, apply, profile_fields
from proxy.tracker.visitor_data import forget_visitor, visitor_summary
from tests.redis_server import RELAXED_STORE, RedisServerProcess
from tests.tracker.test_profile_update import scripted_session

# a bound on waiting, never a measurement: the condition usually holds within milliseconds
DEADLINE_S = 60.0
SETTINGS = dataclasses.replace(RELAXED_STORE, breaker_open_s=0.2)


@pytest.fixture(params=["embedded", pytest.param("redis", marks=pytest.mark.redis_server)])
async def store(request: pytest.FixtureRequest) -> AsyncIterator[Store]:
    if request.param == "embedded":
        url = request.getfixturevalue("embedded").url
    else:
        url = request.getfixturevalue("redis_server").url
    store = Store(url, SETTINGS)
    yield store
    await store.close()


@pytest.fixture
async def redis_store(redis_server: RedisServerProcess) -> AsyncIterator[Store]:
    store = Store(redis_server.url, SETTINGS)
    yield store
    await store.close()


class Running:
    """Consumers running as tasks until the test ends."""

    def __init__(self) -> None:
        self.stop = asyncio.Event()
        self.tasks: list[asyncio.Task[None]] = []

    def start(self, consumer: ProfileConsumer) -> ProfileConsumer:
        self.tasks.append(asyncio.create_task(consumer.run(self.stop), name="test-consumer"))
        return consumer

    async def close(self) -> None:
        self.stop.set()
        async with asyncio.timeout(5):
            await asyncio.gather(*self.tasks)


@pytest.fixture
async def running() -> AsyncIterator[Running]:
    running = Running()
    yield running
    await running.close()


def consumer(
    store: Store, name: str = "c1", *, count: int = 100, claim_idle_ms: int = 60_000
) -> ProfileConsumer:
    return ProfileConsumer(
        store, EventLog(store), consumer=name, count=count, claim_idle_ms=claim_idle_ms,
        block_ms=50, retry_s=0.05,
    )  # fmt: skip


def rec(event: Event, *, visitor: str = "visitor-1", page: str = "page-0001") -> EventRecord:
    return EventRecord(
        event=event, page=page, session="sess-1", visitor=visitor, received_ms=1_732_250_000_000
    )


def expected(records: list[EventRecord]) -> dict[str, str]:
    state = ProfileState()
    for record in records:
        state = apply(state, record)
    return profile_fields(state)


async def poll(timeout_s: float, check: Callable[[], Awaitable[bool]]) -> None:
    deadline = time.monotonic() + timeout_s
    while not await check():
        if time.monotonic() > deadline:
            pytest.fail(f"condition not met within {timeout_s} s")
        await asyncio.sleep(0.02)


async def profile_is(store: Store, visitor: str, fields: dict[str, str]) -> None:
    async def check() -> bool:
        return dict(await load_profile(store, visitor)) == fields

    await poll(DEADLINE_S, check)


async def test_scripted_session_builds_the_profile(store: Store, running: Running) -> None:
    records = scripted_session()
    log = EventLog(store)
    for start in range(0, len(records), 5):
        assert await log.append(records[start : start + 5]) is not None
    worker = running.start(consumer(store))
    await profile_is(store, "visitor-1", expected(records))
    summary = await visitor_summary(store, "visitor-1", "sess-2")
    assert summary["available"] is True
    assert summary["profile"]["pageviews"] == "3"
    assert (summary["segments"], summary["sticky"]) == ([], {})  # no exposure, nothing held
    assert [e["id"] for e in summary["recent_events"]] == [r.event.id for r in reversed(records)]
    assert summary["recent_events"][0]["type"] == "conversion"
    assert worker.applied == len(records)


async def test_redelivered_entries_are_not_counted_twice(store: Store, running: Running) -> None:
    records = [rec(Click(id=f"click-{i:04d}", ts=1, slot="hero", target="a")) for i in range(30)]
    log = EventLog(store)
    await log.append(records)
    worker = running.start(consumer(store))
    await profile_is(store, "visitor-1", expected(records))
    # every entry delivered again, as after a crash between the profile write and XACK
    await store.run(lambda r: r.xgroup_setid(log.key, "profiles", "0"), default=None)

    async def seen_again() -> bool:
        return worker.duplicates == 30

    await poll(DEADLINE_S, seen_again)
    assert (await load_profile(store, "visitor-1"))["clicks:hero"] == "30"


async def test_two_consumers_on_one_visitor_lose_no_update(store: Store, running: Running) -> None:
    records = [
        rec(Engaged(id=f"engaged-{i:04d}", ts=1, ms=1000), page=f"page-{i % 3:04d}")
        for i in range(300)
    ]
    log = EventLog(store)
    first = running.start(consumer(store, "c1", count=7))
    second = running.start(consumer(store, "c2", count=7))
    for start in range(0, len(records), 10):
        await log.append(records[start : start + 10])
    fields = await load_profile(store, "visitor-1")

    async def all_applied() -> bool:
        nonlocal fields
        fields = await load_profile(store, "visitor-1")
        return fields.get("engaged_s") == "300"

    await poll(DEADLINE_S, all_applied)
    # every event was applied exactly once: the profile above proves it. A write whose reply was
    # lost on a loaded machine is redelivered and then counted as a duplicate, so the counters
    # may fall short of 300 applied but never exceed it, and every event is counted once at least
    applied = first.applied + second.applied
    assert applied <= 300
    assert applied + first.duplicates + second.duplicates >= 300


async def test_entries_of_a_dead_consumer_are_claimed(store: Store, running: Running) -> None:
    records = [rec(Scroll(id=f"scroll-{i:04d}", ts=1, depth=0.1 * i)) for i in range(1, 6)]
    records.insert(0, rec(PageView(id="pageview-0001", ts=1, url="/about")))
    log = EventLog(store)
    await log.create_group("profiles")
    await log.append(records)
    assert await log.read_group("profiles", "dead", count=100, block_ms=10) is not None
    running.start(consumer(store, "alive", claim_idle_ms=0))
    await profile_is(store, "visitor-1", expected(records))


async def test_consumer_resumes_after_a_redis_restart(
    redis_store: Store, redis_server: RedisServerProcess, running: Running
) -> None:
    log = EventLog(redis_store)
    before = [rec(Click(id=f"before-{i:04d}", ts=1, slot="hero", target="a")) for i in range(10)]
    after = [rec(Click(id=f"after-{i:04d}", ts=1, slot="hero", target="a")) for i in range(10)]
    worker = running.start(consumer(redis_store))
    await log.append(before)
    await profile_is(redis_store, "visitor-1", expected(before))
    await asyncio.to_thread(redis_server.kill)

    async def noticed() -> bool:
        return worker.failures > 0

    await poll(DEADLINE_S, noticed)
    await asyncio.to_thread(redis_server.start)

    async def appended() -> bool:
        return await log.append(after) is not None

    await poll(DEADLINE_S, appended)
    await profile_is(redis_store, "visitor-1", expected(before + after))


async def test_forget_visitor_removes_the_data(store: Store, running: Running) -> None:
    log = EventLog(store)
    await log.append([rec(PageView(id="pageview-0001", ts=1, url="/"))])
    await log.append([rec(PageView(id="pageview-0002", ts=1, url="/"), visitor="visitor-2")])
    running.start(consumer(store))
    await profile_is(store, "visitor-2", expected([rec(PageView(id="pv-x0002", ts=1, url="/"))]))
    await store.run(lambda r: r.hset(store.keys.session_key("sess-1"), "arm", "b"), default=None)

    assert await forget_visitor(store, "visitor-1", ["sess-1"]) is True

    summary = await visitor_summary(store, "visitor-1", "sess-1")
    assert (summary["profile"], summary["recent_events"]) == ({}, [])
    assert await store.run(lambda r: r.exists(store.keys.session_key("sess-1")), default=-1) == 0
    assert await load_profile(store, "visitor-2") != {}  # only that visitor
    # an event of the forgotten visitor still in flight does not bring the profile back
    await log.append([rec(PageView(id="pageview-0003", ts=1, url="/"))])
    await log.append([rec(PageView(id="pageview-0004", ts=1, url="/"), visitor="visitor-2")])

    async def later_event_applied() -> bool:
        return (await load_profile(store, "visitor-2")).get("pageviews") == "2"

    await poll(DEADLINE_S, later_event_applied)
    assert await load_profile(store, "visitor-1") == {}
