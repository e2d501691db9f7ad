"""Consumer-group reads of any stream, and the cursor every stream consumer reads through."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from redis.asyncio import Redis

from proxy.records.decision import DecisionRecord, RewardNote
from proxy.store import stream_group
from proxy.store.client import Store
from proxy.store.connection import StoreSettings
from proxy.store.decision_log import decision_stream, log_decisions, log_reward
from proxy.store.stream_group import GroupCursor, GroupLag, StreamReader, group_lags


def text_reader(store: Store) -> StreamReader[str]:
    def parse(fields: dict[Any, Any]) -> str | None:
        value = fields.get(b"v")
        return None if value is None else value.decode("ascii")  # may raise: read as None

    return StreamReader(store, f"{store.keys.prefix}{{test}}", parse)


async def add(reader: StreamReader[Any], *values: str | bytes, field: str = "v") -> None:
    async def run(client: Redis) -> None:
        for value in values:
            await client.xadd(reader.key, {field: value})

    await reader.store.run(run, default=None)


async def test_the_cursor_pages_through_its_pending_entries_before_new_ones(
    own_store: Store,
) -> None:
    """A consumer that acknowledges later (the learner) reads each pending entry once."""
    reader = text_reader(own_store)
    cursor = GroupCursor(reader, "g", "c", count=2, block_ms=0, claim_interval_s=None)
    assert await cursor.open()
    await add(reader, "a", "b", "c")
    first = await cursor.read()  # nothing pending yet: switches to new entries
    assert first == [] and not cursor.reading_backlog
    assert [v for _, v in await cursor.read() or []] == ["a", "b"]
    assert [v for _, v in await cursor.read() or []] == ["c"]
    cursor.rewind()  # a restart: none was acknowledged
    pages = [[v for _, v in await cursor.read() or []] for _ in range(3)]
    assert pages == [["a", "b"], ["c"], []]
    assert not cursor.reading_backlog


async def test_a_cursor_that_gets_no_answer_rewinds(own_store: Store, tmp_path: Path) -> None:
    down = Store(f"unix://{tmp_path}/nothing.sock", StoreSettings(op_timeout_s=0.05))
    try:
        cursor = GroupCursor(text_reader(down), "g", "c", claim_interval_s=None)
        cursor._backlog = False
        assert await cursor.read() is None
        assert cursor.reading_backlog
    finally:
        await down.close()


async def test_entries_of_another_shape_read_as_none(own_store: Store) -> None:
    reader = text_reader(own_store)
    assert await reader.create_group("g")
    await add(reader, "fine")
    await add(reader, "other", field="x")
    await add(reader, b"\xff")  # not ascii: parse raises
    entries = await reader.read_group("g", "c", count=10, block_ms=0)
    assert [v for _, v in entries or []] == ["fine", None, None]


async def test_the_decision_stream_reads_decisions_and_rewards(own_store: Store) -> None:
    record = DecisionRecord(id="dec-1", slot="hero", actions=("a", "b"), chosen="b", p=0.5)
    assert await log_decisions(own_store, [record])
    assert await log_reward(own_store, RewardNote(decision="dec-1", reward=0.5, ts_ms=1))
    stream = decision_stream(own_store)
    assert await stream.create_group("learner")
    entries = await stream.read_group("learner", "c", count=10, block_ms=0)
    assert entries is not None
    decision, reward = (item for _, item in entries)
    assert isinstance(decision, DecisionRecord) and decision.id == "dec-1"
    assert reward == RewardNote(decision="dec-1", reward=0.5, ts_ms=1)


async def test_acknowledgements_go_in_chunks(own_store: Store, monkeypatch: Any) -> None:
    monkeypatch.setattr(stream_group, "ACK_CHUNK", 2)
    reader = text_reader(own_store)
    assert await reader.create_group("g")
    await add(reader, "a", "b", "c", "d", "e")
    entries = await reader.read_group("g", "c", count=10, block_ms=0) or []
    assert await reader.ack("g", [entry_id for entry_id, _ in entries]) == 5
    assert await reader.read_group("g", "c", count=10, block_ms=0, pending=True) == []


async def test_the_lags_of_every_stream_come_in_one_round_trip(
    own_store: Store, tmp_path: Path, monkeypatch: Any
) -> None:
    """One ``XINFO GROUPS`` per stream, pipelined: a scrape of /metrics costs one round trip
    however many streams it reports, and a stream not created yet has no groups."""
    reader = text_reader(own_store)
    assert await reader.create_group("g")
    await add(reader, "a", "b", "c")
    assert len(await reader.read_group("g", "c", count=1, block_ms=0) or []) == 1
    calls: list[object] = []
    run = own_store.run

    async def counted(*args: Any, **kwargs: Any) -> Any:
        calls.append(args[0])
        return await run(*args, **kwargs)

    monkeypatch.setattr(own_store, "run", counted)
    missing = f"{own_store.keys.prefix}{{nothing}}"
    lags = await group_lags(own_store, {"test": reader.key, "missing": missing})
    assert lags == {"test": [GroupLag(group="g", lag=2, pending=1)], "missing": []}
    assert len(calls) == 1
    down = Store(f"unix://{tmp_path}/nothing.sock", StoreSettings(op_timeout_s=0.05))
    try:
        assert await group_lags(down, {"test": reader.key}) is None
    finally:
        await down.close()
