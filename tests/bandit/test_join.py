"""The reward join, pure: every reward kind, aggregation, windows, idempotency, bots, caps."""

from __future__ import annotations

import itertools

import msgspec
import pytest

from proxy.bandit.join import JoinState
from proxy.records.decision import DecisionRecord, LoggedDecision, RewardNote
from proxy.records.event_record import EventRecord
from proxy.records.events import Click, Conversion, Engaged, Event, Impression, PageView, Scroll
from proxy.rules.schema import Reward, Threshold

T0 = 1_700_000_000_000
WINDOW = Reward(window_s=60)  # deadline T0 + 60 s
_ids = itertools.count()


def decision(
    decision_id: str = "dec-0001", *, session: str = "sess-1", ts_ms: int = T0, **fields: object
) -> DecisionRecord:
    values: dict[str, object] = {
        "slot": "hero",
        "actions": ("a", "b"),
        "chosen": "b",
        "p": 0.5,
        "context": {"D": ("dev=mobile",)},
        **fields,
    }
    return DecisionRecord(id=decision_id, ts_ms=ts_ms, session=session, **values)  # type: ignore[arg-type]


def record(
    event: Event, *, at_ms: int = T0 + 1000, session: str = "sess-1", bot: bool = False
) -> EventRecord:
    return EventRecord(
        event=event, page="page-0001", session=session, visitor="visitor-1", received_ms=at_ms,
        bot=bot,
    )  # fmt: skip


def eid() -> str:
    return f"event-{next(_ids):06d}"


def seen(decision_id: str = "dec-0001", **kw: object) -> EventRecord:
    impression = Impression(id=eid(), ts=1, slot="hero", variant="b", decision=decision_id)
    return record(impression, **kw)  # type: ignore[arg-type]


def click(decision_id: str = "dec-0001", **kw: object) -> EventRecord:
    return record(Click(id=eid(), ts=1, target="a.cta", decision=decision_id), **kw)  # type: ignore[arg-type]


def finish(state: JoinState) -> list[DecisionRecord]:
    return state.due(T0 + 3_600_000)


def joined(
    reward: Reward, *events: EventRecord, decision_record: DecisionRecord | None = None
) -> float | None:
    state = JoinState()
    state.on_decision(decision_record or decision(), reward, now_ms=T0)
    state.on_event(seen())
    for event in events:
        state.on_event(event)
    examples = finish(state)
    return examples[0].reward if examples else None


def test_a_seen_decision_without_events_gets_the_default() -> None:
    assert joined(Reward(window_s=60, default=-0.5)) == -0.5


def test_a_click_on_the_slot_earns_the_click_weight() -> None:
    assert joined(WINDOW, click()) == 1.0
    assert joined(Reward(window_s=60, click=2.5), click()) == 2.5


def test_each_distinct_click_counts_and_clicks_on_other_decisions_do_not() -> None:
    assert joined(WINDOW, click(), click(), click("dec-other")) == 2.0


def test_a_conversion_of_the_session_earns_its_value_times_the_weight() -> None:
    spec = Reward(window_s=60, conversion=0.1)
    buy = Conversion(id=eid(), ts=1, name="purchase", value=40.0)
    assert joined(spec, record(buy)) == pytest.approx(4.0)
    no_value = Conversion(id=eid(), ts=1, name="signup")
    assert joined(spec, record(no_value)) == pytest.approx(0.1)
    other_session = Conversion(id=eid(), ts=1, name="purchase", value=40.0)
    assert joined(spec, record(other_session, session="sess-2")) == 0.0


def test_conversion_name_filters_conversions() -> None:
    spec = Reward(window_s=60, conversion=1.0, conversion_name="purchase")
    signup = Conversion(id=eid(), ts=1, name="signup", value=5.0)
    assert joined(spec, record(signup)) == 0.0
    buy = Conversion(id=eid(), ts=1, name="purchase", value=5.0)
    assert joined(spec, record(signup), record(buy)) == 5.0


def test_a_zero_weight_is_not_a_part_and_keeps_the_default() -> None:
    spec = Reward(window_s=60, click=0.0, default=0.25)
    assert joined(spec, click()) == 0.25


