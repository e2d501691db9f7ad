"""The sink: Redis first, spool when Redis is away, replay when it is back — and no event lost or
stored twice across a Redis kill (docs/reliability.md EV-10, FO-07 at test scale)."""

from __future__ import annotations

import asyncio
import os
import signal
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from redis.asyncio import Redis

from proxy.records.event_record import EventRecord, decode_record, encode_record
from proxy.store.client import Store
from proxy.store.connection import StoreSettings
from proxy.store.embedded import EmbeddedStore
from proxy.store.event_log import EventLog
from proxy.tracker.sink import EventSink
from proxy.tracker.spool import EventSpool
from tests.event_records import engaged_batch
from tests.redis_server import RedisServerProcess

# a short breaker pause so recovery is quick in tests; everything else is the production tuning
SETTINGS = StoreSettings(breaker_open_s=0.2)


@pytest.fixture
async def store(redis_server: RedisServerProcess) -> AsyncIterator[Store]:
    store = Store(redis_server.url, SETTINGS)
    yield store
    await store.close()


@pytest.fixture
async def sink(store: Store, spool_dir: Path) -> AsyncIterator[EventSink]:
    sink = EventSink(EventLog(store), EventSpool(spool_dir), replay_interval_s=0.05)
    yield sink
    await sink.stop()


def files(directory: Path) -> list[Path]:
    return sorted(directory.iterdir()) if directory.exists() else []


async def stream_event_ids(store: Store) -> list[str]:
    async def read(client: Redis) -> list[str]:
        entries: list[Any] = await client.xrange(store.keys.events_key()) or []
        return [decode_record(fields[b"r"]).event.id for _, fields in entries]

    result: list[str] = await store.run(read, default=[], timeout_s=5.0)
    return result


async def poll(
    condition_s: float, check: Callable[[], Awaitable[bool]], state: Callable[[], object] = str
) -> None:
    """Await ``check()`` until true, failing after ``condition_s`` with ``state()`` in the message."""
    deadline = time.monotonic() + condition_s
    while not await check():
        if time.monotonic() > deadline:
            pytest.fail(f"condition not met within {condition_s} s: {state()}")
        await asyncio.sleep(0.02)


async def test_stores_in_redis_and_counts_duplicates(sink: EventSink, store: Store) -> None:
    assert await sink.store(engaged_batch(10)) is True
    assert await sink.store(engaged_batch(10, 5)) is True
    assert (sink.stored, sink.duplicates, sink.spooled, sink.failed) == (15, 5, 0, 0)
    assert len(await stream_event_ids(store)) == 15


async def test_spools_while_down_and_replays_when_back(
    sink: EventSink, store: Store, redis_server: RedisServerProcess, spool_dir: Path
) -> None:
    await sink.start()
    redis_server.kill()
    assert await sink.store(engaged_batch(20)) is True
    assert sink.spooled == 20 and files(spool_dir)
    await asyncio.to_thread(redis_server.start)

    async def replayed() -> bool:
        return sink.replayed == 20 and not files(spool_dir)

    await poll(10.0, replayed)
    assert sorted(await stream_event_ids(store)) == sorted(r.event.id for r in engaged_batch(20))


async def test_refuses_when_neither_redis_nor_spool_can_take_it(
    store: Store, redis_server: RedisServerProcess, spool_dir: Path
) -> None:
    line = len(encode_record(engaged_batch(1)[0])) + 1
    sink = EventSink(EventLog(store), EventSpool(spool_dir, max_bytes=line * 15))
    redis_server.kill()
    assert await sink.store(engaged_batch(10)) is True
    assert await sink.store(engaged_batch(10, 10)) is False  # spool full: the intake answers 503
    assert (sink.spooled, sink.failed) == (10, 10)
    await sink.stop()


