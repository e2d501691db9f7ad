"""The decision sink over a real redis-server: the stream first, the spool while the store is
away, replayed in serving order when it is back, and nothing logged twice or lost."""

from __future__ import annotations

import asyncio
import itertools
import os
import signal
from collections.abc import AsyncIterator, Iterator, Sequence
from pathlib import Path

import pytest

from proxy.decide.decision_sink import DecisionSink, decision_spool
from proxy.records.decision import LoggedDecision, decode_logged, encode_record
from proxy.store.client import Store
from proxy.store.connection import StoreSettings
from proxy.store.embedded import EmbeddedStore
from proxy.tracker.spool import RecordSpool
from tests.integration.decision_stream import read_decision_log
from tests.redis_server import RELAXED_STORE, RedisServerProcess, short_data_dir, wait_until

# a generous op timeout: a busy machine must not turn a slow reply into a spooled decision here
SETTINGS = StoreSettings(breaker_open_s=0.2, op_timeout_s=5.0)
_ids = itertools.count()


def decisions(n: int) -> list[LoggedDecision]:
    """``n`` new decisions, their ids in the order they are made."""
    return [
        LoggedDecision(
            id=f"d{next(_ids):08d}",
            slot="hero",
            actions=("a", "b"),
            chosen="b",
            p=0.5,
            context={"D": ("dev=desktop",)},
            pmf=(0.5, 0.5),
        )
        for _ in range(n)
    ]


@pytest.fixture
def data_dir() -> Iterator[Path]:
    with short_data_dir() as directory:
        yield directory


@pytest.fixture
async def store(redis_server: RedisServerProcess) -> AsyncIterator[Store]:
    store = Store(redis_server.url, SETTINGS)
    yield store
    await store.close()


@pytest.fixture
async def sink(store: Store, data_dir: Path) -> AsyncIterator[DecisionSink]:
    sink = DecisionSink(store, decision_spool(data_dir), replay_interval_s=0.05)
    yield sink
    await sink.spool.close()


async def logged_ids(store: Store) -> list[str]:
    return [r.id for r in await read_decision_log(store) if isinstance(r, LoggedDecision)]


async def replay_when_back(sink: DecisionSink, timeout_s: float = 10.0) -> None:
    """Replay until the spool is empty (the store's breaker may still refuse the first tries)."""
    async with asyncio.timeout(timeout_s):
        while sink.backlog or await sink.spool.pending_bytes():
            await sink.replay_once()
            await asyncio.sleep(0.02)


async def test_logs_to_the_stream_once_per_decision_id(sink: DecisionSink, store: Store) -> None:
    batch = decisions(5)
    assert await sink.log(batch)
    assert await sink.log(batch[:2])  # the same decisions again: a retry logs nothing
    assert (sink.logged, sink.duplicates, sink.spooled, sink.failed) == (5, 2, 0, 0)
    assert await logged_ids(store) == [d.id for d in batch]


async def test_spools_while_down_and_replays_in_serving_order(
    sink: DecisionSink, store: Store, redis_server: RedisServerProcess
) -> None:
    before, during, after = decisions(3), decisions(4), decisions(2)
    assert await sink.log(before)
    assert await sink.flush()  # redis-server 7.0 cannot confirm an fsync: nothing is held
    redis_server.kill()
    for record in during:
        assert await sink.log([record])
    assert sink.spooled == 4
    await asyncio.to_thread(redis_server.start)
    # the store answers again, but older decisions wait in the spool: these join them
    assert await sink.log(after)
    assert sink.spooled == 6
    await replay_when_back(sink)
    assert sink.replayed == 6 and sink.failed == 0
    later = decisions(1)
    assert await sink.log(later)  # drained: straight to the stream again
    assert sink.spooled == 6
    assert await logged_ids(store) == [d.id for d in [*before, *during, *after, *later]]


class CountingSpool(RecordSpool[LoggedDecision]):
    """The decision spool, counting its appends (each is one fsync)."""

    def __init__(self, data_dir: Path) -> None:
        super().__init__(data_dir / "decision-spool", encode=encode_record, decode=decode_logged)
        self.appends = 0

    async def append(self, records: Sequence[LoggedDecision]) -> bool:
        self.appends += 1
        return await super().append(records)


async def test_calls_spooling_together_share_one_append_in_arrival_order(
    store: Store, redis_server: RedisServerProcess, data_dir: Path
) -> None:
    spool = CountingSpool(data_dir)
    sink = DecisionSink(store, spool)
    redis_server.kill()
    batch = decisions(50)
    async with sink._order:  # as a replay's last round does: writes wait, calls gather
        calls = []
        async with asyncio.timeout(10):
            for queued, record in enumerate(batch, start=1):
                calls.append(asyncio.create_task(sink.log([record])))
                while True:  # until the store refused it and it waits for the spool
                    if sink.waiting >= queued:
                        break
                    await asyncio.sleep(0.001)
    assert all(await asyncio.gather(*calls))
    assert (spool.appends, sink.spooled, sink.failed) == (1, 50, 0)
    await asyncio.to_thread(redis_server.start)
    await replay_when_back(sink)
    assert await logged_ids(store) == [d.id for d in batch]
    await spool.close()


