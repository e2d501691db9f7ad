"""Deciding the slots of one view for one known session: propose, govern, log.

The rules propose (a pin whose condition holds: reason ``rule``); else a split slot assigns by
the hash of (visitor, slot, salt) (``split``, with the variant's share as its probability); else
a bandit slot's model draws (``bandit``, with its probability; in apprentice mode the control is served and the draw
only logged); else the control (``default``). Governance disposes: a visitor keeps the variant
already seen unless the session's change budget allows a switch, checked and consumed in one
store round trip for all slots (``proxy/store/governance.py``). With the store unreachable
nothing changes: the variants the visitor's ``vernier_seen`` cookie names, else the controls.
Slots with ``sticky: page`` are decided afresh every time. Every decision served with a fresh id
in a slot that learns (not a sticky or held re-serve, not a pause) is logged through the decision
sink (``proxy/decide/decision_sink.py``): to the decision stream, or spooled while the store
cannot take it — including the control served to a new visitor while the store is away. Each
record carries the visitor's named and learned segments as of their first exposure to the slot
(frozen in the profile, in one write with the other slots').

Used by the decide stage (pages) and the decision API (apps, emails, server code).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from proxy.bandit.registry import ModelRegistry
from proxy.config.schema import SessionConfig
from proxy.decide.bandit import Choice, choose, logged, served_by_bandit
from proxy.decide.decision import OUTAGE, Decision, stable_decision_id
from proxy.decide.decision_sink import DecisionSink
from proxy.decide.holdout import RuleHoldouts
from proxy.decide.slots import decide_by_rules
from proxy.govern.control import NO_PAUSES, Pauses, PauseWatcher
from proxy.govern.metric_cache import MetricCache, has_evidence
from proxy.govern.sticky import SEED_FIELD, governed, proposal, unchanged, visitor_holds
from proxy.records.decision import OUTAGE_ID_PREFIX
from proxy.results.fold import frozen_covariate
from proxy.rules.compiled import CompiledSlot
from proxy.rules.limits import SessionLimits
from proxy.rules.segments import frozen_segments
from proxy.rules.split import assign
from proxy.store.client import Store
from proxy.store.governance import check_and_consume, held_in_session, hold_for_visitor
from proxy.store.profiles import freeze_fields


@dataclass(frozen=True, slots=True)
class Viewer:
    """Who the decisions are for."""

    session_id: str
    visitor_id: str | None
    profile: Mapping[str, str]
    shown: Mapping[str, tuple[str, str]]  # the vernier_seen cookie: slot -> (variant, decision)


@dataclass(frozen=True, slots=True)
class Decided:
    decisions: tuple[Decision, ...]
    shown: dict[str, tuple[str, str]] | None  # the cookie's new content, if it changed


DecideSlots = Callable[
    [Sequence[CompiledSlot], Mapping[str, object], Viewer, SessionLimits], Awaitable[Decided]
]
"""What the decide stage asks: one view's decisions (and the seen cookie's new content).
:meth:`Decider.decide` when serving; ``vernier preview`` asks the rules alone."""


# reasons of a decision served under an id already logged, or never a learning example
NOT_LOGGED = frozenset({"sticky", "held", "paused"})


def _held(slot: CompiledSlot, session: Mapping[str, str] | None, viewer: Viewer) -> Decision | None:
    """The variant a GET would keep showing: the session's (the ``vernier_seen`` cookie's when
    the store cannot answer), else a visitor-scoped slot's from the profile."""
    if slot.limits.sticky == "page":
        return None
    if session is None:
        variant, decision_id = viewer.shown.get(slot.id, ("", ""))
        value = f"{variant}|{decision_id}" if decision_id else ""
    else:
        value = session.get(slot.id, "")
    if not value and slot.limits.sticky == "visitor":
        value = viewer.profile.get(SEED_FIELD + slot.id, "")
    variant, _, decision_id = value.partition("|")
    if variant not in slot.variants or not decision_id:
        return None
    return Decision(decision_id, slot.id, variant, "sticky")


def stable(decision: Decision) -> Decision:
    """``decision`` under an id that follows from what it shows (a HEAD's, never served nor
    logged: the same for every visitor, so a HEAD's ETag does not change when it issues ids)."""
    parts = (decision.slot, decision.variant, decision.reason)
    return dataclasses.replace(decision, id=stable_decision_id(*parts))


# a HEAD's decisions already under the id a GET's would have (its form, at least)
NOT_STABLE = frozenset(("paused", OUTAGE))


