"""The join's early-event buffer alone: bounded by count, aged from when each event was read."""

from __future__ import annotations

import itertools

from proxy.bandit.early_events import EarlyEvents, decision_key, session_key
from proxy.records.event_record import EventRecord
from proxy.records.events import Impression

_ids = itertools.count()


def impression(at_ms: int) -> EventRecord:
    event = Impression(id=f"event-{next(_ids):06d}", ts=1, slot="hero", variant="b", decision="d1")
    return EventRecord(event=event, page="page-1", session="s1", visitor="v1", received_ms=at_ms)


def test_the_count_bound_drops_the_oldest_and_counts_only_decisions_events() -> None:
    early = EarlyEvents(max_events=2, max_age_ms=1_000)
    assert early.add(session_key("s1"), impression(0), None) == 0
    assert early.add(decision_key("d1"), impression(1), None) == 0
    assert early.add(decision_key("d1"), impression(2), None) == 0  # the session's went
    assert early.add(decision_key("d2"), impression(3), None) == 1  # one of d1's went
    assert len(early) == 2 and len(early.take(decision_key("d1"))) == 1 and len(early) == 1


def test_an_event_ages_from_when_it_was_read() -> None:
    early = EarlyEvents(max_events=10, max_age_ms=1_000)
    early.add(decision_key("d1"), impression(0), read_ms=60_000)  # replayed a minute late
    early.add(decision_key("d2"), impression(0), read_ms=None)  # read as it arrived
    assert early.age(60_500) == 1 and len(early) == 1
    restored = EarlyEvents(max_events=10, max_age_ms=1_000)
    restored.restore(*early.saved())
    assert restored.age(60_999) == 0 and restored.age(61_001) == 1 and len(restored) == 0
