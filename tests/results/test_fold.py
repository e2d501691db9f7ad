"""The fold: what each record adds, and what it leaves out."""

from __future__ import annotations

import msgspec

from proxy.decide.decision import stable_decision_id
from proxy.records.decision import (
    DecisionRecord,
    LoggedDecision,
    is_outage_id,
    outage_decision_id,
)
from proxy.records.event_record import EventRecord
from proxy.records.events import Click, Conversion, Engaged, Event, Impression, PageView, Scroll
from proxy.records.results_buckets import HOUR_MS
from proxy.results.fold import (
    covariate,
    fold_decision,
    fold_event,
    fold_example,
    frozen_covariate,
    needs_sessions,
)

KNOWN = {"hero": frozenset({"a", "b"})}
NOW = 500 * HOUR_MS + 10


def record(event: Event, *, bot: bool = False) -> EventRecord:
    return EventRecord(
        event=event, page="page-0001", session="sess-1", visitor="vis-1", received_ms=NOW, bot=bot
    )


def test_an_impression_is_an_exposure_once_per_decision() -> None:
    seen = Impression(id="event-001", ts=1, slot="hero", variant="b", decision="decision-1")
    (tally,) = fold_event(record(seen), {}, KNOWN)
    assert tally.slot == "hero" and tally.hour == 500
    assert tally.member == "x:decision-1"
    assert tally.adds == (("b|exposures", 1.0),)
    assert tally.visitor == ("b", "vis-1")


def test_a_click_counts_once_per_decision_and_needs_its_slot() -> None:
    hit = Click(id="event-002", ts=1, target="a", slot="hero", variant="a", decision="decision-1")
    (tally,) = fold_event(record(hit), {}, KNOWN)
    assert tally.member == "c:decision-1" and tally.adds == (("a|clicks", 1.0),)
    assert fold_event(record(Click(id="event-003", ts=1, target="a")), {}, KNOWN) == []


def test_session_measures_go_to_every_variant_the_session_holds() -> None:
    bought = Conversion(id="event-004", ts=1, name="order", value=20.0)
    assert needs_sessions(record(bought))
    (tally,) = fold_event(record(bought), {"hero": "b", "gone": "x"}, KNOWN)
    assert tally.adds == (("b|conversions", 1.0), ("b|value", 20.0), ("b|value_sq", 400.0))
    (engaged,) = fold_event(record(Engaged(id="event-005", ts=1, ms=1500)), {"hero": "a"}, KNOWN)
    assert engaged.adds == (("a|engaged_n", 1.0), ("a|engaged_s", 1.5), ("a|engaged_s_sq", 2.25))
    (scroll,) = fold_event(record(Scroll(id="event-006", ts=1, depth=0.5)), {"hero": "a"}, KNOWN)
    assert scroll.adds == (("a|scroll_n", 1.0), ("a|scroll", 0.5), ("a|scroll_sq", 0.25))


def test_bots_forged_names_and_other_events_add_nothing() -> None:
    seen = Impression(id="event-007", ts=1, slot="hero", variant="b", decision="decision-1")
    assert fold_event(record(seen, bot=True), {}, KNOWN) == []
    forged = Impression(id="event-008", ts=1, slot="hero", variant="zzz", decision="decision-1")
    assert fold_event(record(forged), {}, KNOWN) == []
    assert fold_event(record(PageView(id="event-009", ts=1, url="/")), {}, KNOWN) == []


def test_a_decision_adds_itself_and_its_probabilities() -> None:
    decision = LoggedDecision(
        id="decision-2", slot="hero", actions=("a", "b"), chosen="b", p=0.3,
        pmf=(0.7, 0.3), reason="split", ts_ms=NOW,
    )  # fmt: skip
    (tally,) = fold_decision(decision, KNOWN)
    assert tally.member == "d:decision-2"
    assert tally.adds == (("b|decisions", 1.0), ("a|expected", 0.7), ("b|expected", 0.3))
    pinned = LoggedDecision(
        id="decision-3", slot="hero", actions=("a", "b"), chosen="a", p=1.0, reason="rule",
        ts_ms=NOW,
    )  # fmt: skip
    assert fold_decision(pinned, KNOWN)[0].adds == (("a|decisions", 1.0), ("a|expected", 1.0))
    other = LoggedDecision(id="d4", slot="nope", actions=("a",), chosen="a", p=1.0, ts_ms=NOW)
    assert fold_decision(other, KNOWN) == []


