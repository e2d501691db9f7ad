"""Deciding slots by the rules alone: no bandit, no change budget, no store.

``vernier preview`` runs the proxy's own decide stage with it, so a preview shows what the rules
pin for the imagined visitor, and nothing is held, logged or counted anywhere. With
``--variant SLOT=V`` the operator chooses a slot's variant instead (any variant, also one only the
bandit would draw), to see its diff. The pauses read from the store apply as the live decider
applies them (:mod:`proxy.decide.decider`): a paused slot, or a slot whose pinned variant is
paused, shows its control with the reason ``paused``; a variant chosen with ``--variant`` is shown
even when paused, since the operator asked for it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from proxy.decide.decider import Decided, DecideSlots, Viewer
from proxy.decide.decision import Decision, new_decision_id
from proxy.decide.slots import decide_by_rules
from proxy.govern.control import NO_PAUSES, Pauses
from proxy.rules.compiled import CompiledSlot
from proxy.rules.limits import SessionLimits


async def decide_by_rules_alone(
    slots: Sequence[CompiledSlot], context: Mapping[str, object], _: Viewer, __: SessionLimits
) -> Decided:
    """Each slot gets its first pin whose condition holds, else its control (a
    :data:`~proxy.decide.decider.DecideSlots`)."""
    return Decided(tuple(decide_by_rules(slot, context) for slot in slots), shown=None)


def decide_paused(slot: CompiledSlot, context: Mapping[str, object], pauses: Pauses) -> Decision:
    """The rules' decision for ``slot`` under ``pauses``, as the live decider makes it."""
    if slot.id in pauses.slots:
        return Decision(new_decision_id(), slot.id, slot.control, "paused")
    decision = decide_by_rules(slot, context)
    if pauses.variant_paused(slot.id, decision.variant):
        return Decision(new_decision_id(), slot.id, slot.control, "paused")
    return decision


def decide_with_choices(chosen: Mapping[str, str], pauses: Pauses = NO_PAUSES) -> DecideSlots:
    """Slots named in ``chosen`` (slot -> variant, checked by the caller) show that variant; the
    others are decided by the rules alone under ``pauses``. The reason of a chosen variant stays
    ``rule``: the rules file named it."""

    async def decide(
        slots: Sequence[CompiledSlot], context: Mapping[str, object], _: Viewer, __: SessionLimits
    ) -> Decided:
        return Decided(
            tuple(
                Decision(new_decision_id(), slot.id, chosen[slot.id], "rule")
                if slot.id in chosen
                else decide_paused(slot, context, pauses)
                for slot in slots
            ),
            shown=None,
        )

    return decide