def test_engaged_time_accumulates_and_earns_its_threshold_once() -> None:
    spec = Reward(window_s=60, click=0.0, engaged_s=Threshold(at_least=30, value=0.5))
    some = [record(Engaged(id=eid(), ts=1, ms=10_000)) for _ in range(2)]
    assert joined(spec, *some) == 0.0
    enough = [record(Engaged(id=eid(), ts=1, ms=10_000)) for _ in range(6)]
    assert joined(spec, *enough) == 0.5


def test_scroll_depth_is_the_maximum_and_earns_its_threshold_once() -> None:
    spec = Reward(window_s=60, scroll=Threshold(at_least=0.75, value=0.3))
    shallow = [record(Scroll(id=eid(), ts=1, depth=d)) for d in (0.2, 0.5, 0.4)]
    assert joined(spec, *shallow) == 0.0
    deep = [record(Scroll(id=eid(), ts=1, depth=d)) for d in (0.5, 0.8, 0.9, 1.0)]
    assert joined(spec, *deep) == pytest.approx(0.3)


def test_weighted_sum_max_and_earliest() -> None:
    parts = [
        click(at_ms=T0 + 5000),
        record(Conversion(id=eid(), ts=1, name="purchase", value=3.0), at_ms=T0 + 2000),
        record(Scroll(id=eid(), ts=1, depth=1.0), at_ms=T0 + 9000),
    ]
    base = {
        "window_s": 60,
        "click": 1.0,
        "conversion": 2.0,
        "scroll": Threshold(at_least=0.5, value=0.5),
    }
    assert joined(Reward(**base, aggregate="sum"), *parts) == pytest.approx(7.5)  # type: ignore[arg-type]
    assert joined(Reward(**base, aggregate="max"), *parts) == pytest.approx(6.0)  # type: ignore[arg-type]
    # earliest by arrival time, not by the order the learner read them
    assert joined(Reward(**base, aggregate="earliest"), *parts) == pytest.approx(6.0)  # type: ignore[arg-type]
    later_first = [parts[2], parts[0]]
    assert joined(Reward(**base, aggregate="earliest"), *later_first) == pytest.approx(1.0)  # type: ignore[arg-type]


def test_an_unseen_decision_is_dropped() -> None:
    state = JoinState()
    state.on_decision(decision(), WINDOW, now_ms=T0)
    state.on_event(click())
    assert finish(state) == []
    assert state.counts.unseen == 1 and len(state) == 0


def test_a_decision_replayed_late_still_meets_its_impression_replayed_later() -> None:
    # both were spooled in a store outage; the decision spool replayed first, seconds after the
    # decision's deadline; the impression, received in the window, comes from the event spool
    state = JoinState()
    state.on_decision(decision(), Reward(window_s=1, click=1.0), now_ms=T0 + 5_000)
    assert state.due(T0 + 3_000) == []  # past the deadline, unseen: it waits out the grace
    state.on_event(seen(at_ms=T0 + 400))
    state.on_event(click(at_ms=T0 + 600))
    state.on_event(click(at_ms=T0 + 1_001))  # after the deadline, replayed or not
    assert state.due(T0 + 5_000 + 120_000) == []  # not before the grace, from when it was read
    [example] = state.due(T0 + 5_001 + 120_000)
    assert example.reward == 1.0
    assert state.counts.unseen == 0 and state.counts.late == 1


def test_after_a_long_outage_the_spools_meet_whichever_replays_first() -> None:
    """Ten minutes down, longer than the grace and the early buffer's age: what counts is when
    the join read each record, not when it was first received."""
    window = Reward(window_s=1, click=1.0)
    back = T0 + 600_000  # both spools replay from here, one second apart
    decision_first = JoinState()
    decision_first.on_decision(decision(), window, now_ms=back)
    assert decision_first.due(back) == []
    decision_first.on_event(seen(at_ms=T0 + 400), now_ms=back + 1_000)
    assert decision_first.due(back + 1_000) == []
    assert len(finish(decision_first)) == 1
    events_first = JoinState()
    events_first.on_event(seen(at_ms=T0 + 400), now_ms=back)
    assert events_first.due(back) == [] and events_first.early_events == 1
    events_first.on_decision(decision(), window, now_ms=back + 1_000)
    assert len(finish(events_first)) == 1
    for state in (decision_first, events_first):
        assert state.counts.unseen == state.counts.early_dropped == 0
    # a conversion (a session event) replayed before its decision counts as well
    spec = Reward(window_s=1, conversion=0.1)
    conversion_first = JoinState()
    buy = Conversion(id=eid(), ts=1, name="purchase", value=40.0)
    conversion_first.on_event(seen(at_ms=T0 + 300), now_ms=back)
    conversion_first.on_event(record(buy, at_ms=T0 + 400), now_ms=back)
    assert conversion_first.due(back) == []
    restored = JoinState.from_bytes(conversion_first.to_bytes())  # a restart between the two
    assert restored.due(back + 500) == [] and restored.early_events == 2
    restored.on_decision(decision(), spec, now_ms=back + 1_000)
    [example] = finish(restored)
    assert example.reward == pytest.approx(4.0)


