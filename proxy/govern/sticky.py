"""From proposals and the store's verdicts to the decisions served (pure).

A proposal is what the rules (or the bandit) would show now. Governance keeps what the visitor
already saw unless a change is allowed; a kept variant is served under its original decision id
(reason ``sticky``, or ``held`` when a change was refused), so it is never a new learning example.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from proxy.decide.decision import OUTAGE, Decision, new_decision_id
from proxy.records.decision import outage_decision_id
from proxy.rules.compiled import CompiledSlot
from proxy.store.governance import Proposal, Verdict

SEED_FIELD = "sticky:"  # profile field prefix of visitor-scoped variants: sticky:<slot>


def proposal(slot: CompiledSlot, decision: Decision, profile: Mapping[str, str]) -> Proposal:
    limits = slot.limits
    seed = profile.get(SEED_FIELD + slot.id, "") if limits.sticky == "visitor" else ""
    return Proposal(
        slot=slot.id,
        variant=decision.variant,
        decision=decision.id,
        changes_per_session=limits.changes_per_session,
        cooldown_ms=round(limits.cooldown_s * 1000),
        seed=seed if "|" in seed else "",
    )


def governed(
    slot: CompiledSlot, proposed: Decision, verdict: Verdict, variant: str, decision_id: str
) -> Decision:
    """The decision served for the store's verdict on ``proposed``."""
    if verdict in ("new", "changed"):
        return proposed
    if variant not in slot.variants:  # held from a rule set that had this variant
        return Decision(new_decision_id(), slot.id, slot.control, "default")
    return Decision(decision_id, slot.id, variant, "sticky" if verdict == "sticky" else "held")


def unchanged(slot: CompiledSlot, shown: Mapping[str, tuple[str, str]]) -> Decision:
    """With the store unreachable: the variant the visitor's cookie names, else the control,
    outside the experiments (:data:`~proxy.decide.decision.OUTAGE`)."""
    variant, decision_id = shown.get(slot.id, (slot.control, ""))
    if variant not in slot.variants or not decision_id:
        return Decision(outage_decision_id(), slot.id, slot.control, OUTAGE)
    return Decision(decision_id, slot.id, variant, "held")


def visitor_holds(
    slots: Sequence[CompiledSlot], verdicts: Sequence[Verdict], decisions: Sequence[Decision]
) -> dict[str, str]:
    """``slot -> "variant|decision"`` to record for visitor-scoped slots that got a new variant."""
    return {
        slot.id: f"{decision.variant}|{decision.id}"
        for slot, verdict, decision in zip(slots, verdicts, decisions, strict=True)
        if slot.limits.sticky == "visitor" and verdict in ("new", "changed")
    }
