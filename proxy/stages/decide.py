"""decide: the variant each slot in scope shows on this page view, and why.

The rules, the bandit and the session's change budget decide (:mod:`proxy.decide.decider`).
This stage adds what is particular to pages: a first page gets its ids here (variants are held
per session), the ``vernier_seen`` cookie is refreshed, and slots showing their control offer
their in-page triggers. A visitor who opted out of tracking gets the rules' choice only: no ids,
no budget, no bandit, no triggers (the tracker that would apply them is not sent either). So does
a HEAD, which is not a page view: nothing is logged or spent, and its length is that of the
page with the rules' choices.
"""

from __future__ import annotations

from proxy.decide.decider import DecideSlots, Viewer
from proxy.decide.slots import decide_by_rules, with_triggers
from proxy.exchange import Exchange
from proxy.govern import fallback
from proxy.session.cookie import cookie_header
from proxy.session.issuer import IdIssuer


class Decide:
    name = "decide"

    def __init__(self, decide_slots: DecideSlots, issuer: IdIssuer) -> None:
        self._decide_slots = decide_slots
        self._issuer = issuer

    async def __call__(self, ex: Exchange) -> None:
        context = ex.context
        if not ex.slots or context is None:
            return
        ex.personalised = True
        if not ex.identity.trackable or ex.identity.consent_pending or ex.request.method == "HEAD":
            ex.decisions = tuple(decide_by_rules(slot, context) for slot in ex.slots)
            return
        assert ex.engine is not None  # match sets the engine before any slot
        if ex.identity.session_id is None:  # a first page: ids are needed to hold variants
            ex.set_cookies += self._issuer.issue_missing(ex.identity)
        assert ex.identity.session_id is not None
        viewer = Viewer(
            session_id=ex.identity.session_id,
            visitor_id=ex.identity.visitor_id,
            profile=ex.profile,
            shown=fallback.parse(ex.request.cookies.get(fallback.COOKIE_NAME)),
        )
        decided = await self._decide_slots(
            ex.slots, context, viewer, ex.engine.ruleset.session_limits
        )
        ex.decisions = tuple(
            with_triggers(slot, decision)
            for slot, decision in zip(ex.slots, decided.decisions, strict=True)
        )
        if decided.shown is not None:
            ex.set_cookies.append(
                cookie_header(
                    fallback.COOKIE_NAME,
                    fallback.render(decided.shown),
                    max_age_s=self._issuer.config.visitor_max_age_s,
                    secure=self._issuer.secure,
                )
            )