def test_an_unseen_decision_is_dropped_when_its_grace_ends() -> None:
    state = JoinState(unseen_grace_ms=10_000)
    state.on_decision(decision("dec-unseen"), WINDOW, now_ms=T0)
    state.on_decision(decision("dec-seen"), WINDOW, now_ms=T0)
    state.on_event(seen("dec-seen"))
    assert [e.id for e in state.due(T0 + 60_001)] == ["dec-seen"]  # at its deadline
    assert len(state) == 1 and state.counts.unseen == 0
    state.on_event(seen("dec-unseen", at_ms=T0 + 60_001))  # received after the deadline
    assert state.due(T0 + 70_001) == []
    assert len(state) == 0 and state.counts.unseen == 1 and state.counts.late == 1
    no_grace = JoinState(unseen_grace_ms=0)
    no_grace.on_decision(decision(), WINDOW, now_ms=T0)
    assert no_grace.due(T0 + 60_001) == [] and no_grace.counts.unseen == 1  # at the deadline


def test_an_api_reward_counts_as_seen_and_as_a_part() -> None:
    state = JoinState()
    state.on_decision(decision(), WINDOW, now_ms=T0)
    note = RewardNote(decision="dec-0001", reward=0.7, ts_ms=T0 + 100)
    state.on_reward(note, event_id="1-0")
    state.on_reward(note, event_id="1-0")  # delivered again
    [example] = finish(state)
    assert example.reward == pytest.approx(0.7)


def test_the_window_decides_what_counts() -> None:
    state = JoinState()
    state.on_decision(decision(), WINDOW, now_ms=T0)
    state.on_event(seen())
    state.on_event(record(Conversion(id=eid(), ts=1, name="x"), at_ms=T0 - 1))  # before it
    state.on_event(click(at_ms=T0 + 60_001))  # after the deadline
    assert state.due(T0 + 60_000) == []  # not due before the deadline
    [example] = state.due(T0 + 60_001)
    assert example.reward == 0.0
    assert state.counts.late == 1


def test_a_record_without_a_time_uses_the_time_it_was_read() -> None:
    state = JoinState()
    state.on_decision(decision(ts_ms=None), WINDOW, now_ms=T0 + 5000)  # type: ignore[arg-type]
    state.on_event(seen())
    assert state.due(T0 + 60_001) == []
    assert len(state.due(T0 + 65_001)) == 1


def test_examples_come_in_deadline_order_with_the_record_intact() -> None:
    state = JoinState()
    state.on_decision(decision("dec-late", ts_ms=T0), Reward(window_s=120), now_ms=T0)
    state.on_decision(decision("dec-early", ts_ms=T0), Reward(window_s=30), now_ms=T0)
    state.on_event(seen("dec-late"))
    state.on_event(seen("dec-early"))
    examples = finish(state)
    assert [e.id for e in examples] == ["dec-early", "dec-late"]
    assert examples[0].context == {"D": ("dev=mobile",)} and examples[0].p == 0.5


def test_redelivered_events_and_decisions_change_nothing() -> None:
    state = JoinState()
    first = decision()
    clicked = click()
    state.on_decision(first, WINDOW, now_ms=T0)
    for _ in range(3):
        state.on_event(seen())
        state.on_event(clicked)
        assert not state.on_decision(first, WINDOW, now_ms=T0)
    [example] = finish(state)
    assert example.reward == 1.0
    # after it finished: the decision and its events delivered again are ignored
    assert not state.on_decision(first, WINDOW, now_ms=T0)
    state.on_event(clicked)
    assert finish(state) == [] and len(state) == 0 and state.early_events == 0
    assert state.counts.duplicates == 4


