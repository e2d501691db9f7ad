"""decide: the variant each slot in scope shows on this page view, and why; and the arm of each
rule measured against a holdout.

The rules, the bandit and the session's change budget decide (:mod:`proxy.decide.decider`).
This stage adds what is particular to pages: a first page gets its ids here (variants are held
per session), the ``vernier_seen`` cookie is refreshed, and slots showing their control offer
their in-page triggers. A visitor who opted out of tracking gets the rules' choice only: no ids,
no budget, no bandit, no triggers (the tracker that would apply them is not sent either). A HEAD
is not a page view: nothing is logged, held or spent; it shows the variants the session already
holds (read from the store), so its length and ETag are those of the visitor's GET, and for a
visitor holding nothing the rules' choices (with the triggers a control offers) under ids that
do not change between HEADs.

A rule with ``holdout:`` whose conditions hold is decided first (:mod:`proxy.decide.holdout`):
a visitor in its holdout does not get its edits (the rule leaves ``ex.rules``), and the page is
private either way. Bots and opted-out visitors get the edits, and nothing is logged. A HEAD
from a visitor with ids gets the arm its GET would (the arm is a hash of the ids), logged
nowhere, so its length and validators agree with the page; a HEAD with no ids gets the edits.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence

from proxy.decide.decider import DecideSlots, Viewer, stable
from proxy.decide.decision import Decision
from proxy.decide.slots import decide_by_rules, with_triggers
from proxy.exchange import Exchange
from proxy.govern import fallback
from proxy.govern.control import NO_PAUSES, Pauses
from proxy.rules.compiled import CompiledRule, CompiledSlot
from proxy.rules.holdout import HOLDOUT, holdout_arm
from proxy.session.cookie import cookie_header
from proxy.session.issuer import IdIssuer

DecideRules = Callable[
    [Sequence[CompiledRule], Mapping[str, object], str, str | None],
    Awaitable[tuple[Decision, ...]],
]
"""The arms of one page's holdout rules for (session, visitor), logged:
:class:`proxy.decide.holdout.RuleHoldouts`."""
PeekSlots = Callable[
    [Sequence[CompiledSlot], Mapping[str, object], Viewer], Awaitable[tuple[Decision, ...]]
]
"""What a HEAD reads: the decisions a GET would show, nothing logged (:meth:`Decider.peek`)."""


# the session a HEAD without ids reads: no session id is ever this (ids are 32 hex digits)
NO_SESSION = "-none-"


class Decide:
    name = "decide"

    def __init__(
        self,
        decide_slots: DecideSlots,
        issuer: IdIssuer,
        decide_rules: DecideRules | None = None,
        peek_slots: PeekSlots | None = None,
        pauses: Callable[[], Pauses] = lambda: NO_PAUSES,
    ) -> None:
        self._pauses = pauses  # the pauses in force now: no trigger offers a paused variant
        self._peek_slots = peek_slots
        self._decide_slots = decide_slots
        self._issuer = issuer
        self._decide_rules = decide_rules

    async def __call__(self, ex: Exchange) -> None:
        if ex.rules and ex.engine is not None and ex.engine.ruleset.holdout_rules:
            await self._hold_out(ex)
        context = ex.context
        if not ex.slots or context is None:
            return
        ex.personalised = True
        if ex.request.method == "HEAD":
            await self._as_a_get_would(ex, context)
            return
        if not self._in_experiments(ex):
            ex.decisions = tuple(decide_by_rules(slot, context) for slot in ex.slots)
            return
        assert ex.engine is not None  # match sets the engine before any slot
        self._issue_ids(ex)
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
        pauses = self._pauses()
        ex.decisions = tuple(
            with_triggers(slot, decision, pauses)
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

    async def _as_a_get_would(self, ex: Exchange, context: Mapping[str, object]) -> None:
        """A HEAD: the variants this session's GET would show, read without logging, holding
        or spending anything; under ids that stay the same from one HEAD to the next, so its
        length and ETag are those of the GET for a returning visitor, and stable for others."""
        identity = ex.identity
        # a visitor without ids holds nothing; asked all the same, so that while the store
        # cannot answer the HEAD shows the outage control its first GET would
        session_id = identity.session_id or NO_SESSION
        in_experiments = self._in_experiments(ex)
        pauses = self._pauses()
        if self._peek_slots is None or not in_experiments:
            ruled = (stable(decide_by_rules(slot, context)) for slot in ex.slots)
            ex.decisions = tuple(
                # a visitor the experiments see gets the triggers a control offers, as on a GET
                with_triggers(slot, decision, pauses) if in_experiments else decision
                for slot, decision in zip(ex.slots, ruled, strict=True)
            )
            return
        viewer = Viewer(
            session_id=session_id,
            visitor_id=identity.visitor_id,
            profile=ex.profile,
            shown=fallback.parse(ex.request.cookies.get(fallback.COOKIE_NAME)),
        )
        decided = await self._peek_slots(ex.slots, context, viewer)
        ex.decisions = tuple(
            with_triggers(slot, decision, pauses)
            for slot, decision in zip(ex.slots, decided, strict=True)
        )

    @staticmethod
    def _in_experiments(ex: Exchange) -> bool:
        """Whether this view is one the experiments see: a trackable visitor's (a GET is
        randomised, logged and held; a HEAD reads what is held)."""
        identity = ex.identity
        return identity.trackable and not identity.consent_pending

    def _issue_ids(self, ex: Exchange) -> None:
        if ex.identity.session_id is None:  # a first page: ids are needed to hold variants
            ex.set_cookies += self._issuer.issue_missing(ex.identity)

    async def _hold_out(self, ex: Exchange) -> None:
        """Decide the page's holdout rules; a held-out one leaves ``ex.rules``."""
        measured = [rule for rule in ex.rules if rule.holdout]
        context = ex.context
        if not measured or context is None:
            return
        ex.personalised = True  # the page now depends on who asks, whatever the arm
        identity = ex.identity
        if (
            self._decide_rules is None
            or not identity.trackable
            or identity.consent_pending
            or context.get("device") == "bot"
        ):
            return
        if ex.request.method == "HEAD":  # what the GET would show, nothing logged
            unit = identity.visitor_id or identity.session_id
            if unit is not None:
                held = {r.id for r in measured if holdout_arm(r, unit)[0] == HOLDOUT}
                ex.rules = tuple(rule for rule in ex.rules if rule.id not in held)
            return
        self._issue_ids(ex)
        assert ex.identity.session_id is not None
        decided = await self._decide_rules(
            measured, context, ex.identity.session_id, ex.identity.visitor_id
        )
        held = {d.slot for d in decided if d.variant == HOLDOUT}
        if held:
            ex.rules = tuple(rule for rule in ex.rules if rule.id not in held)
        ex.rule_decisions = decided
