"""The profile updater: the event stream folded into visitor profiles.

Reads the event stream in a consumer group and folds each record into its
visitor's profile (``profile_update.apply``), acknowledging entries only after the profile write.
Delivery is at-least-once (a crash or an outage between write and ``XACK`` redelivers), and
updates are idempotent per event id (the state remembers its last applied ids), so profiles
count each event once. Entries left pending by a consumer that died are claimed after
``claim_idle_ms``. While the store is unavailable the consumer sleeps ``retry_s`` and retries,
re-reading its own pending entries first.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket

from proxy.config.schema import ScoresConfig
from proxy.records.event_record import EventRecord, encode_record
from proxy.store.client import Store
from proxy.store.event_log import EventLog, StreamEntry
from proxy.store.profiles import load_tally, save_profile
from proxy.store.stream_group import GroupCursor
from proxy.tasks import keep_stepping
from proxy.tracker.profile_update import apply, decode_state, encode_state, profile_fields
from proxy.tracker.scores import DEFAULT_SCORES
from proxy.tracker.visitor_data import RECENT_EVENTS

log = logging.getLogger(__name__)


class ProfileConsumer:
    """Keeps visitor profiles current from the event stream (one consumer of a group).

    Counters: ``applied`` events, ``duplicates`` (already applied), ``skipped`` (entries that are
    not records, or of a forgotten visitor), ``conflicts`` (concurrent writers), ``failures``
    (store unavailable).
    """

    def __init__(
        self,
        store: Store,
        event_log: EventLog,
        *,
        group: str = "profiles",
        consumer: str | None = None,
        count: int = 100,
        block_ms: int = 200,
        claim_idle_ms: int = 60_000,
        claim_interval_s: float = 30.0,
        retry_s: float = 1.0,
        profile_ttl_s: int = 365 * 24 * 3600,
        max_conflicts: int = 5,
        scores: ScoresConfig = DEFAULT_SCORES,
    ) -> None:
        self.store = store
        self.event_log = event_log
        self.group = group
        self.consumer = consumer or f"{socket.gethostname()}-{os.getpid()}"
        self.cursor = GroupCursor(
            event_log, group, self.consumer, count, block_ms, claim_idle_ms, claim_interval_s
        )
        self.retry_s = retry_s
        self.profile_ttl_s = profile_ttl_s
        self.max_conflicts = max_conflicts
        self.scores = scores
        self.applied = 0
        self.duplicates = 0
        self.skipped = 0
        self.conflicts = 0
        self.failures = 0

    async def run(self, stop_event: asyncio.Event) -> None:
        """Consume until ``stop_event`` is set; each wait is bounded (``block_ms``, ``retry_s``)."""
        await keep_stepping(
            self.step,
            stop_event,
            retry_s=self.retry_s,
            what=f"profile consumer {self.consumer}",
            on_failure=self._failed,
        )

    def _failed(self) -> None:
        self.failures += 1
        self.cursor.rewind()

    async def step(self) -> bool:
        """One round: maybe claim stale entries, read a batch, apply it, acknowledge it.

        ``False`` when the store did not answer (nothing is lost: unacknowledged entries are
        read again).
        """
        return await self.cursor.step(self._process)

    async def _process(self, entries: list[StreamEntry]) -> bool:
        done = [entry_id for entry_id, record in entries if record is None]
        self.skipped += len(done)
        by_visitor: dict[str, list[tuple[str, EventRecord]]] = {}
        for entry_id, record in entries:
            if record is not None:
                by_visitor.setdefault(record.visitor, []).append((entry_id, record))
        ok = True
        for visitor, items in by_visitor.items():
            try:
                updated = await self._update(visitor, [record for _, record in items])
            except ValueError:  # an id that cannot be a key: not from our intake
                self.skipped += len(items)
                updated = True
            if not updated:
                ok = False
                break
            done.extend(entry_id for entry_id, _ in items)
        acked = await self.event_log.ack(self.group, done)
        return ok and acked is not None

    async def _update(self, visitor_id: str, records: list[EventRecord]) -> bool:
        """Apply the visitor's records and write them; ``False`` if the store did not answer."""
        for _ in range(self.max_conflicts):
            tally = await load_tally(self.store, visitor_id)
            if tally is None:
                return False
            state = decode_state(tally.state)
            new: list[EventRecord] = []
            for record in records:
                after = apply(state, record, self.scores)
                if after is not state:
                    new.append(record)
                    state = after
            if not new:
                self.duplicates += len(records)
                return True
            version = await save_profile(
                self.store,
                visitor_id,
                expected_version=tally.version,
                fields=profile_fields(state, self.scores),
                state=encode_state(state),
                recent=[encode_record(record) for record in new],
                ttl_s=self.profile_ttl_s,
                recent_max=RECENT_EVENTS,
            )
            if version is None:
                return False
            if version != 0:
                if version < 0:  # forgotten visitor
                    self.skipped += len(records)
                else:
                    self.applied += len(new)
                    self.duplicates += len(records) - len(new)
                return True
            self.conflicts += 1
        return False