async def test_no_loss_and_no_duplicates_across_a_redis_kill(
    sink: EventSink, store: Store, redis_server: RedisServerProcess
) -> None:
    total, size, senders = 2000, 20, 4
    batches = [engaged_batch(size, start) for start in range(0, total, size)]
    acks: list[bool] = []
    await sink.start()

    async def send(mine: list[list[EventRecord]]) -> None:
        for records in mine:
            acks.append(await sink.store(records))
            await asyncio.sleep(0.03)  # pacing: ~2 s of traffic, so the outage is mid-burst

    async def outage() -> None:
        await asyncio.sleep(0.5)
        await asyncio.to_thread(redis_server.kill)
        await asyncio.sleep(1.0)
        await asyncio.to_thread(redis_server.start)  # same port and AOF directory

    async with asyncio.timeout(30):
        await asyncio.gather(outage(), *(send(batches[i::senders]) for i in range(senders)))
    assert len(acks) == len(batches) and all(acks)
    assert sink.spooled > 0, "the outage should have sent some batches to the spool"

    async def all_stored() -> bool:
        return (
            len(await stream_event_ids(store)) >= total
            and sink.spool.directory.exists()
            and (await sink.spool.pending_bytes() == 0)
        )

    def state() -> object:
        return vars(sink), vars(sink.spool), files(sink.spool.directory), vars(store)

    await poll(15.0, all_stored, state)
    stored = await stream_event_ids(store)
    assert len(stored) == total and len(set(stored)) == total
    assert sink.failed == 0
    print(
        f"kill test: stored {sink.stored}, spooled {sink.spooled}, replayed {sink.replayed}, "
        f"duplicates {sink.duplicates}"
    )


async def test_stop_is_prompt_and_idempotent(sink: EventSink) -> None:
    await sink.start()
    await sink.start()
    began = time.monotonic()
    await sink.stop()
    await sink.stop()
    assert time.monotonic() - began < 1.0


class DiskPressure:
    """A thread writing and fsync-ing beside the store's AOF, so its fsyncs queue behind ours."""

    def __init__(self, directory: Path, chunk_bytes: int = 1 << 20, max_bytes: int = 64 << 20):
        self.path = directory / "pressure.bin"
        self.chunk = os.urandom(chunk_bytes)
        self.max_bytes = max_bytes
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name="disk-pressure", daemon=True)

    def _run(self) -> None:
        with open(self.path, "wb") as file:
            while not self.stop.is_set():
                file.write(self.chunk)
                file.flush()
                os.fsync(file.fileno())
                if file.tell() >= self.max_bytes:
                    file.seek(0)
                    file.truncate()

    def __enter__(self) -> DiskPressure:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(timeout=30)
        self.path.unlink(missing_ok=True)


async def test_every_acknowledged_event_survives_kill_9_right_after_the_acks(
    embedded: EmbeddedStore, spool_dir: Path
) -> None:
    """202 means fsync-ed (issue #17): in the AOF (WAITAOF) or in the spool, never only in memory
    of a store that runs ``appendfsync everysec`` while the disk is busy."""
    store = Store(embedded.url, SETTINGS)
    sink = EventSink(EventLog(store), EventSpool(spool_dir))
    batches = [engaged_batch(10, start) for start in range(0, 400, 10)]
    acknowledged: list[str] = []
    with DiskPressure(embedded.data_dir):
        for start in range(0, len(batches), 10):
            group = batches[start : start + 10]
            acks = await asyncio.gather(*(sink.store(records) for records in group))
            for ok, records in zip(acks, group, strict=True):
                acknowledged += [r.event.id for r in records] if ok else []
        assert embedded.pid is not None
        os.kill(embedded.pid, signal.SIGKILL)  # right after the last acknowledgement
    await store.close()
    assert len(acknowledged) == 400 and sink.failed == 0
    await asyncio.to_thread(embedded.stop)
    await asyncio.to_thread(embedded.start)  # from its AOF, as after a crash
    restarted = Store(embedded.url, SETTINGS)
    try:
        replayed = EventSink(EventLog(restarted), sink.spool)
        await replayed.replay_once()
        stored = await stream_event_ids(restarted)
        assert set(acknowledged) <= set(stored) and len(stored) == len(set(stored))
        print(f"kill -9 test: {sink.stored} fsync-ed in the AOF, {sink.spooled} in the spool")
    finally:
        await restarted.close()
        await sink.spool.close()
