"""The fsync-confirmed append and the decision log's use of it, on the embedded Valkey (which has
WAITAOF) and on Debian's redis-server 7.0 (which has not: appends go on without waiting)."""

from __future__ import annotations

import logging

import pytest

from proxy.records.decision import LoggedDecision
from proxy.store.client import Store
from proxy.store.decision_log import fsynced_decision_log, log_decisions, log_decisions_fsynced
from tests.integration.decision_stream import read_decision_log
from tests.redis_server import RedisServerProcess
from tests.store.conftest import MakeStore


def decisions(first: int, n: int) -> list[LoggedDecision]:
    return [
        LoggedDecision(
            id=f"fs{i:06d}",
            slot="hero",
            actions=("a", "b"),
            chosen="a",
            p=0.5,
            context={"D": ("dev=desktop",)},
            pmf=(0.5, 0.5),
        )
        for i in range(first, first + n)
    ]


async def logged_ids(store: Store) -> list[str]:
    return [r.id for r in await read_decision_log(store) if isinstance(r, LoggedDecision)]


async def test_a_batch_of_duplicates_still_waits_for_an_fsync(own_store: Store) -> None:
    """The fsync mark is written every time, so even a batch that adds nothing is answered by
    WAITAOF covering it (and everything before it), not by a stale offset of its connection."""
    appender = fsynced_decision_log(own_store)
    batch = decisions(0, 5)
    assert await log_decisions(own_store, batch) == 5  # the page path: memory only
    assert await log_decisions_fsynced(appender, batch) == 0
    assert appender.waits and appender.unfsynced_total == 0
    mark = own_store.keys.fsync_mark_key(own_store.keys.decisions_key())
    ttl_ms = await own_store.run(lambda r: r.pttl(mark), default=-3)
    assert 0 < ttl_ms <= 60_000


async def test_decisions_the_store_lost_are_appended_again(own_store: Store) -> None:
    """What the sink's confirmation does after a store lost its last writes: resending the held
    decisions appends exactly the missing ones, in the order given."""
    appender = fsynced_decision_log(own_store)
    batch = decisions(100, 6)
    assert await log_decisions(own_store, batch[:3]) == 3
    assert await log_decisions_fsynced(appender, batch) == 3
    assert await logged_ids(own_store) == [d.id for d in batch]


@pytest.mark.redis_server
async def test_a_server_without_waitaof_appends_and_says_so_once(
    redis_server: RedisServerProcess, make_store: MakeStore, caplog: pytest.LogCaptureFixture
) -> None:
    store = make_store(redis_server.url)
    appender = fsynced_decision_log(store)
    with caplog.at_level(logging.WARNING, logger="proxy.store.fsynced_append"):
        assert await log_decisions_fsynced(appender, decisions(200, 2)) == 2
        assert await log_decisions_fsynced(appender, decisions(202, 2)) == 2
    assert appender.waits is False
    warnings = [r for r in caplog.records if "cannot confirm fsync" in r.getMessage()]
    assert len(warnings) == 1 and "decisions" in warnings[0].getMessage()


def test_the_fsync_mark_shares_the_streams_slot(own_store: Store) -> None:
    keys = own_store.keys
    assert keys.fsync_mark_key(keys.events_key(1)) == keys.events_key(1) + ":fsync"
    with pytest.raises(ValueError, match="not a stream key"):
        keys.fsync_mark_key("other:{events:0}")
