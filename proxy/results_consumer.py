"""Folds the event and decision streams into the results aggregates (issue #13, item 1).

:class:`ResultsConsumer` is one consumer of the group ``results`` on both streams, beside the
profile and slot-metrics consumers (``proxy/background.py``), with their patterns: group created
on first use, bounded blocking reads, its own pending entries re-read after a start or an outage,
stale entries of a dead consumer claimed, entries acknowledged only after their sums are written,
a pause of ``retry_s`` while the store does not answer. The arithmetic is the pure
:mod:`proxy.results.fold`; the sums and their once-only guard are :mod:`proxy.store.results`.

It also counts what it folded per slot, variant and measure (:attr:`folded`), which
``/metrics`` exports as ``vernier_results_total``: the sum over workers is the store's total.
"""

from __future__ import annotations

import asyncio
import os
import socket
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Protocol

from proxy.records.decision import LoggedDecision, RewardNote
from proxy.records.event_record import EventRecord
from proxy.records.results_buckets import Tally
from proxy.results.fold import fold_decision, fold_event, needs_sessions
from proxy.rules.engine import RuleEngine
from proxy.rules.holdout import ARMS
from proxy.store import results, slot_metrics
from proxy.store.client import Store
from proxy.store.decision_log import decision_stream
from proxy.store.event_log import EventLog
from proxy.store.stream_group import Entry, GroupCursor
from proxy.tasks import keep_stepping

GROUP = "results"
EXPORTED = ("exposures", "clicks", "conversions")  # the measures /metrics counts per variant
ARMS_SET = frozenset(ARMS)  # a holdout rule's "variants"


class LiveEngine(Protocol):
    @property
    def current(self) -> RuleEngine: ...


class ResultsConsumer:
    """Folds both streams into the aggregates (see the module docstring).

    Counters: ``processed`` (entries acknowledged), ``folded`` (new tallies written),
    ``duplicates`` (tallies already folded), ``skipped`` (entries that add nothing: not a
    record, bots, other event types, unknown slots or variants), ``failures`` (rounds the store
    did not answer); :attr:`per_variant` counts folded exposures, clicks and conversions.
    """

    def __init__(
        self,
        store: Store,
        rules: LiveEngine,
        *,
        retention_days: int = 90,
        event_log: EventLog | None = None,
        consumer: str | None = None,
        count: int = 500,
        block_ms: int = 100,
        retry_s: float = 1.0,
        call_timeout_s: float = 2.0,
    ) -> None:
        self.store = store
        self.rules = rules
        self.ttl_s = retention_days * 86_400
        self.consumer = consumer or f"{socket.gethostname()}-{os.getpid()}"
        events = event_log or EventLog(store)
        self.events = GroupCursor(events, GROUP, self.consumer, count, block_ms)
        self.decisions = GroupCursor(decision_stream(store), GROUP, self.consumer, count, block_ms)
        self.retry_s = retry_s
        self.call_timeout_s = call_timeout_s
        self.processed = 0
        self.folded = 0
        self.duplicates = 0
        self.skipped = 0
        self.failures = 0
        self.per_variant: Counter[tuple[str, str, str]] = Counter()

    async def run(self, stop: asyncio.Event) -> None:
        """Fold until ``stop`` is set; each wait is bounded."""
        await keep_stepping(
            self.step,
            stop,
            retry_s=self.retry_s,
            what=f"results consumer {self.consumer}",
            on_failure=self._failed,
        )

    def _failed(self) -> None:
        self.failures += 1
        self.events.rewind()
        self.decisions.rewind()

    async def step(self) -> bool:
        """One batch of each stream; ``False`` when the store did not answer."""
        if not await self.events.step(self._fold_events):
            return False
        return await self.decisions.step(self._fold_decisions)

    def _known(self) -> dict[str, frozenset[str]]:
        ruleset = self.rules.current.ruleset
        known = {slot.id: frozenset(slot.variants) for slot in ruleset.slots}
        return known | {rule.id: ARMS_SET for rule in ruleset.holdout_rules}

    async def _fold_events(self, entries: list[Entry[EventRecord]]) -> bool:
        known = self._known()
        records = [record for _, record in entries if record is not None]
        sessions = sorted({r.session for r in records if needs_sessions(r)})
        showing = await slot_metrics.sessions_showing(
            self.store, sessions, list(known), timeout_s=self.call_timeout_s
        )
        if showing is None:
            return False
        tallies: list[Tally] = []
        for record in records:
            found = fold_event(record, showing.get(record.session, {}), known)
            self.skipped += not found
            tallies += found
        self.skipped += len(entries) - len(records)
        return await self._write(tallies, self.events.ack, [entry_id for entry_id, _ in entries])

    async def _fold_decisions(self, entries: list[Entry[LoggedDecision | RewardNote]]) -> bool:
        known = self._known()
        tallies: list[Tally] = []
        for _, record in entries:
            found = fold_decision(record, known) if isinstance(record, LoggedDecision) else []
            self.skipped += not found
            tallies += found
        return await self._write(tallies, self.decisions.ack, [entry_id for entry_id, _ in entries])

    async def _write(
        self, tallies: list[Tally], ack: Callable[[list[str]], Awaitable[bool]], ids: list[str]
    ) -> bool:
        new = await results.fold(
            self.store, tallies, ttl_s=self.ttl_s, timeout_s=self.call_timeout_s
        )
        if new is None or not await ack(ids):
            return False
        self.folded += len(new)
        self.duplicates += len(tallies) - len(new)
        self.processed += len(ids)
        for tally in new:
            for field, amount in tally.adds:
                variant, _, measure = field.partition("|")
                if measure in EXPORTED:
                    self.per_variant[(tally.slot, variant, measure)] += int(amount)
        return True
