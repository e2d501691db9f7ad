"""The learner's model for each learning slot, kept in step with the live rules.

When the rules change, each slot's model is kept (same feature space), reloaded with the new
rates (same feature space, other policy settings), or opened: from the newest of the slot's
checkpointed and published snapshots that passes the snapshot checks
(:func:`~proxy.bandit.snapshot.load_snapshot`: checksum, feature space, canary prediction), else
a fresh model. Old weights are never loaded into another feature space. Which snapshots are
candidates, and in what order, is the pure :class:`~proxy.bandit.learner_state.LearnerState`'s
call; this module reads the store and runs VW in the default executor (opening a model takes
~20 ms). A slot no longer in the rules has its model finished.

A slot that writes no ``interactions`` has its model replaced a second way: when it reaches a
selection count, the interactions are chosen from its kept examples and, when the set changes,
the model is retrained with them (:func:`choose_interactions`).
"""

from __future__ import annotations

import asyncio
import functools
import logging
from pathlib import Path

from proxy.bandit.example_log import recent_examples
from proxy.bandit.interaction_choice import MAX_EXAMPLES
from proxy.bandit.learner_state import LearnerState
from proxy.bandit.learning_slot import SlotModel, learning_slots, reloaded, watch_for
from proxy.bandit.model import BanditModel
from proxy.bandit.snapshot import load_snapshot
from proxy.records.snapshot import SnapshotRefused, decode_snapshot
from proxy.rules.compiled import RuleSet, SlotLearner
from proxy.store import learner_state
from proxy.store.client import Store

log = logging.getLogger("vernier.learner")


async def sync(store: Store, core: LearnerState, ruleset: RuleSet, *, timeout_s: float) -> bool:
    """Models for the slots of ``ruleset`` in ``core.models``: kept, reloaded, or opened;
    ``False`` if the store did not answer (the models opened so far are kept)."""
    wanted = learning_slots(ruleset)
    held_models = core.models
    for slot in [s for s in held_models if s not in wanted]:
        held_models.pop(slot).model.finish()
    for slot, spec in wanted.items():
        held = held_models.get(slot)
        if held is not None and held.spec.feature_space == spec.feature_space:
            if held.spec.policy != spec.policy:  # same shape, new rates: reload with them
                held.model = await asyncio.get_running_loop().run_in_executor(
                    None, reloaded, held.model, spec
                )
            if held.spec.policy.drift != spec.policy.drift or held.spec.reward != spec.reward:
                held.watch = watch_for(spec)
            held.spec = spec
            continue
        opened = await open_model(store, core, slot, spec, timeout_s=timeout_s)
        if opened is None:
            return False
        if held is not None:
            held.model.finish()
            log.warning(
                "learner: slot %s: feature space %s → %s, a new model starts at version %d",
                slot,
                held.spec.feature_space,
                spec.feature_space,
                core.versions.get(slot, 0) + 1,
            )
        held_models[slot] = opened
    core.slots = {slot.id: slot for slot in ruleset.slots}
    return True


async def open_model(
    store: Store, core: LearnerState, slot: str, spec: SlotLearner, *, timeout_s: float
) -> SlotModel | None:
    """The newest usable snapshot of ``slot`` in ``spec``'s feature space, or a fresh model;
    ``None`` if the store did not answer. A refused snapshot is counted in ``core.refused``."""
    found = await learner_state.load_published(store, slot, timeout_s=timeout_s)
    if found is None:
        return None
    published = None
    if found.data is not None:
        try:
            published = decode_snapshot(found.data)
        except SnapshotRefused as err:
            core.refused += 1
            log.error("learner: published model of %s refused: %s", slot, err)
    loop = asyncio.get_running_loop()
    for candidate in core.candidates(slot, spec, found.version, published):
        load = functools.partial(
            load_snapshot,
            candidate,
            spec.policy,
            spec.actions,
            feature_space=spec.feature_space,
        )
        try:
            model = await loop.run_in_executor(None, load)
        except SnapshotRefused as err:
            core.refused += 1
            log.error("learner: %s", err)
            continue
        log.info(
            "learner: slot %s continues from %s/%d (%d examples)",
            slot,
            candidate.feature_space,
            candidate.model_version,
            candidate.examples,
        )
        return core.continue_from(slot, spec, model, candidate, found.version)
    log.info("learner: slot %s starts a fresh model in feature space %s", slot, spec.feature_space)
    fresh = await loop.run_in_executor(None, BanditModel, spec.policy)  # VW init: ~20 ms
    return SlotModel(slot, spec, fresh)


async def choose_interactions(core: LearnerState, log_path: Path) -> None:
    """Slots that reached a selection count choose their interactions from the kept examples
    (refilled from the decision log at ``log_path`` after a restart) and, when the set changes,
    retrain on them (:mod:`proxy.bandit.interaction_choice`, in the executor: seconds); the
    learner's next checkpoint publishes the new model's version."""
    loop = asyncio.get_running_loop()
    for slot in core.choices_due():
        if core.short_of_examples(slot):
            wanted = functools.partial(core.learnable, slot)
            read = functools.partial(recent_examples, log_path, wanted, MAX_EXAMPLES)
            core.refill(slot, await loop.run_in_executor(None, read))
        job = core.choice_job(slot)
        if job is None:
            log.info("learner: slot %s: too few kept examples to choose interactions", slot)
            continue
        try:
            choice, model = await loop.run_in_executor(None, job)
        except (ValueError, RuntimeError) as err:
            log.error("learner: slot %s: choosing interactions failed: %s", slot, err)
            continue
        if core.adopt(slot, choice, model):
            log.warning(
                "learner: slot %s now interacts %s (held-out log loss %s)",
                slot, " ".join(choice.interactions) or "nothing", choice.describe(),
            )  # fmt: skip
