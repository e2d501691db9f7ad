"""decide: the variant each slot in scope shows on this page view, and why.

The rules propose (a pin whose condition holds: reason ``rule``); else a bandit slot's model
draws (``bandit``, with its probability; in apprentice mode the control is served and the draw
only logged); else the control (``default``). Governance disposes: a visitor keeps the variant already seen unless the session's change budget
allows a switch, checked and consumed in one store round trip for all slots of the page
(``proxy/store/governance.py``). With the store unreachable nothing changes: the variants of
the visitor's ``vernier_seen`` cookie, else the controls. Slots with ``sticky: page`` are decided
afresh on every view. Every decision id is unique to a view or kept from one, so a page with a
slot is always personal (never for shared caches). Decisions served with a fresh id in slots
that learn are appended to the decision stream for the learner (``proxy/store/decision_log.py``).
"""

from __future__ import annotations

import time

from proxy.bandit.registry import ModelRegistry
from proxy.config.schema import SessionConfig
from proxy.decide.bandit import Choice, choose, logged, served_by_bandit
from proxy.decide.decision import Decision
from proxy.decide.slots import decide_by_rules, with_triggers
from proxy.exchange import Exchange
from proxy.govern import fallback
from proxy.govern.sticky import governed, proposal, unchanged, visitor_holds
from proxy.rules.load import CompiledSlot
from proxy.session.cookie import cookie_header
from proxy.session.issuer import IdIssuer
from proxy.store.client import Store
from proxy.store.decision_log import log_decisions
from proxy.store.governance import check_and_consume, hold_for_visitor


class Decide:
    name = "decide"

    def __init__(
        self,
        store: Store | None,
        issuer: IdIssuer | None,
        session: SessionConfig,
        models: ModelRegistry | None = None,
    ) -> None:
        """Without a store (and issuer), slots are decided by the rules alone, with no budget
        and no bandit (``vernier preview``)."""
        self._store = store
        self._issuer = issuer
        self._session = session
        self._models = models

    async def __call__(self, ex: Exchange) -> None:
        context = ex.context
        if not ex.slots or context is None:
            return
        ex.personalised = True
        # a visitor who opted out is not tracked: no ids, no budget, no bandit, no triggers
        if not ex.identity.trackable or ex.identity.consent_pending:
            ex.decisions = tuple(decide_by_rules(slot, context) for slot in ex.slots)
            return
        if self._store is None or self._issuer is None:
            ex.decisions = tuple(
                with_triggers(slot, decide_by_rules(slot, context)) for slot in ex.slots
            )
            return
        if ex.identity.session_id is None:  # a first page: ids are needed to hold variants
            ex.set_cookies += self._issuer.issue_missing(ex.identity)
        now_ms = int(time.time() * 1000)
        choices: dict[str, Choice] = {}
        proposed = [self._propose(ex, slot, context, now_ms, choices) for slot in ex.slots]
        decisions = await self._govern(self._store, ex, proposed)
        ex.decisions = tuple(
            with_triggers(slot, decision)
            for slot, decision in zip(ex.slots, decisions, strict=True)
        )
        records = [
            logged(
                slot,
                decision,
                context,
                choices.get(slot.id),
                session=ex.identity.session_id,
                visitor=ex.identity.visitor_id,
                now_ms=now_ms,
            )
            for slot, decision, fresh in zip(ex.slots, decisions, proposed, strict=True)
            if slot.learner is not None and decision is fresh
        ]
        await log_decisions(self._store, records)

    def _propose(
        self,
        ex: Exchange,
        slot: CompiledSlot,
        context: dict[str, object],
        now_ms: int,
        choices: dict[str, Choice],
    ) -> Decision:
        decision = decide_by_rules(slot, context)
        learner = slot.learner
        if (
            decision.reason != "default"
            or learner is None
            or not learner.bandit
            or learner.mode == "log-only"
            or self._models is None
            or ex.identity.session_id is None
            or context.get("device") == "bot"  # bots are never explored on, nor learned from
        ):
            return decision
        live = self._models.model_for(slot)
        choice = choose(slot, context, live, seed=ex.identity.session_id, now_ms=now_ms)
        choices[slot.id] = choice
        return served_by_bandit(slot, choice)

    async def _govern(self, store: Store, ex: Exchange, proposed: list[Decision]) -> list[Decision]:
        assert ex.engine is not None and ex.identity.session_id is not None
        decisions = list(proposed)
        held = [i for i, slot in enumerate(ex.slots) if slot.limits.sticky != "page"]
        if not held:
            return decisions
        slots = [ex.slots[i] for i in held]
        limits = ex.engine.ruleset.session_limits
        verdicts = await check_and_consume(
            store,
            ex.identity.session_id,
            [proposal(slot, proposed[i], ex.profile) for i, slot in zip(held, slots, strict=True)],
            now_ms=int(time.time() * 1000),
            ttl_s=self._session.idle_timeout_s,
            session_changes=limits.session_changes,
            min_interval_ms=round(limits.min_interval_s * 1000),
            max_slots_per_page=limits.max_slots_per_page,
        )
        shown = fallback.parse(ex.request.cookies.get(fallback.COOKIE_NAME))
        if verdicts is None:
            for i, slot in zip(held, slots, strict=True):
                decisions[i] = unchanged(slot, shown)
            return decisions
        for i, slot, (verdict, variant, decision_id) in zip(
            held, slots, verdicts.items, strict=True
        ):
            decisions[i] = governed(slot, proposed[i], verdict, variant, decision_id)
        served = [decisions[i] for i in held]
        holds = visitor_holds(slots, [v for v, _, _ in verdicts.items], served)
        if holds and ex.identity.visitor_id is not None:
            await hold_for_visitor(
                store, ex.identity.visitor_id, holds, ttl_s=self._session.visitor_max_age_s
            )
        self._remember(ex, served, shown)
        return decisions

    def _remember(
        self, ex: Exchange, served: list[Decision], shown: dict[str, tuple[str, str]]
    ) -> None:
        """Refresh the ``vernier_seen`` cookie when what it should say changed."""
        now_shown = {**shown, **{d.slot: (d.variant, d.id) for d in served}}
        if now_shown == shown or self._issuer is None:
            return
        ex.set_cookies.append(
            cookie_header(
                fallback.COOKIE_NAME,
                fallback.render(now_shown),
                max_age_s=self._issuer.config.visitor_max_age_s,
                secure=self._issuer.secure,
            )
        )