async def test_a_replay_of_decisions_already_logged_adds_nothing(
    sink: DecisionSink, store: Store
) -> None:
    """What a call that timed out after Redis ran it leaves behind: logged and spooled."""
    batch = decisions(4)
    assert await sink.log(batch)
    assert await sink.spool.append(batch)
    assert await sink.replay_once() == 4
    assert (sink.logged, sink.duplicates) == (4, 4)
    assert await logged_ids(store) == [d.id for d in batch]


async def test_counts_decisions_neither_the_store_nor_a_full_spool_took(
    store: Store, redis_server: RedisServerProcess, data_dir: Path
) -> None:
    line = len(encode_record(decisions(1)[0])) + 1
    sink = DecisionSink(store, decision_spool(data_dir, max_bytes=line * 3))
    redis_server.kill()
    assert await sink.log(decisions(2))
    assert not await sink.log(decisions(2))
    assert (sink.spooled, sink.failed) == (2, 2)
    await sink.spool.close()


async def test_the_replay_loop_drains_the_spool_once_the_store_is_back(
    sink: DecisionSink, store: Store, redis_server: RedisServerProcess
) -> None:
    redis_server.kill()
    batch = decisions(250)  # more than one replay chunk
    assert await sink.log(batch)
    await asyncio.to_thread(redis_server.start)
    stop = asyncio.Event()
    loop = asyncio.create_task(sink.replay_loop(stop))
    try:
        async with asyncio.timeout(10):
            while True:
                if not await sink.spool.pending_bytes():
                    break
                await asyncio.sleep(0.02)
    finally:
        stop.set()
        await loop
    assert sink.replayed == len(batch)
    assert await logged_ids(store) == [d.id for d in batch]


@pytest.fixture
def valkey(data_dir: Path) -> Iterator[EmbeddedStore]:
    """The embedded Valkey (it confirms fsyncs with WAITAOF), restartable from its AOF."""
    server = EmbeddedStore(data_dir / "store")
    server.start()
    try:
        yield server
    finally:
        server.stop()


async def test_decisions_are_held_until_the_store_fsynced_them(
    valkey: EmbeddedStore, data_dir: Path
) -> None:
    store = Store(valkey.url, RELAXED_STORE)
    sink = DecisionSink(store, decision_spool(data_dir))
    try:
        batch = decisions(40)
        for record in batch:
            assert await sink.log([record])  # the page's write: not waiting for the fsync
        assert sink.confirms_fsync
        assert await sink.flush()
        assert (sink.fsynced, sink.unfsynced, sink.spooled, sink.unconfirmed) == (40, 0, 0, 0)
        assert await logged_ids(store) == [d.id for d in batch]
    finally:
        await sink.spool.close()
        await store.close()


async def test_a_store_killed_right_after_the_pages_loses_no_decision(
    valkey: EmbeddedStore, data_dir: Path
) -> None:
    """Pages served (every ``log`` answered), then ``kill -9`` of the store at once: after its
    restart every decision is in the stream exactly once: fsync-ed before the kill, or held,
    spooled when the confirmation failed, and replayed."""
    store = Store(valkey.url, StoreSettings(op_timeout_s=2.0, breaker_open_s=0.2))
    sink = DecisionSink(store, decision_spool(data_dir), replay_interval_s=0.05)
    batch = decisions(400)
    try:

        async def page(mine: list[LoggedDecision]) -> None:
            for record in mine:
                assert await sink.log([record])

        async with asyncio.timeout(30):
            await asyncio.gather(*(page(batch[i::8]) for i in range(8)))
        assert valkey.pid is not None
        os.kill(valkey.pid, signal.SIGKILL)
        wait_until(lambda: not valkey.running, 5.0, "valkey to die")
        valkey.stop()
        await asyncio.to_thread(valkey.start)  # same data dir: restarts from its AOF

        async def all_logged() -> bool:
            return (
                not sink.unconfirmed
                and not sink.backlog
                and await sink.spool.pending_bytes() == 0
                and len(await logged_ids(store)) >= len(batch)
            )

        async with asyncio.timeout(30):  # replayed every 50 ms once the breaker lets calls by
            while not await all_logged():
                await sink.replay_once()
                await asyncio.sleep(0.05)
        ids = await logged_ids(store)
        assert sorted(ids) == sorted(d.id for d in batch) and len(set(ids)) == len(ids)
        assert sink.fsynced + sink.unfsynced == len(batch) and sink.failed == 0
    finally:
        await sink.spool.close()
        await store.close()
