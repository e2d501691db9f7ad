"""decide alone: who decides each slot, the ids a first page needs, and the seen cookie."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path

from proxy.decide.decider import Decided, Viewer
from proxy.decide.decision import Decision
from proxy.decide.rules_only import decide_by_rules_alone
from proxy.exchange import Exchange, Identity
from proxy.rules.compiled import CompiledRule, CompiledSlot
from proxy.rules.holdout import holdout_arm
from proxy.stages.decide import Decide
from tests.stages.factory import make_engine, make_exchange, make_issuer


def in_scope(tmp_path: Path, device: str, identity: Identity | None = None) -> Exchange:
    """An exchange as match leaves it for a page with the hero slot in scope."""
    ex = make_exchange(target="/page", cookies={"vernier_seen": ""})
    ex.engine = make_engine(tmp_path)
    ex.slots = tuple(ex.engine.ruleset.slots)
    ex.context = {"device": device}
    ex.identity = identity or Identity()
    return ex


class Recorded:
    """A decide function that answers variant b with a new seen cookie, and records who asked."""

    def __init__(self) -> None:
        self.viewers: list[Viewer] = []

    async def __call__(
        self, slots: Sequence[CompiledSlot], _: object, viewer: Viewer, __: object
    ) -> Decided:
        self.viewers.append(viewer)
        decisions = tuple(Decision("d" * 16, slot.id, "b", "bandit") for slot in slots)
        return Decided(decisions, {slot.id: ("b", "d" * 16) for slot in slots})


async def test_a_first_page_gets_ids_and_the_decider_answers(tmp_path: Path) -> None:
    decide = Recorded()
    ex = in_scope(tmp_path, "desktop")
    await Decide(decide, make_issuer())(ex)
    assert [(d.slot, d.variant, d.reason) for d in ex.decisions] == [("hero", "b", "bandit")]
    viewer = decide.viewers[0]
    assert viewer.session_id == ex.identity.session_id is not None and ex.identity.new_session
    names = [cookie.split("=", 1)[0] for cookie in ex.set_cookies]
    assert names == ["vernier_sid", "vernier_vid", "vernier_seen"] and ex.personalised


async def test_a_visitor_who_opted_out_gets_the_rules_choice_and_no_ids(tmp_path: Path) -> None:
    decide = Recorded()
    ex = in_scope(tmp_path, "mobile", Identity(trackable=False))
    await Decide(decide, make_issuer())(ex)
    assert [(d.variant, d.reason, d.triggers) for d in ex.decisions] == [("b", "rule", ())]
    assert decide.viewers == [] and ex.set_cookies == [] and ex.identity.session_id is None


async def test_the_rules_alone_decide_without_a_seen_cookie(tmp_path: Path) -> None:
    ex = in_scope(tmp_path, "mobile")
    await Decide(decide_by_rules_alone, make_issuer())(ex)
    assert [(d.variant, d.reason) for d in ex.decisions] == [("b", "rule")]
    assert not any(cookie.startswith("vernier_seen=") for cookie in ex.set_cookies)


async def test_a_page_without_slots_is_left_alone(tmp_path: Path) -> None:
    ex = make_exchange()
    await Decide(Recorded(), make_issuer())(ex)
    assert ex.decisions == () and not ex.personalised and ex.set_cookies == []


HOLDOUT_RULES = """
rules:
  - id: greet
    holdout: 50
    then: [{op: set_text, selector: "#hero", value: "Hi"}]
  - id: plain
    then: [{op: hide, selector: ".banner"}]
"""


class Arms:
    """A rule decider answering ``arm`` for every holdout rule, recording who asked."""

    def __init__(self, arm: str) -> None:
        self.arm = arm
        self.asked: list[tuple[tuple[str, ...], str, str | None]] = []

    async def __call__(
        self, rules: Sequence[CompiledRule], _: object, session: str, visitor: str | None
    ) -> tuple[Decision, ...]:
        self.asked.append((tuple(r.id for r in rules), session, visitor))
        return tuple(Decision("r" * 16, rule.id, self.arm, "split", 0.5) for rule in rules)


def with_rules(tmp_path: Path, device: str, identity: Identity | None = None) -> Exchange:
    """An exchange as match leaves it for a page where both rules' conditions hold."""
    ex = make_exchange(target="/page")
    ex.engine = make_engine(tmp_path, HOLDOUT_RULES)
    ex.rules = ex.engine.ruleset.rules
    ex.context = {"device": device}
    ex.identity = identity or Identity()
    return ex


async def test_a_held_out_visitor_does_not_get_the_rules_edits(tmp_path: Path) -> None:
    arms = Arms("holdout")
    ex = with_rules(tmp_path, "desktop")
    await Decide(Recorded(), make_issuer(), arms)(ex)
    assert [r.id for r in ex.rules] == ["plain"] and ex.personalised
    assert arms.asked == [(("greet",), ex.identity.session_id, ex.identity.visitor_id)]
    assert [(d.slot, d.variant) for d in ex.rule_decisions] == [("greet", "holdout")]
    names = [cookie.split("=", 1)[0] for cookie in ex.set_cookies]
    assert names == ["vernier_sid", "vernier_vid"]  # a first page: ids to hold the arm by


async def test_an_applied_visitor_keeps_the_rule(tmp_path: Path) -> None:
    ex = with_rules(tmp_path, "desktop")
    await Decide(Recorded(), make_issuer(), Arms("applied"))(ex)
    assert [r.id for r in ex.rules] == ["greet", "plain"]
    assert [d.variant for d in ex.rule_decisions] == ["applied"]


async def test_bots_opted_out_visitors_and_first_heads_get_the_edits_and_log_nothing(
    tmp_path: Path,
) -> None:
    cases = [
        with_rules(tmp_path, "bot"),
        with_rules(tmp_path, "desktop", Identity(trackable=False)),
        with_rules(tmp_path, "desktop", Identity(consent_pending=True)),
    ]
    head = with_rules(tmp_path, "desktop")
    head.request = dataclasses.replace(head.request, method="HEAD")
    for ex in [*cases, head]:
        arms = Arms("holdout")
        await Decide(Recorded(), make_issuer(), arms)(ex)
        assert arms.asked == [] and ex.rule_decisions == () and len(ex.rules) == 2
        assert ex.personalised and ex.set_cookies == []


async def test_a_head_gets_the_arm_its_get_would_and_logs_nothing(tmp_path: Path) -> None:
    engine = with_rules(tmp_path, "desktop").engine
    assert engine is not None
    greet = engine.ruleset.rules[0]
    visitors = {holdout_arm(greet, f"v{n:03d}")[0]: f"v{n:03d}" for n in range(40)}
    assert set(visitors) == {"applied", "holdout"}
    for arm, visitor in visitors.items():
        head = with_rules(tmp_path, "desktop", Identity(session_id="s1", visitor_id=visitor))
        head.request = dataclasses.replace(head.request, method="HEAD")
        asked = Arms("applied")
        await Decide(Recorded(), make_issuer(), asked)(head)
        assert asked.asked == [] and head.rule_decisions == () and head.set_cookies == []
        kept = [r.id for r in head.rules]
        assert kept == (["greet", "plain"] if arm == "applied" else ["plain"])


async def test_without_a_rule_decider_every_visitor_gets_the_edits(tmp_path: Path) -> None:
    ex = with_rules(tmp_path, "desktop")
    await Decide(decide_by_rules_alone, make_issuer())(ex)  # vernier preview
    assert len(ex.rules) == 2 and ex.rule_decisions == ()
