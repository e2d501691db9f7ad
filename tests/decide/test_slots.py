"""A slot's variant from its rules: the first pin that holds, else the control."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest

from proxy.decide.decision import stable_decision_id
from proxy.decide.slots import decide_by_rules, with_triggers
from proxy.govern.control import NO_PAUSES, Pauses
from proxy.rules import load_rules
from proxy.rules.compiled import CompiledSlot

SLOT = """
slots:
  - id: hero
    selector: "#hero"
    control: a
    variants: {a: [], b: [{op: hide, selector: p}], c: [{op: remove, selector: p}]}
    pin:
      - {when: "device == 'mobile' and hour >= 18", variant: b}
      - {when: "device == 'mobile'", variant: c}
    triggers:
      - {id: bored, variant: c, after_s: 30, max_scroll: 0.25}
"""


@pytest.fixture
def slot(tmp_path: Path) -> CompiledSlot:
    (tmp_path / "s.yaml").write_text(textwrap.dedent(SLOT))
    return load_rules(tmp_path).slots[0]


def test_first_pin_that_holds_decides(slot: CompiledSlot) -> None:
    evening = decide_by_rules(slot, {"device": "mobile", "hour": 20})
    day = decide_by_rules(slot, {"device": "mobile", "hour": 9})
    assert (evening.variant, evening.reason) == ("b", "rule")
    assert (day.variant, day.reason) == ("c", "rule")


def test_control_by_default_with_triggers_offered(slot: CompiledSlot) -> None:
    decision = with_triggers(slot, decide_by_rules(slot, {"device": "desktop"}), NO_PAUSES)
    assert (decision.variant, decision.reason, decision.probability) == ("a", "default", 1.0)
    [(trigger, variant, trigger_decision)] = decision.triggers
    assert (trigger, variant) == ("bored", "c") and trigger_decision != decision.id
    assert decision.markup() == {
        "data-vernier-slot": "hero",
        "data-vernier-variant": "a",
        "data-vernier-decision": decision.id,
    }


def test_triggers_only_from_the_control(slot: CompiledSlot) -> None:
    pinned = decide_by_rules(slot, {"device": "mobile", "hour": 20})
    assert with_triggers(slot, pinned, NO_PAUSES) == pinned and pinned.triggers == ()


def test_decision_ids_are_fresh_and_event_safe(slot: CompiledSlot) -> None:
    ids = {decide_by_rules(slot, {}).id for _ in range(200)}
    assert len(ids) == 200
    assert all(len(i) == 16 and i.replace("-", "").replace("_", "").isalnum() for i in ids)


def test_trigger_ids_follow_from_the_decision(slot: CompiledSlot) -> None:
    decision = decide_by_rules(slot, {"device": "desktop"})
    offered = [with_triggers(slot, decision, NO_PAUSES).triggers for _ in range(2)]
    assert offered[0] == offered[1]
    [(_, _, trigger_decision)] = offered[0]
    assert re.fullmatch(r"[A-Za-z0-9_-]{16}", trigger_decision)  # the form of any decision id
    assert trigger_decision == stable_decision_id(decision.id, "bored", "c")


def test_a_trigger_whose_variant_changed_gets_a_new_id(tmp_path: Path) -> None:
    """A rules reload that points the trigger at another variant: a visitor held under the same
    decision must not report the new variant under the old one's id (results count one exposure
    per id)."""
    (tmp_path / "s.yaml").write_text(
        textwrap.dedent(SLOT).replace("variant: c, after_s", "variant: b, after_s")
    )
    reloaded = load_rules(tmp_path).slots[0]
    (tmp_path / "s.yaml").write_text(textwrap.dedent(SLOT))
    before = load_rules(tmp_path).slots[0]
    decision = decide_by_rules(before, {"device": "desktop"})
    [(_, old_variant, old_id)] = with_triggers(before, decision, NO_PAUSES).triggers
    [(_, new_variant, new_id)] = with_triggers(reloaded, decision, NO_PAUSES).triggers
    assert (old_variant, new_variant) == ("c", "b") and old_id != new_id


def test_a_paused_slot_or_variant_is_offered_by_no_trigger(slot: CompiledSlot) -> None:
    """The kill switch covers the page's switches too: a trigger would swap in what is paused."""
    decision = decide_by_rules(slot, {"device": "desktop"})
    assert with_triggers(slot, decision, NO_PAUSES).triggers != ()
    for paused in (Pauses(slots=frozenset({"hero"})), Pauses(variants={"hero": frozenset({"c"})})):
        assert with_triggers(slot, decision, paused) == decision and decision.triggers == ()
    other = Pauses(variants={"hero": frozenset({"b"})})  # not the trigger's variant
    assert with_triggers(slot, decision, other).triggers != ()
