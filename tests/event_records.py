"""Event records as the intake stores them, for the tests of the stream, the spool and the sink.

One factory, so that every test writing "a batch of events" writes the same bytes: the spool's
byte bounds and the stream's deduplication are tested against these exact records."""

from __future__ import annotations

from proxy.records.event_record import EventRecord
from proxy.records.events import Engaged

RECEIVED_MS = 1_732_250_000_000


def engaged_record(event_id: str, *, visitor: str = "visitor-1", ms: int = 100) -> EventRecord:
    """One engagement event of ``ms`` milliseconds, on one page of one session."""
    return EventRecord(
        event=Engaged(id=event_id, ts=1, ms=ms),
        page="page-0001",
        session="session-1",
        visitor=visitor,
        received_ms=RECEIVED_MS,
    )


def engaged_batch(n: int, start: int = 0, *, ms: int = 100) -> list[EventRecord]:
    """``n`` distinct events with ids ``event-<start>`` … ``event-<start + n - 1>`` (6 digits)."""
    return [engaged_record(f"event-{i:06d}", ms=ms) for i in range(start, start + n)]