def test_sticky_and_held_reserves_are_not_examples() -> None:
    state = JoinState()
    assert not state.on_decision(decision("dec-s", reason="sticky"), WINDOW, now_ms=T0)
    assert not state.on_decision(decision("dec-h", reason="held"), WINDOW, now_ms=T0)
    for reason in ("rule", "default", "bandit"):
        assert state.on_decision(decision(f"dec-{reason}", reason=reason), WINDOW, now_ms=T0)
    assert state.counts.reserves == 2 and len(state) == 3


def test_a_bot_session_is_excluded_before_and_after_its_decisions() -> None:
    state = JoinState()
    state.on_decision(decision("dec-before"), WINDOW, now_ms=T0)
    state.on_event(seen("dec-before"))
    state.on_event(record(PageView(id=eid(), ts=1, url="/"), bot=True))
    state.on_decision(decision("dec-after", ts_ms=T0 + 2000), WINDOW, now_ms=T0)
    state.on_event(seen("dec-after", at_ms=T0 + 3000))
    state.on_decision(decision("dec-human", session="sess-2"), WINDOW, now_ms=T0)
    state.on_event(seen("dec-human", session="sess-2"))
    assert [e.id for e in finish(state)] == ["dec-human"]
    assert state.counts.bots == 2


def test_events_read_before_their_decision_are_replayed() -> None:
    state = JoinState()
    state.on_event(seen(at_ms=T0 + 500))
    state.on_event(click(at_ms=T0 + 800))
    state.on_event(record(Conversion(id=eid(), ts=1, name="buy", value=2.0), at_ms=T0 + 900))
    assert state.early_events == 3
    state.on_decision(decision(), Reward(window_s=60, conversion=1.0), now_ms=T0)
    [example] = finish(state)
    assert example.reward == pytest.approx(3.0)


def test_early_events_are_bounded_by_count_and_age() -> None:
    state = JoinState(max_early=5, early_max_age_ms=10_000)
    for i in range(8):
        state.on_event(seen(f"dec-{i:04d}", at_ms=T0))
    assert state.early_events == 5 and state.counts.early_dropped == 3
    state.due(T0 + 10_001)
    assert state.early_events == 0 and state.counts.early_dropped == 8
    # a decision whose early events aged out is then unseen
    state.on_decision(decision("dec-0007"), WINDOW, now_ms=T0)
    assert finish(state) == []


def test_pending_decisions_are_capped_oldest_first() -> None:
    state = JoinState(max_pending=3)
    for i in range(5):
        state.on_decision(decision(f"dec-{i:04d}"), WINDOW, now_ms=T0)
        state.on_event(seen(f"dec-{i:04d}"))
    assert len(state) == 3 and state.counts.evicted == 2
    assert [e.id for e in finish(state)] == ["dec-0002", "dec-0003", "dec-0004"]


def test_the_cap_drops_an_unseen_decision_in_its_grace_before_one_in_its_window() -> None:
    state = JoinState(max_pending=2)
    state.on_decision(decision("dec-old"), WINDOW, now_ms=T0)
    assert state.due(T0 + 60_001) == []  # unseen at its deadline: in its grace
    later = T0 + 60_002
    for i in range(2):
        state.on_decision(decision(f"dec-{i:04d}", ts_ms=later), WINDOW, now_ms=later)
        state.on_event(seen(f"dec-{i:04d}", at_ms=later))
    assert len(state) == 2 and state.counts.unseen == 1 and state.counts.evicted == 0
    assert [e.id for e in state.due(later + 60_001)] == ["dec-0000", "dec-0001"]


