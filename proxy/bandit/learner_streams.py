"""The two streams the learner reads, and the entries it read but has not acknowledged yet.

The learner reads the event stream and the decision stream in the consumer group ``learner``
(:class:`~proxy.store.stream_group.GroupCursor`), one consumer: a lease keeps one learner per
store, so its pending entries are all of them. An entry read is remembered here until a stored
checkpoint holds its effect and :meth:`LearnerStreams.ack` acknowledges it; after a crash, or a
checkpoint the store did not take, the unacknowledged entries are read again (see
:mod:`proxy.bandit.learner`, "Checkpoints and delivery").
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import TypeVar

from proxy.records.decision import LoggedDecision, RewardNote
from proxy.records.event_record import EventRecord
from proxy.store.client import Store
from proxy.store.decision_log import decision_stream
from proxy.store.event_log import EventLog
from proxy.store.stream_group import Entry, GroupCursor

GROUP = "learner"
CONSUMER = "learner"  # one learner per store (the lease): its pending entries are all of them
DRAIN_BATCHES = 20  # decision batches per round: events rarely precede their decision

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class StreamRound:
    """One round's entries: a batch of events, then the decisions until caught up (or
    :data:`DRAIN_BATCHES`). ``caught_up``: the events were the newest the stream had."""

    decisions: list[Entry[LoggedDecision | RewardNote]]
    events: list[Entry[EventRecord]]
    caught_up: bool


@dataclass(frozen=True, slots=True)
class Unacked:
    """The ids read up to a moment: what a checkpoint stored after that moment covers."""

    events: list[str]
    decisions: list[str]


class LearnerStreams:
    """Both group cursors of the learner and the ids of the entries they read, unacknowledged."""

    def __init__(self, store: Store, *, count: int, block_ms: int, timeout_s: float) -> None:
        self.count = count
        cursor = functools.partial(
            GroupCursor, group=GROUP, consumer=CONSUMER, count=count, claim_interval_s=None,
            timeout_s=timeout_s,
        )  # fmt: skip
        self.events = cursor(EventLog(store), block_ms=block_ms)
        self.decisions = cursor(decision_stream(store), block_ms=0)
        self.events_unacked: list[str] = []
        self.decisions_unacked: list[str] = []

    async def open(self) -> bool:
        """Create both groups (once); whether the store answered."""
        return await self.events.open() and await self.decisions.open()

    def rewind(self) -> None:
        """Read the pending entries again from the start (after restoring a checkpoint)."""
        self.events.rewind()
        self.decisions.rewind()

    async def read(self) -> StreamRound | None:
        """A batch of events, then decision batches until a short one; ``None`` when the store
        did not answer (what was read stays unacknowledged, to be read again)."""
        reading_new = not self.events.reading_backlog
        events = await _read(self.events, self.events_unacked)
        if events is None:
            return None
        decisions: list[Entry[LoggedDecision | RewardNote]] = []
        for _ in range(DRAIN_BATCHES):
            batch = await _read(self.decisions, self.decisions_unacked)
            if batch is None:
                return None
            decisions += batch
            if len(batch) < self.count:
                break
        return StreamRound(decisions, events, reading_new and len(events) < self.count)

    @property
    def unacked(self) -> bool:
        """Whether any entry read waits for a checkpoint."""
        return bool(self.events_unacked or self.decisions_unacked)

    def unacked_now(self) -> Unacked:
        return Unacked(list(self.events_unacked), list(self.decisions_unacked))

    async def ack(self, covered: Unacked) -> None:
        """Acknowledge what a stored checkpoint covers; a stream that did not answer keeps its
        ids, acknowledged with the next checkpoint."""
        if await self.events.ack(covered.events):
            del self.events_unacked[: len(covered.events)]
        if await self.decisions.ack(covered.decisions):
            del self.decisions_unacked[: len(covered.decisions)]

    def forget(self) -> None:
        """Drop the unacknowledged ids (the lease was lost: another learner reads them)."""
        self.events_unacked.clear()
        self.decisions_unacked.clear()


async def _read(cursor: GroupCursor[T], unacked: list[str]) -> list[Entry[T]] | None:
    """The cursor's next batch, its ids remembered until a checkpoint acknowledges them."""
    entries = await cursor.read()
    if entries is not None:
        unacked.extend(entry_id for entry_id, _ in entries)
    return entries
