"""Slot metrics from the event stream: per-minute impressions, clicks and conversions per variant.

:class:`SlotMetricsConsumer` is one consumer of the group ``slot-metrics`` on the event stream
(the same patterns as the profile updater: group created on first use, bounded blocking reads,
its own pending entries re-read after a start or an outage, stale entries of a dead consumer
claimed, entries acknowledged only after their counts are written, a pause of ``retry_s`` while
the store does not answer). Per minute of ``received_ms`` it counts, per slot and variant:

- **impressions**, from impression events (slot and variant as reported);
- **clicks**, from click events that name a slot and variant, at most one per page view
  (and minute), so CTR is the share of page views with an impression that were clicked;
- **conversions**, for every slot the session currently holds (its ``sticky:<slot>`` fields,
  one read per conversion, batched), i.e. a conversion counts for each variant on show.

Records flagged ``bot`` are skipped, as are slots and variants absent from the live rules (the
beacon is visitor input: forged names must not create counters) and events older than the
longest window. Counting is idempotent per event under redelivery within 15 minutes (see
:mod:`proxy.store.slot_metrics`). Beacons remain visitor input: within the intake's per-session
and per-address rate limits a visitor can still forge impressions or clicks of real variants and
skew the counts; a pause that provokes is logged, visible in ``vernier pauses`` and undone by hand.

The counts feed metric conditions, reports and the bandit's minimum evidence. They are not what
the guardrail judges: overall rates are confounded by a bandit's context-dependent serving, so
the guardrail runs on the joined decisions in the learner (:mod:`proxy.govern.guardrail`).
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from collections.abc import Callable
from typing import Protocol

from proxy.records.event_record import EventRecord
from proxy.records.events import Click, Conversion, Impression
from proxy.records.slot_counts import HISTORY_MINUTES, minute_of
from proxy.rules.engine import RuleEngine
from proxy.store import slot_metrics
from proxy.store.client import Store
from proxy.store.event_log import EventLog, StreamEntry
from proxy.store.slot_metrics import Increment
from proxy.store.stream_group import GroupCursor
from proxy.tasks import keep_stepping

log = logging.getLogger("vernier.metrics")

GROUP = "slot-metrics"


class LiveEngine(Protocol):
    @property
    def current(self) -> RuleEngine: ...


class SlotMetricsConsumer:
    """Counts slot metrics from the event stream (one group consumer).

    Counters: ``processed`` (stream entries acknowledged), ``counted`` (increments written),
    ``duplicates`` (already counted), ``skipped`` (records that count nothing: not a record,
    bots, other event types, unknown slot or variant, too old, a conversion of a session that
    holds no variant) and ``failures`` (rounds the store did not answer).
    """

    def __init__(
        self,
        store: Store,
        rules: LiveEngine,
        *,
        clock: Callable[[], float] = time.time,
        event_log: EventLog | None = None,
        consumer: str | None = None,
        count: int = 200,
        block_ms: int = 200,
        claim_idle_ms: int = 60_000,
        claim_interval_s: float = 30.0,
        retry_s: float = 1.0,
        call_timeout_s: float = 1.0,
    ) -> None:
        self.store = store
        self.rules = rules
        self.clock = clock
        self.event_log = event_log or EventLog(store)
        self.consumer = consumer or f"{socket.gethostname()}-{os.getpid()}"
        self.cursor = GroupCursor(
            self.event_log, GROUP, self.consumer, count, block_ms, claim_idle_ms, claim_interval_s
        )
        self.retry_s = retry_s
        self.call_timeout_s = call_timeout_s  # a batch's store calls (not the request path's 50 ms)
        self.processed = 0
        self.counted = 0
        self.duplicates = 0
        self.skipped = 0
        self.failures = 0

    async def run(self, stop: asyncio.Event) -> None:
        """Consume until ``stop`` is set; each wait is bounded."""
        await keep_stepping(
            self.step,
            stop,
            retry_s=self.retry_s,
            what=f"slot metrics consumer {self.consumer}",
            on_failure=self._failed,
        )

    def _failed(self) -> None:
        self.failures += 1
        self.cursor.rewind()  # our own pending entries first, once the store answers

    async def step(self) -> bool:
        """Maybe claim stale entries, read a batch, count it, acknowledge it; ``False`` when the
        store did not answer (unacknowledged entries are read again)."""
        return await self.cursor.step(self._process)

    async def _process(self, entries: list[StreamEntry]) -> bool:
        engine = self.rules.current
        known = {slot.id: slot.variants.keys() for slot in engine.ruleset.slots}
        oldest_minute = minute_of(int(self.clock() * 1000)) - HISTORY_MINUTES
        records: list[EventRecord] = []
        for _, record in entries:
            if record is None or record.bot or minute_of(record.received_ms) < oldest_minute:
                self.skipped += 1
            else:
                records.append(record)
        converting = sorted({r.session for r in records if isinstance(r.event, Conversion)})
        showing = await slot_metrics.sessions_showing(
            self.store, converting, list(known), timeout_s=self.call_timeout_s
        )
        if showing is None:
            return False
        increments: list[Increment] = []
        for record in records:
            found = _increments(record, showing.get(record.session, {}))
            valid = [i for i in found if i.variant in known.get(i.slot, ())]
            self.skipped += not valid
            increments += valid
        counted = await slot_metrics.count(self.store, increments, timeout_s=self.call_timeout_s)
        if counted is None:
            return False
        self.counted += counted
        self.duplicates += len(increments) - counted
        acked = await self.event_log.ack(GROUP, [entry_id for entry_id, _ in entries])
        if acked is None:
            return False
        self.processed += len(entries)
        return True


def _increments(record: EventRecord, showing: dict[str, str]) -> list[Increment]:
    """What one record counts, before checking slots and variants against the rules."""
    event, minute = record.event, minute_of(record.received_ms)
    if isinstance(event, Impression):
        return [Increment(event.slot, event.variant, "impressions", minute, event.id)]
    if isinstance(event, Click) and event.slot is not None and event.variant is not None:
        return [Increment(event.slot, event.variant, "clicks", minute, f"click:{record.page}")]
    if isinstance(event, Conversion):
        return [
            Increment(slot, variant, "conversions", minute, event.id)
            for slot, variant in showing.items()
        ]
    return []
