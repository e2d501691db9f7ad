"""The learner's two streams: a round's entries, remembered until a checkpoint acknowledges them."""

from __future__ import annotations

from proxy.bandit.learner_streams import LearnerStreams, StreamRound
from proxy.records.decision import DecisionRecord
from proxy.store.client import Store
from proxy.store.decision_log import log_decisions
from proxy.store.event_log import EventLog
from tests.bandit.test_learner import decisions, event_of


async def logged_with_impressions(store: Store, n: int) -> list[DecisionRecord]:
    records = decisions(n)
    assert await log_decisions(store, records)
    impressions = [event_of(record, "impression") for record in records[:2]]
    assert await EventLog(store).append(impressions) is not None
    return records


def ids(read: StreamRound) -> tuple[list[str], list[str]]:
    decided = [item.id for _, item in read.decisions if isinstance(item, DecisionRecord)]
    seen = [item.event.id for _, item in read.events if item is not None]
    return decided, seen


def streams_of(store: Store) -> LearnerStreams:
    return LearnerStreams(store, count=100, block_ms=0, timeout_s=2.0)


async def test_a_round_reads_events_then_decisions_and_keeps_their_ids_until_acked(
    store: Store,
) -> None:
    records = await logged_with_impressions(store, 3)
    streams = streams_of(store)
    assert await streams.open()
    backlog = await streams.read()  # a first start: no pending entries of its own yet
    assert backlog is not None and ids(backlog) == ([], []) and not backlog.caught_up
    assert not streams.unacked

    read = await streams.read()
    assert read is not None and read.caught_up  # new entries, fewer than a batch: all there is
    decided, seen = ids(read)
    assert decided == [r.id for r in records] and len(seen) == 2
    assert streams.unacked

    await streams.ack(streams.unacked_now())
    assert not streams.unacked
    again = streams_of(store)  # a restart after the checkpoint: nothing is pending
    assert await again.open()
    rest = await again.read()
    assert rest is not None and ids(rest) == ([], [])


async def test_entries_not_acknowledged_are_read_again_after_a_restart(store: Store) -> None:
    records = await logged_with_impressions(store, 3)
    crashed = streams_of(store)
    assert await crashed.open()
    for _ in range(2):
        assert await crashed.read() is not None
    assert crashed.unacked

    restarted = streams_of(store)
    assert await restarted.open()
    replayed = await restarted.read()
    assert replayed is not None and not replayed.caught_up  # the backlog, not the newest entries
    decided, seen = ids(replayed)
    assert decided == [r.id for r in records] and len(seen) == 2


async def test_what_was_read_after_the_moment_a_checkpoint_covers_stays_unacked(
    store: Store,
) -> None:
    await logged_with_impressions(store, 3)
    streams = streams_of(store)
    assert await streams.open()
    assert await streams.read() is not None
    covered = streams.unacked_now()  # nothing yet: the backlog was empty
    assert await streams.read() is not None
    await streams.ack(covered)
    assert streams.unacked and len(streams.decisions_unacked) == 3