def test_a_decision_seen_in_its_grace_is_not_dropped_for_the_bound() -> None:
    state = JoinState(max_pending=2)
    state.on_decision(decision("dec-late"), WINDOW, now_ms=T0)
    state.on_decision(decision("dec-lost"), WINDOW, now_ms=T0)
    assert state.due(T0 + 60_001) == []  # both unseen at their deadline: in their grace
    state.on_event(seen("dec-late", at_ms=T0 + 100), now_ms=T0 + 61_000)  # replayed
    state = JoinState.from_bytes(state.to_bytes(), max_pending=2)  # a restart: the same
    later = T0 + 61_001
    state.on_decision(decision("dec-next", ts_ms=later), WINDOW, now_ms=later)
    assert state.counts.unseen == 1 and state.counts.evicted == 0  # dec-lost went first
    assert [e.id for e in finish(state)] == ["dec-late"]


def test_events_per_decision_are_capped() -> None:
    state = JoinState(max_events_per_decision=3)
    state.on_decision(decision(), WINDOW, now_ms=T0)
    state.on_event(seen())
    for _ in range(5):
        state.on_event(click())
    [example] = finish(state)
    assert example.reward == 2.0 and state.counts.ignored_events == 3


def test_finished_ids_are_forgotten_after_a_while() -> None:
    state = JoinState(done_keep_ms=1000)
    state.on_decision(decision(), WINDOW, now_ms=T0)
    state.on_event(seen())
    state.due(T0 + 60_001)
    assert not state.on_decision(decision(), WINDOW, now_ms=T0)
    state.due(T0 + 70_000)
    assert state.on_decision(decision(), WINDOW, now_ms=T0)


def test_a_checkpoint_round_trip_keeps_everything() -> None:
    spec = Reward(window_s=60, conversion=1.0, engaged_s=Threshold(at_least=5, value=0.5))
    state = JoinState()
    state.on_decision(decision(), spec, now_ms=T0)
    clicked = click()
    state.on_event(seen())
    state.on_event(clicked)
    state.on_event(record(Engaged(id=eid(), ts=1, ms=3000)))
    state.on_event(seen("dec-0002"))  # early
    state.on_event(record(PageView(id=eid(), ts=1, url="/"), session="bot-1", bot=True))
    restored = JoinState.from_bytes(state.to_bytes())
    assert len(restored) == 1 and restored.early_events == state.early_events
    restored.on_event(clicked)  # already applied before the checkpoint
    restored.on_event(record(Engaged(id=eid(), ts=1, ms=3000)))  # crosses 5 s now
    restored.on_decision(decision("dec-0002"), spec, now_ms=T0)
    restored.on_decision(decision("dec-bot", session="bot-1"), spec, now_ms=T0)
    restored.on_event(seen("dec-bot", session="bot-1"))
    examples = {e.id: e.reward for e in finish(restored)}
    # dec-0002 (same session) also gets the session's 6 s of engaged time, from the buffer
    assert examples == {"dec-0001": 1.5, "dec-0002": 0.5}
    assert restored.counts.bots == 1 and restored.counts.decisions == 3


def test_a_checkpoint_keeps_every_field_of_a_pending_decision() -> None:
    # the results fold reads the covariate, segments and request context of joined examples
    state = JoinState()
    logged = LoggedDecision(
        **msgspec.structs.asdict(decision()),
        covariate=3.0, segments=("loyal",), cluster="c2", rule_context={"visits_30d": 9},
    )  # fmt: skip
    state.on_decision(logged, WINDOW, now_ms=T0)
    state.on_event(seen())
    (example,) = finish(JoinState.from_bytes(state.to_bytes()))
    assert isinstance(example, LoggedDecision)
    assert (example.covariate, example.segments, example.cluster) == (3.0, ("loyal",), "c2")
    assert example.rule_context == {"visits_30d": 9}


def test_garbage_is_not_a_checkpoint() -> None:
    with pytest.raises(ValueError, match="not a join state"):
        JoinState.from_bytes(b"\x93garbage")


def test_a_decision_in_its_grace_keeps_it_across_a_checkpoint() -> None:
    state = JoinState(unseen_grace_ms=10_000)
    state.on_decision(decision(), WINDOW, now_ms=T0)
    assert state.due(T0 + 60_001) == []  # unseen at its deadline: until T0 + 70,000
    restored = JoinState.from_bytes(state.to_bytes(), unseen_grace_ms=10_000)
    restored.on_event(seen(at_ms=T0 + 100), now_ms=T0 + 65_000)
    assert restored.due(T0 + 69_999) == []
    assert len(restored.due(T0 + 70_001)) == 1 and restored.counts.unseen == 0
