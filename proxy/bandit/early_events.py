"""The reward join's buffer of events read before their decision (pure; :mod:`proxy.bandit.join`).

The decision stream and the event stream are read independently, so an event can be read before
its decision: it waits here under a key — ``d:<decision id>`` for an event naming its decision,
``s:<session>`` for a session-wide one — until the decision arrives. The buffer is bounded by
count (``max_events``, oldest first) and age (``max_age_ms``), an event's age counted from when
the join read it, or arrived if later: an event replayed from a spool after a store outage is
read long after it arrived, and waits for its decision, replayed on another schedule.
"""

from __future__ import annotations

from proxy.records.event_record import EventRecord


def decision_key(decision_id: str) -> str:
    return f"d:{decision_id}"


def session_key(session: str) -> str:
    return f"s:{session}"


class EarlyEvents:
    """Events by key, each with when the join read it (ms)."""

    def __init__(self, *, max_events: int, max_age_ms: int) -> None:
        self.max_events = max_events
        self.max_age_ms = max_age_ms
        self._records: dict[str, list[EventRecord]] = {}
        self._reads: dict[str, list[int]] = {}  # aligned with _records
        self._count = 0

    def __len__(self) -> int:
        return self._count

    def add(self, key: str, record: EventRecord, read_ms: int | None) -> int:
        """Keep ``record`` (read at ``read_ms``; ``None``: when it arrived); how many events
        naming a decision the count bound dropped (a session's were applied already)."""
        self._records.setdefault(key, []).append(record)
        self._reads.setdefault(key, []).append(record.received_ms if read_ms is None else read_ms)
        self._count += 1
        dropped = 0
        while self._count > self.max_events:
            oldest = next(iter(self._records))
            records = self._records[oldest]
            records.pop(0)
            self._reads[oldest].pop(0)
            self._count -= 1
            dropped += oldest.startswith("d:")
            if not records:
                del self._records[oldest], self._reads[oldest]
        return dropped

    def take(self, key: str) -> list[EventRecord]:
        """The events of ``key``, no longer kept."""
        self._reads.pop(key, None)
        records = self._records.pop(key, [])
        self._count -= len(records)
        return records

    def peek(self, key: str) -> list[EventRecord]:
        """The events of ``key``, still kept (a session's, for its later decisions)."""
        return list(self._records.get(key, ()))

    def age(self, now_ms: int) -> int:
        """Drop the events older than ``max_age_ms``; how many of them named a decision."""
        cutoff = now_ms - self.max_age_ms
        dropped = 0
        for key in list(self._records):
            records, reads = self._records[key], self._reads[key]
            if max(records[0].received_ms, reads[0]) >= cutoff:
                continue  # the oldest is young enough (read times grow along the list)
            kept = [
                (r, t)
                for r, t in zip(records, reads, strict=True)
                if max(r.received_ms, t) >= cutoff
            ]
            if key.startswith("d:"):
                dropped += len(records) - len(kept)
            self._count -= len(records) - len(kept)
            if kept:
                self._records[key] = [r for r, _ in kept]
                self._reads[key] = [t for _, t in kept]
            else:
                del self._records[key], self._reads[key]
        return dropped

    def saved(self) -> tuple[list[tuple[str, list[EventRecord]]], list[tuple[str, list[int]]]]:
        """The events and their read times, for a checkpoint."""
        return list(self._records.items()), list(self._reads.items())

    def restore(
        self, early: list[tuple[str, list[EventRecord]]], reads: list[tuple[str, list[int]]]
    ) -> None:
        """What :meth:`saved` gave (without read times, an older checkpoint's: when arrived)."""
        read_ms = dict(reads)
        for key, records in early:
            self._records[key] = records
            self._reads[key] = read_ms.get(key) or [r.received_ms for r in records]
            self._count += len(records)
