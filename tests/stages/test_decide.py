"""decide alone: who decides each slot, the ids a first page needs, and the seen cookie."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from proxy.decide.decider import Decided, Viewer
from proxy.decide.decision import Decision
from proxy.decide.rules_only import decide_by_rules_alone
from proxy.exchange import Exchange, Identity
from proxy.rules.load import CompiledSlot
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
