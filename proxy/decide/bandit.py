"""A bandit slot's proposal: the model's probabilities for this context, and a seeded draw.

The draw is a pure function of (session, slot, model version): the same visitor keeps the same
choice while the model says the same, a new model version draws anew, and a logged decision can
be replayed. The logged record carries everything learning and offline evaluation need.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from proxy.bandit.features import context_features
from proxy.bandit.registry import LiveModel
from proxy.bandit.sampling import sample, seed_key
from proxy.decide.decision import Decision, new_decision_id
from proxy.records.decision import LoggedDecision
from proxy.rules.compiled import CompiledSlot
from proxy.rules.replay import logged_context

SharedFeatures = dict[str, list[str]]


@dataclass(frozen=True, slots=True)
class Choice:
    """What the bandit said for one slot on one page view."""

    shared: SharedFeatures
    pmf: tuple[float, ...]
    variant: str  # the bandit's pick
    probability: float
    model: str  # LiveModel.name


def choose(
    slot: CompiledSlot,
    context: Mapping[str, object],
    live: LiveModel,
    *,
    seed: str,
    now_ms: int,
    paused: frozenset[str] = frozenset(),
    explore_only: bool = False,
) -> Choice:
    """The model's draw; ``paused`` variants get probability 0 (the rest renormalised, so the
    logged probability is the one the variant really had). ``explore_only``: a uniform draw
    (the slot is still gathering its minimum evidence); so is every draw until the model has
    learned the policy's ``uniform_first`` examples."""
    learner = slot.learner
    assert learner is not None
    shared = context_features(context, learner.policy, now_ms=now_ms)
    n = len(learner.actions)
    uniform = explore_only or live.model.examples_learned < learner.policy.uniform_first
    pmf = [1.0 / n] * n if uniform else live.model.predict(shared, learner.actions)
    if paused:
        pmf = [0.0 if v in paused else p for v, p in zip(learner.actions.ids, pmf, strict=True)]
        total = sum(pmf)
        pmf = [p / total for p in pmf] if total > 0 else pmf
    index, probability = sample(pmf, seed_key(seed, slot.id, live.name))
    return Choice(shared, tuple(pmf), learner.actions.ids[index], probability, live.name)


def served_by_bandit(slot: CompiledSlot, choice: Choice) -> Decision:
    """The decision for a live bandit slot: the bandit's pick with its probability; in
    apprentice mode the control (certain), the pick only logged."""
    learner = slot.learner
    assert learner is not None
    if learner.mode == "apprentice":
        return Decision(new_decision_id(), slot.id, slot.control, "default")
    return Decision(new_decision_id(), slot.id, choice.variant, "bandit", choice.probability)


def _logged_pmf(
    slot: CompiledSlot, decision: Decision, choice: Choice | None
) -> tuple[float, ...] | None:
    """The probabilities the decision was drawn with: the bandit's, or a split's shares."""
    if decision.reason == "bandit" and choice is not None:
        return choice.pmf
    if decision.reason == "split":
        return tuple(p for _, p in slot.split)
    return None


def logged(
    slot: CompiledSlot,
    decision: Decision,
    context: Mapping[str, object],
    choice: Choice | None,
    *,
    session: str | None,
    visitor: str | None,
    now_ms: int,
    segments: tuple[str, ...] | None = None,
    cluster: str | None = None,
    covariate: float | None = None,
) -> LoggedDecision:
    """The decision stream's record of a decision served with a fresh id."""
    learner = slot.learner
    assert learner is not None
    shared = choice.shared if choice else context_features(context, learner.policy, now_ms=now_ms)
    return LoggedDecision(
        id=decision.id,
        slot=slot.id,
        actions=learner.actions.ids,
        chosen=decision.variant,
        p=decision.probability,
        context={ns: tuple(tokens) for ns, tokens in shared.items()},
        pmf=_logged_pmf(slot, decision, choice),
        reason=decision.reason,
        ts_ms=now_ms,
        session=session,
        visitor=visitor,
        model_version=choice.model if choice else None,
        rule_context=logged_context(context),
        would=choice.variant if choice and learner.mode == "apprentice" else None,
        mode=learner.mode,
        segments=segments,
        cluster=cluster,
        covariate=covariate,
    )