def _outage_control(slot: CompiledSlot) -> Decision:
    """The control a GET shows while the store cannot answer (:func:`~proxy.govern.sticky.
    unchanged`), for a HEAD: under an outage id (so no trigger is offered, and it is as long as
    the GET's) that is the same from one HEAD to the next."""
    suffix = stable_decision_id(slot.id, slot.control, OUTAGE)
    return Decision(OUTAGE_ID_PREFIX + suffix, slot.id, slot.control, OUTAGE)


def _paused_control(slot: CompiledSlot, viewer: Viewer) -> Decision:
    """A paused slot or variant: the control, never a learning example, never held; under an id
    that is the session's own, the same on every paused view of the slot in the session, so the
    page served again is the same page (one ETag, a 304 for a revalidating browser, a HEAD that
    agrees). Never logged, it can be neither joined nor rewarded."""
    parts = (viewer.session_id, slot.id, slot.control, "paused")
    return Decision(stable_decision_id(*parts), slot.id, slot.control, "paused")


class Decider:
    """The live decider: rules, bandit and governance over the store (see the module docstring)."""

    def __init__(
        self,
        store: Store,
        session: SessionConfig,
        models: ModelRegistry | None,
        sink: DecisionSink,
        pauses: PauseWatcher | None = None,
        metrics: MetricCache | None = None,
    ) -> None:
        self._store = store
        self._sink = sink
        self._session = session
        self._models = models
        self._pauses = pauses
        self._metrics = metrics
        # the rules measured against a holdout log through the same sink
        self.holdouts = RuleHoldouts(store, sink, session_ttl_s=session.idle_timeout_s)

    async def decide(
        self,
        slots: Sequence[CompiledSlot],
        context: Mapping[str, object],
        viewer: Viewer,
        limits: SessionLimits,
    ) -> Decided:
        now_ms = int(time.time() * 1000)
        pauses = self.pauses()
        choices: dict[str, Choice] = {}
        proposed = [self._propose(slot, context, viewer, now_ms, choices, pauses) for slot in slots]
        decisions, shown = await self._govern(slots, proposed, viewer, limits, now_ms)
        decisions = [
            _paused_control(slot, viewer) if pauses.variant_paused(slot.id, d.variant) else d
            for slot, d in zip(slots, decisions, strict=True)
        ]
        served = [
            (slot, decision)
            for slot, decision in zip(slots, decisions, strict=True)
            if slot.learner is not None and decision.reason not in NOT_LOGGED
        ]
        frozen = {slot.id: frozen_segments(viewer.profile, slot.id, context) for slot, _ in served}
        # (two first exposures at once each log their own value and one is frozen, as for segments)
        covariates = {
            slot.id: frozen_covariate(viewer.profile, slot.id, context) for slot, _ in served
        }
        records = [
            logged(
                slot,
                decision,
                context,
                choices.get(slot.id),
                session=viewer.session_id,
                visitor=viewer.visitor_id,
                now_ms=now_ms,
                segments=frozen[slot.id].segments,
                cluster=frozen[slot.id].cluster,
                covariate=covariates[slot.id][0],
            )
            for slot, decision in served
        ]
        await self._sink.log(records)
        unset = [found.unset for found in frozen.values()]
        await self._freeze(viewer, [*unset, *(fields for _, fields in covariates.values())])
        return Decided(tuple(decisions), shown)

    def pauses(self) -> Pauses:
        """The pauses in force now (what the triggers a page offers must respect too)."""
        return self._pauses.current if self._pauses is not None else NO_PAUSES

    async def peek(
        self, slots: Sequence[CompiledSlot], context: Mapping[str, object], viewer: Viewer
    ) -> tuple[Decision, ...]:
        """What a GET would show this session now, read only (a HEAD): the variants the session
        (or, for visitor-scoped slots, the visitor) holds, under their decision ids; for the
        rest, what the rules or the split would propose (a bandit's draw is not foreseen: the
        rules' choice), under ids that stay the same from one HEAD to the next.
        Nothing is logged, held or spent, so a change the budget would allow is not foreseen."""
        now_ms = int(time.time() * 1000)
        pauses = self.pauses()
        held_slots = [slot.id for slot in slots if slot.limits.sticky != "page"]
        held = await held_in_session(self._store, viewer.session_id, held_slots)
        out: list[Decision] = []
        for slot in slots:
            proposed = self._propose(slot, context, viewer, now_ms, {}, pauses)
            if proposed.reason == "bandit":  # a draw: not the same from one HEAD to the next
                proposed = decide_by_rules(slot, context)
            kept = _held(slot, held, viewer) if proposed.reason != "paused" else None
            if kept is not None and pauses.variant_paused(slot.id, kept.variant):
                kept = None
                proposed = _paused_control(slot, viewer)
            if (
                kept is None
                and held is None
                and slot.limits.sticky != "page"  # a GET governs (and so replaces) only these
                and proposed.reason != "paused"
            ):
                proposed = _outage_control(slot)  # what a GET shows while the store is out
            out.append(kept or (proposed if proposed.reason in NOT_STABLE else stable(proposed)))
        return tuple(out)

    async def _freeze(self, viewer: Viewer, unset: Iterable[Mapping[str, str]]) -> None:
        """Keep each slot's segments and covariate as of this first exposure in the visitor's
        profile (``unset``: the fields not frozen yet)."""
        new = {name: value for fields in unset for name, value in fields.items()}
        if new and viewer.visitor_id is not None:
            ttl_s = self._session.visitor_max_age_s
            await freeze_fields(self._store, viewer.visitor_id, new, ttl_s=ttl_s)

    def _propose(
        self,
        slot: CompiledSlot,
        context: Mapping[str, object],
        viewer: Viewer,
        now_ms: int,
        choices: dict[str, Choice],
        pauses: Pauses,
    ) -> Decision:
        if slot.id in pauses.slots:
            return _paused_control(slot, viewer)
        decision = decide_by_rules(slot, context)
        if slot.split and decision.reason == "default" and context.get("device") != "bot":
            unit = viewer.visitor_id or viewer.session_id
            variant, probability = assign(slot.split, unit, slot.id, slot.salt)
            decision = Decision(decision.id, slot.id, variant, "split", probability)
        if pauses.variant_paused(slot.id, decision.variant):
            return _paused_control(slot, viewer)
        learner = slot.learner
        if (
            decision.reason != "default"
            or learner is None
            or not learner.bandit
            or learner.mode == "log-only"
            or self._models is None
            or context.get("device") == "bot"  # bots are never explored on, nor learned from
        ):
            return decision
        live = self._models.model_for(slot)
        choice = choose(
            slot,
            context,
            live,
            seed=viewer.session_id,
            now_ms=now_ms,
            paused=pauses.variants.get(slot.id, frozenset()),
            explore_only=not self._has_evidence(slot),
        )
        choices[slot.id] = choice
        return served_by_bandit(slot, choice)

    def _has_evidence(self, slot: CompiledSlot) -> bool:
        wanted = slot.limits.min_impressions
        if wanted <= 0:
            return True
        fields = self._metrics.fields if self._metrics is not None else {}
        return has_evidence(fields, slot.id, slot.variants, wanted)

    async def _govern(
        self,
        slots: Sequence[CompiledSlot],
        proposed: list[Decision],
        viewer: Viewer,
        limits: SessionLimits,
        now_ms: int,
    ) -> tuple[list[Decision], dict[str, tuple[str, str]] | None]:
        decisions = list(proposed)
        held = [
            i
            for i, slot in enumerate(slots)
            if slot.limits.sticky != "page" and proposed[i].reason != "paused"
        ]
        if not held:
            return decisions, None
        kept = [slots[i] for i in held]
        verdicts = await check_and_consume(
            self._store,
            viewer.session_id,
            [
                proposal(slot, proposed[i], viewer.profile)
                for i, slot in zip(held, kept, strict=True)
            ],
            now_ms=now_ms,
            ttl_s=self._session.idle_timeout_s,
            session_changes=limits.session_changes,
            min_interval_ms=round(limits.min_interval_s * 1000),
            max_slots_per_page=limits.max_slots_per_page,
        )
        if verdicts is None:
            for i, slot in zip(held, kept, strict=True):
                decisions[i] = unchanged(slot, viewer.shown)
            return decisions, None
        for i, slot, (verdict, variant, decision_id) in zip(
            held, kept, verdicts.items, strict=True
        ):
            decisions[i] = governed(slot, proposed[i], verdict, variant, decision_id)
        served = [decisions[i] for i in held]
        holds = visitor_holds(kept, [v for v, _, _ in verdicts.items], served)
        if holds and viewer.visitor_id is not None:
            await hold_for_visitor(
                self._store, viewer.visitor_id, holds, ttl_s=self._session.visitor_max_age_s
            )
        shown = {**viewer.shown, **{d.slot: (d.variant, d.id) for d in served}}
        return decisions, (shown if shown != viewer.shown else None)
