"""The slots the learner trains, and what it holds for each: a model, its settings, its drift watch.

:func:`learning_slots` says which slots of a rule set learn; a :class:`SlotModel` is one such
slot's model between checkpoints, with the examples it keeps to choose interactions from.
:func:`reloaded` carries a model over to new settings of the same feature space. The learner's
state (:mod:`proxy.bandit.learner_state`) holds one per slot; :mod:`proxy.bandit.slot_models`
opens, keeps or reloads them when the rules change.
"""

from __future__ import annotations

import dataclasses

import msgspec

from proxy.bandit.drift import DriftWatch
from proxy.bandit.interaction_choice import SlotChoice
from proxy.bandit.model import BanditModel
from proxy.govern.guardrail import slot_reward_range
from proxy.records.snapshot import Snapshot
from proxy.rules.compiled import RuleSet, SlotLearner


@dataclasses.dataclass(slots=True)
class SlotModel:
    """One learning slot's model, its settings, and what it learned since the last checkpoint."""

    slot: str
    spec: SlotLearner
    model: BanditModel
    learned_since: int = 0  # examples since the last checkpoint
    snapshot: Snapshot | None = None  # the last one checkpointed
    watch: DriftWatch = dataclasses.field(init=False)  # learns, and restarts on a drift
    # the examples kept to choose interactions from, when the slot did not write them
    choice: SlotChoice | None = None

    def __post_init__(self) -> None:
        self.watch = watch_for(self.spec)
        if self.choice is None and self.spec.policy.interactions is None:
            self.choice = SlotChoice(self.model.policy.interactions)

    @property
    def chosen_interactions(self) -> tuple[str, ...] | None:
        """What a snapshot records: the set the learner chose (``None``: the policy's own)."""
        return self.choice.chosen if self.choice is not None else None


def watch_for(spec: SlotLearner) -> DriftWatch:
    """The drift watch of a slot's settings (``bandit.drift``; off: it only learns)."""
    low, high = slot_reward_range(spec.reward)
    return DriftWatch(spec.policy.drift, spec.actions, reward_low=low, reward_high=high)


def learning_slots(ruleset: RuleSet) -> dict[str, SlotLearner]:
    """The slots the learner trains a model for: ``policy: bandit``, mode live or apprentice."""
    return {
        slot.id: slot.learner
        for slot in ruleset.slots
        if slot.learner is not None and slot.learner.bandit and slot.learner.mode != "log-only"
    }


def reloaded(model: BanditModel, spec: SlotLearner) -> BanditModel:
    """``model`` under ``spec``'s policy (same feature space, e.g. a new exploration rate),
    with the interactions the learner chose for it, if any."""
    policy = spec.policy
    if policy.interactions is None:
        policy = msgspec.structs.replace(policy, interactions=model.policy.interactions)
    copy = BanditModel.from_bytes(model.to_bytes(), policy)
    copy.examples_learned = model.examples_learned
    model.finish()
    return copy
