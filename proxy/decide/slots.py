"""The variant a slot gets from its rules alone: the first pin whose condition holds, else the
control. Pure; the bandit (when a slot has a policy) and governance refine this."""

from __future__ import annotations

from collections.abc import Mapping

from proxy.decide.decision import Decision, Reason, new_decision_id
from proxy.rules.conditions import evaluate
from proxy.rules.load import CompiledSlot


def rule_choice(slot: CompiledSlot, context: Mapping[str, object]) -> tuple[str, Reason]:
    for pin in slot.pins:
        if evaluate(pin.when, context):
            return pin.variant, "rule"
    return slot.control, "default"


def decide_by_rules(
    slot: CompiledSlot, context: Mapping[str, object], *, offer_triggers: bool = True
) -> Decision:
    """A fresh decision for ``slot``. While it shows its control, the slot's triggers are offered
    (their variants are written against the original element, not against another variant)."""
    variant, reason = rule_choice(slot, context)
    offered = slot.triggers if offer_triggers and variant == slot.control else ()
    triggers = tuple((t.id, t.variant, new_decision_id()) for t in offered)
    return Decision(new_decision_id(), slot.id, variant, reason, 1.0, triggers)
