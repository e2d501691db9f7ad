"""The disk spool: fsync-ed appends, the byte bound, replay order and deletion, crash safety, locks
shared between processes, and that appending does not stall the event loop."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from proxy.records.event_record import EventRecord, encode_record
from proxy.store.client import Store
from proxy.store.connection import StoreSettings
from proxy.store.event_log import EventLog
from proxy.tracker.spool import EventSpool
from tests.event_records import engaged_batch
from tests.redis_server import RedisServerProcess


def files(directory: Path) -> list[Path]:
    return sorted(directory.iterdir()) if directory.exists() else []


def ids(records: list[EventRecord]) -> list[str]:
    return [r.event.id for r in records]


class Collector:
    """A replay target that records what it was given and can refuse after some chunks."""

    def __init__(self, accept_chunks: int = 10**9) -> None:
        self.records: list[EventRecord] = []
        self.accept_chunks = accept_chunks

    async def __call__(self, records: list[EventRecord]) -> bool:
        if self.accept_chunks == 0:
            return False
        self.accept_chunks -= 1
        self.records.extend(records)
        return True


async def test_append_then_replay_in_order_and_delete(spool_dir: Path) -> None:
    spool = EventSpool(spool_dir, segment_bytes=2000)
    for start in range(0, 100, 10):
        assert await spool.append(engaged_batch(10, start)) is True
    segments = files(spool_dir)
    assert len(segments) > 1  # rotated at segment_bytes
    assert all(oct(p.stat().st_mode)[-3:] == "600" for p in segments)
    collector = Collector()
    assert await spool.replay(collector) == 100
    assert ids(collector.records) == ids(engaged_batch(100))
    assert files(spool_dir) == []
    assert await spool.pending_bytes() == 0


async def test_bound_is_respected(spool_dir: Path) -> None:
    line = len(encode_record(engaged_batch(1)[0])) + 1
    spool = EventSpool(spool_dir, max_bytes=line * 25)
    assert await spool.append(engaged_batch(10)) is True
    assert await spool.append(engaged_batch(10, 10)) is True
    assert await spool.append(engaged_batch(10, 20)) is False  # would pass 25 lines
    assert await spool.append(engaged_batch(5, 20)) is True  # exactly at the bound
    assert await spool.append(engaged_batch(1, 30)) is False
    assert spool.refused_total == 2
    assert await spool.pending_bytes() == line * 25
    collector = Collector()
    await spool.replay(collector)
    assert len(collector.records) == 25
    assert await spool.append(engaged_batch(10, 40)) is True  # room again after replay


async def test_refused_chunk_keeps_the_segment_for_next_time(spool_dir: Path) -> None:
    spool = EventSpool(spool_dir, replay_chunk=10)
    await spool.append(engaged_batch(30))
    first = Collector(accept_chunks=2)
    assert await spool.replay(first) == 0  # nothing left the spool: the segment stays whole
    assert len(first.records) == 20 and len(files(spool_dir)) == 1
    second = Collector()
    assert await spool.replay(second) == 30  # the whole segment again: dedupe drops the 20
    assert files(spool_dir) == []


async def test_torn_last_line_is_skipped(spool_dir: Path) -> None:
    spool = EventSpool(spool_dir)
    await spool.append(engaged_batch(3))
    await spool.close()
    (segment,) = files(spool_dir)
    with open(segment, "ab") as file:
        file.write(encode_record(engaged_batch(1, 3)[0])[:25])  # a crash in the middle of a write
    collector = Collector()
    assert await spool.replay(collector) == 3
    assert spool.torn_lines_total == 1


async def test_segment_of_a_live_writer_is_skipped(spool_dir: Path) -> None:
    writer = EventSpool(spool_dir)
    replayer = EventSpool(spool_dir)  # as another worker process sharing the data dir
    await writer.append(engaged_batch(5))
    collector = Collector()
    assert await replayer.replay(collector) == 0  # locked by its writer
    await writer.close()
    assert await replayer.replay(collector) == 5


def test_segments_of_a_dead_process_are_replayed(spool_dir: Path) -> None:
    code = (
        "import asyncio, sys\n"
        "from proxy.tracker.spool import EventSpool\n"
        "from tests.event_records import engaged_batch\n"
        "spool = EventSpool(sys.argv[1])\n"
        "assert asyncio.run(spool.append(engaged_batch(7)))\n"
        "import os; os._exit(0)  # no close: dies holding its segment\n"
    )
    subprocess.run(
        [sys.executable, "-c", code, str(spool_dir)], check=True, timeout=30, cwd=Path.cwd()
    )
    collector = Collector()
    assert asyncio.run(EventSpool(spool_dir).replay(collector)) == 7


@pytest.fixture
async def stream(redis_server: RedisServerProcess) -> AsyncIterator[EventLog]:
    store = Store(redis_server.url, StoreSettings(op_timeout_s=1.0, connect_timeout_s=1.0))
    yield EventLog(store)
    await store.close()


async def test_replay_after_a_crash_stays_exactly_once(spool_dir: Path, stream: EventLog) -> None:
    spool = EventSpool(spool_dir, replay_chunk=25)
    await spool.append(engaged_batch(100))

    async def write(records: list[EventRecord]) -> bool:
        return await stream.append(records) is not None

    calls = 0

    async def crash_after_two_chunks(records: list[EventRecord]) -> bool:
        nonlocal calls
        calls += 1
        if calls == 3:
            raise RuntimeError("process crashed")
        return await write(records)

    with pytest.raises(RuntimeError):
        await spool.replay(crash_after_two_chunks)
    assert await stream.length() == 50
    assert await EventSpool(spool_dir).replay(write) == 100  # re-sent from the start
    assert await stream.length() == 100
    assert files(spool_dir) == []


async def test_spooled_batch_latency_and_loop_stays_responsive(spool_dir: Path) -> None:
    spool = EventSpool(spool_dir)
    gaps: list[float] = []
    stop = asyncio.Event()

    async def ticker() -> None:
        last = time.perf_counter()
        while not stop.is_set():
            await asyncio.sleep(0.001)
            now = time.perf_counter()
            gaps.append(now - last)
            last = now

    tick = asyncio.create_task(ticker(), name="loop-ticker")
    took: list[float] = []
    for start in range(0, 500, 10):
        began = time.perf_counter()
        assert await spool.append(engaged_batch(10, start))
        took.append(time.perf_counter() - began)
    stop.set()
    await tick
    took.sort()
    p50, p99 = took[len(took) // 2], took[int(len(took) * 0.99)]
    print(
        f"spool 10-event append+fsync: p50 {p50 * 1e3:.2f} ms, p99 {p99 * 1e3:.2f} ms; "
        f"max loop gap {max(gaps) * 1e3:.2f} ms"
    )
    assert p50 < 0.1
    assert max(gaps) < 0.05  # fsync ran in a thread, not on the loop
    assert sum(path.stat().st_size for path in files(spool_dir)) > 0


async def test_concurrent_appends_share_one_fsync_and_all_survive(spool_dir: Path) -> None:
    spool = EventSpool(spool_dir)
    results = await asyncio.gather(*(spool.append(engaged_batch(2, 2 * i)) for i in range(50)))
    assert results == [True] * 50
    assert spool.writes_total < 50  # grouped: batches queued behind a write go out together
    collector = Collector()
    assert await spool.replay(collector) == 100
    assert sorted(ids(collector.records)) == sorted(ids(engaged_batch(100)))


async def test_appends_do_not_wait_for_a_saturated_default_executor(spool_dir: Path) -> None:
    """Compression, rewriting and the learner share the default executor; the spool must not."""
    spool = EventSpool(spool_dir)
    loop = asyncio.get_running_loop()
    release = threading.Event()
    hogs = [loop.run_in_executor(None, release.wait) for _ in range(64)]  # more than its workers
    try:
        async with asyncio.timeout(30):  # a bound, not a measurement: without its own thread,
            assert await spool.append(engaged_batch(3)) is True  # this would wait forever
    finally:
        release.set()
        await asyncio.gather(*hogs)
    await spool.close()


async def test_a_full_queue_refuses_at_once_instead_of_growing(spool_dir: Path) -> None:
    batch = engaged_batch(5)
    one_batch_bytes = sum(len(encode_record(r)) + 1 for r in batch)
    spool = EventSpool(spool_dir, max_queued_bytes=one_batch_bytes)
    # gather starts them in order: the second finds the first still queued, and no room
    outcomes = await asyncio.gather(spool.append(batch), spool.append(engaged_batch(5, 5)))
    assert list(outcomes) == [True, False]
    assert spool.refused_total == 1


async def test_a_spool_that_cannot_be_written_says_so_once_not_per_batch(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "spool").write_text("a file where the folder should be")
    spool = EventSpool(tmp_path / "spool")
    try:
        for i in range(50):
            assert await spool.append(engaged_batch(1, i)) is False
    finally:
        await spool.close()
    assert spool.refused_total == 50
    assert len([r for r in caplog.records if "cannot open a segment" in r.getMessage()]) == 1
