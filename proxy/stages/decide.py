"""decide: the variant each slot in scope shows on this page view, and why.

A pin whose condition holds decides (reason ``rule``); otherwise the slot shows its control
(``default``). Every decision gets a fresh id that the page carries, so a page with a slot is
always personal (never for shared caches). The bandit and the change governance refine this.
"""

from __future__ import annotations

from proxy.decide.slots import decide_by_rules
from proxy.exchange import Exchange


class Decide:
    name = "decide"

    async def __call__(self, ex: Exchange) -> None:
        if not ex.slots or ex.context is None:
            return
        # a trigger needs the tracker, which a visitor who opted out does not get
        offer = ex.identity.trackable and not ex.identity.consent_pending
        ex.decisions = tuple(
            decide_by_rules(slot, ex.context, offer_triggers=offer) for slot in ex.slots
        )
        ex.personalised = True
