"""Deciding slots by the rules alone: no bandit, no change budget, no store.

``vernier preview`` runs the proxy's own decide stage with it, so a preview shows what the rules
pin for the imagined visitor, and nothing is held, logged or counted anywhere.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from proxy.decide.decider import Decided, Viewer
from proxy.decide.slots import decide_by_rules
from proxy.rules.limits import SessionLimits
from proxy.rules.load import CompiledSlot


async def decide_by_rules_alone(
    slots: Sequence[CompiledSlot], context: Mapping[str, object], _: Viewer, __: SessionLimits
) -> Decided:
    """Each slot gets its first pin whose condition holds, else its control (a
    :data:`~proxy.decide.decider.DecideSlots`)."""
    return Decided(tuple(decide_by_rules(slot, context) for slot in slots), shown=None)
