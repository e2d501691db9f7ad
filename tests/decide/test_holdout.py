"""A holdout rule's decision and its logged record (pure), and what the fold makes of it: one
page view of an arm is a decision and an exposure, once, for the visitor."""

from __future__ import annotations

from proxy.decide.holdout import rule_decision, rule_record
from proxy.records.decision import HOLDOUT_MODE, decode_logged, encode_record
from proxy.records.results_buckets import HOUR_MS, Tally
from proxy.results.fold import fold_decision, summed
from proxy.rules.compiled import CompiledRule
from proxy.rules.holdout import ARMS, holdout_arm, holdout_split

RULE = CompiledRule("greet", 0, None, None, (), "home.yaml:3", holdout=holdout_split(20), salt="s")
NOW = 400 * HOUR_MS + 5
KNOWN = {"greet": frozenset(ARMS)}


def test_the_decision_is_the_visitors_arm_under_a_fresh_id() -> None:
    first, second = rule_decision(RULE, "visitor-1"), rule_decision(RULE, "visitor-1")
    assert (first.variant, first.probability) == holdout_arm(RULE, "visitor-1")
    assert first.slot == "greet" and first.reason == "split" and first.id != second.id


def test_the_record_is_a_two_arm_split_with_the_shares() -> None:
    decision = rule_decision(RULE, "visitor-1")
    context = {"device": "mobile", "visits_30d": 3, "header.cookie": "secret"}
    record = rule_record(RULE, decision, context, session="sess-1", visitor="visitor-1", now_ms=NOW)
    assert record.slot == "greet" and record.actions == ARMS and record.mode == HOLDOUT_MODE
    assert record.chosen == decision.variant and record.p == decision.probability
    assert record.pmf == (0.2, 0.8) and record.reason == "split" and record.context == {}
    assert record.rule_context == {"device": "mobile", "visits_30d": 3}  # no headers, cookies
    assert decode_logged(encode_record(record)) == record  # what the spool and stream carry


def test_a_page_view_of_an_arm_is_a_decision_and_an_exposure_once() -> None:
    decision = rule_decision(RULE, "visitor-1")
    record = rule_record(RULE, decision, {}, session="sess-1", visitor="visitor-1", now_ms=NOW)
    arm, other = decision.variant, next(a for a in ARMS if a != decision.variant)
    share = dict(RULE.holdout)
    tallies = fold_decision(record, KNOWN)
    assert tallies == [
        Tally("greet", 400, f"d:{decision.id}",
              ((f"{arm}|decisions", 1.0), ("holdout|expected", 0.2), ("applied|expected", 0.8))),
        Tally("greet", 400, f"x:{decision.id}", ((f"{arm}|exposures", 1.0),), (arm, "visitor-1")),
    ]  # fmt: skip
    # redelivered, or the same decision's impression from the tracker: counted once
    sums = summed([*tallies, *fold_decision(record, KNOWN)]).sums[400]
    assert sums[f"{arm}|decisions"] == sums[f"{arm}|exposures"] == 1.0
    assert f"{other}|decisions" not in sums and sums[f"{other}|expected"] == share[other]


def test_an_unknown_rule_adds_nothing_and_a_visitorless_exposure_counts_the_session() -> None:
    decision = rule_decision(RULE, "visitor-1")
    record = rule_record(RULE, decision, {}, session="sess-1", visitor=None, now_ms=NOW)
    assert fold_decision(record, {}) == []
    *_, exposure = fold_decision(record, KNOWN)
    assert exposure.visitor == (decision.variant, "sess-1")  # no visitor id: the session