def test_an_outage_control_its_impressions_and_clicks_add_nothing() -> None:
    """The control shown while the store could not answer is outside every experiment: a split
    would otherwise gain control exposures whose conversions cannot be attributed (no session
    holds it), and its sample ratio would look broken."""
    outage = outage_decision_id()
    assert is_outage_id(outage) and not is_outage_id(outage[:-1])
    assert not any(is_outage_id(stable_decision_id("outage-like", str(i))) for i in range(200))
    logged = LoggedDecision(
        id=outage, slot="hero", actions=("a", "b"), chosen="a", p=1.0, reason="outage", ts_ms=NOW
    )
    assert fold_decision(logged, KNOWN) == []
    seen = Impression(id="event-010", ts=1, slot="hero", variant="a", decision=outage)
    hit = Click(id="event-011", ts=1, target="a", slot="hero", variant="a", decision=outage)
    assert fold_event(record(seen), {}, KNOWN) == fold_event(record(hit), {}, KNOWN) == []
    joined = msgspec.structs.replace(logged, reward=1.0)
    assert not joined.is_example and fold_example(joined, KNOWN) == []  # nor in off-policy sums


def test_a_joined_example_adds_its_weights_once_per_decision() -> None:
    record = DecisionRecord(
        id="d1", slot="hero", actions=("a", "b"), chosen="b", p=0.25, pmf=(0.75, 0.25),
        reward=1.0, ts_ms=7 * 3_600_000,
    )  # fmt: skip
    (tally,) = fold_example(record, {"hero": frozenset({"a", "b"})})
    assert (tally.member, tally.hour) == ("w:d1", 7)
    adds = dict(tally.adds)
    assert adds["b|ips_w"] == 4.0 and adds["b|ips_wr_sq"] == 16.0 and adds["b|ips_w2r"] == 16.0
    assert adds["~uniform|ips_w"] == 2.0 and adds["~logged|ips_wr"] == 1.0
    assert "~greedy|ips_w" not in adds and adds["~greedy|ips_n"] == 1.0  # the model chose a
    assert not any(field.startswith("a|") for field in adds)
    unjoined = msgspec.structs.replace(record, reward=None)
    sticky = msgspec.structs.replace(record, reason="sticky")
    for other in (unjoined, sticky):
        assert fold_example(other, {"hero": frozenset({"a", "b"})}) == []
    assert fold_example(record, {"hero": frozenset({"a"})}) == []


def test_the_covariate_is_frozen_at_the_first_exposure() -> None:
    # first exposure: today's visits, to be frozen; later: the frozen value, whatever today's
    assert frozen_covariate({}, "hero", {"visits_30d": 3}) == (3.0, {"covariate_at:hero": "3.0"})
    frozen = {"covariate_at:hero": "3.0"}
    assert frozen_covariate(frozen, "hero", {"visits_30d": 9}) == (3.0, {})
    assert frozen_covariate(frozen, "body", {"visits_30d": 9})[0] == 9.0  # per slot
    # no profile yet: 0, frozen as such; a frozen value that is no number reads as none (a
    # freeze never overwrites, so today's value would change from one decision to the next)
    assert frozen_covariate({}, "hero", {}) == (0.0, {"covariate_at:hero": "0.0"})
    assert frozen_covariate({"covariate_at:hero": "x"}, "hero", {"visits_30d": 2}) == (0.0, {})


def test_cuped_reads_the_logged_covariate_and_old_records_their_context() -> None:
    base = LoggedDecision(
        id="d1", slot="hero", actions=("a", "b"), chosen="b", p=0.5, pmf=(0.5, 0.5),
        reward=1.0, ts_ms=0, rule_context={"visits_30d": 9},
    )  # fmt: skip
    assert covariate(msgspec.structs.replace(base, covariate=3.0)) == 3.0
    assert covariate(base) == 9.0  # logged before the covariate was frozen
    (tally,) = fold_example(
        msgspec.structs.replace(base, covariate=3.0), {"hero": frozenset({"a", "b"})}
    )
    assert dict(tally.adds)["b|cuped_x"] == 3.0
