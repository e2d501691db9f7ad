"""The variant a slot gets from its rules alone: the first pin whose condition holds, else the
control. Pure; the bandit (when a slot has a policy) and governance refine this."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from proxy.decide.decision import OUTAGE, Decision, Reason, new_decision_id, stable_decision_id
from proxy.govern.control import Pauses
from proxy.rules.compiled import CompiledSlot
from proxy.rules.replay import pinned_variant


def rule_choice(slot: CompiledSlot, context: Mapping[str, object]) -> tuple[str, Reason]:
    pinned = pinned_variant(slot.pins, context)
    return (slot.control, "default") if pinned is None else (pinned, "rule")


def decide_by_rules(slot: CompiledSlot, context: Mapping[str, object]) -> Decision:
    """A fresh decision for ``slot``."""
    variant, reason = rule_choice(slot, context)
    return Decision(new_decision_id(), slot.id, variant, reason)


def with_triggers(slot: CompiledSlot, decision: Decision, pauses: Pauses) -> Decision:
    """``decision`` offering the slot's triggers while it shows the control (trigger variants are
    written against the original element, not another variant), each under its own decision id
    that follows from the decision's and the trigger's variant: a fresh decision's are as
    unguessable as its own, a held one shown again (or a HEAD's) offers the same ids, so the page
    is the same page — one ETag, a 304 for a revalidating browser — and a trigger whose variant
    a rules reload changed gets a new id (results count one exposure per id). A paused slot
    offers none, and no trigger offers a paused variant: the kill switch covers the page's
    switches too."""
    if (
        decision.variant != slot.control
        or not slot.triggers
        or slot.id in pauses.slots
        or decision.reason == OUTAGE  # nothing may change while the store cannot answer
    ):
        return decision
    offered = tuple(
        (t.id, t.variant, stable_decision_id(decision.id, t.id, t.variant))
        for t in slot.triggers
        if not pauses.variant_paused(slot.id, t.variant)
    )
    return dataclasses.replace(decision, triggers=offered) if offered else decision
