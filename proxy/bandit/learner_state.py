"""What the learner knows, and every decision it makes about it, without a store or an event loop.

:class:`LearnerState` holds the reward join, one model per learning slot, the version line of
each slot and the snapshots waiting to be published. It folds stream entries into the join,
learns the examples whose window has passed, says when a checkpoint is due, builds the checkpoint
and restores from one, and picks the snapshot a slot continues from. The async loop around it
(:mod:`proxy.bandit.learner`) only moves bytes between it, the store and the executor, so every
rule here is tested without a server (``tests/bandit/test_learner_state.py``).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import msgspec

from proxy.bandit.checkpoint import (
    CHECKPOINT_FORMAT,
    Checkpoint,
    CheckpointRefused,
    decode_checkpoint,
    encode_checkpoint,
)
from proxy.bandit.drift import Restart
from proxy.bandit.interaction_choice import Choice, Example, run_choice
from proxy.bandit.join import JoinState
from proxy.bandit.learning_slot import SlotModel
from proxy.bandit.model import BanditModel
from proxy.bandit.snapshot import make_snapshot
from proxy.govern.guardrail import (
    Evidence,
    Pause,
    SlotGuardrail,
    decode_evidence,
    encode_evidence,
    slot_reward_range,
)
from proxy.records.decision import DecisionRecord, RewardNote
from proxy.records.event_record import EventRecord
from proxy.records.snapshot import Snapshot, SnapshotRefused, decode_snapshot, encode_snapshot
from proxy.rules.compiled import CompiledSlot, SlotLearner

DecisionEntry = tuple[str, DecisionRecord | RewardNote | None]
EventEntry = tuple[str, EventRecord | None]


def _example(record: DecisionRecord) -> Example:
    return Example(record.context, record.chosen_index, record.reward or 0.0, record.p)


def _entry_ms(entry_id: str) -> int:
    return int(entry_id.partition("-")[0])


class LearnerState:
    """The join, the slots' models and their version lines (see the module docstring).

    Counters: ``learned`` examples, ``unknown_slot`` decisions of slots without a learner
    config, ``stale`` examples of another feature space or action set, ``refused`` snapshots
    that failed their checks. ``join.counts`` has the join's own counters. ``drift_restarts``:
    the drift watch's restarts (slot, what it saw) since the learner last logged them.
    """

    def __init__(self, *, max_pending: int = 100_000, settle_ms: int = 2000) -> None:
        self.max_pending = max_pending
        self.settle_ms = settle_ms
        self.join = JoinState(max_pending=max_pending)
        self.models: dict[str, SlotModel] = {}
        self.versions: dict[str, int] = {}  # slot -> last version given to a snapshot
        self.checkpointed: dict[str, Snapshot] = {}  # from the restored checkpoint
        self.unpublished: dict[str, Snapshot] = {}
        self.slots: Mapping[str, CompiledSlot] = {}
        self.watermark_ms = 0
        self.learned = 0
        self.drift_restarts: list[tuple[str, Restart]] = []  # since the learner last read them
        self.unknown_slot = 0
        self.stale = 0
        self.refused = 0
        self.guards: dict[str, SlotGuardrail] = {}
        self.restored_evidence: dict[str, dict[str, Evidence]] = {}
        self.guardrail_pauses = 0

    # -- stream entries in, examples out --------------------------------------------------------

    def absorb(
        self,
        decisions: Sequence[DecisionEntry],
        events: Sequence[EventEntry],
        *,
        now_ms: int,
        caught_up: bool,
    ) -> list[DecisionRecord]:
        """Fold a round's entries into the join; the examples whose reward window has passed.

        ``caught_up``: the events were the newest the stream had, so every event up to
        ``now_ms`` is in; otherwise every event up to the last one read.
        """
        for entry_id, item in decisions:
            if isinstance(item, DecisionRecord):
                slot = self.slots.get(item.slot)
                if slot is None or slot.learner is None:
                    self.unknown_slot += 1
                else:
                    self.join.on_decision(item, slot.learner.reward, now_ms=now_ms)
            elif isinstance(item, RewardNote):
                self.join.on_reward(item, event_id=entry_id)
        for _, record in events:
            if record is not None:
                self.join.on_event(record, now_ms=now_ms)
        if caught_up:
            self.watermark_ms = now_ms
        elif events:
            self.watermark_ms = _entry_ms(events[-1][0])
        return self.join.due(min(now_ms, self.watermark_ms) - self.settle_ms)

    def learn(self, record: DecisionRecord) -> str | None:
        """Learn one example into its slot's model; why it was not learned, if it was stale."""
        held = self.models.get(record.slot)
        if held is None or record.reward is None:
            return None  # log-only or rules slot: logged for evaluation, not learned
        if not self.learnable(record.slot, record):
            self.stale += 1
            return None
        before = held.model
        try:
            held.model = held.watch.learn(
                held.model,
                record.context,
                record.chosen_index,
                reward=record.reward,
                probability=record.p,
            )
        except ValueError as err:
            self.stale += 1
            return str(err)
        held.learned_since += 1
        self.learned += 1
        restarted = held.model is not before  # the watch hands back a new model only on a restart
        if restarted:
            self.drift_restarts.append((record.slot, held.watch.restarts[-1]))
        if held.choice is not None:
            held.choice.keep(_example(record), held.model.examples_learned)
            if restarted:
                held.choice.restarted(held.watch.restarts[-1].replayed, held.model.examples_learned)
        return None

    def learnable(self, slot: str, record: DecisionRecord) -> bool:
        """Whether ``record`` is an example of ``slot``'s current model: its slot, a reward, the
        model's feature space (or none logged) and its actions."""
        held = self.models.get(slot)
        if held is None or record.slot != slot or record.reward is None:
            return False
        space = (record.model_version or "").partition("/")[0]
        return (not space.startswith("fs") or space == held.spec.feature_space) and (
            record.actions == held.spec.actions.ids
        )

    # -- interactions chosen from the data (proxy.bandit.interaction_choice) ---------------------

    def choices_due(self) -> list[str]:
        """A slot that reached a count of :data:`~proxy.bandit.interaction_choice.SELECT_AT`,
        at most one per call: a choice takes seconds, and the learner's rounds between two
        (reading, acknowledging, renewing its lease) must not wait for every slot's at once.
        The others stay due for the next calls."""
        for slot, held in self.models.items():
            if held.choice is not None and held.choice.due:
                held.choice.due = False
                return [slot]
        return []

    def short_of_examples(self, slot: str) -> bool:
        """Whether ``slot`` kept fewer examples than its model learned (after a restart)."""
        held = self.models[slot]
        return held.choice is not None and not held.choice.enough(held.model.examples_learned)

    def refill(self, slot: str, records: Sequence[DecisionRecord]) -> None:
        """Keep ``records`` (the newest of the decision log, oldest first) as ``slot``'s examples."""
        held = self.models[slot]
        if held.choice is not None:
            held.choice.kept.clear()
            held.choice.kept.extend(_example(r) for r in records if self.learnable(slot, r))

    def choice_job(self, slot: str) -> Callable[[], tuple[Choice, BanditModel | None]] | None:
        """The choice to make for ``slot`` (CPU-bound, seconds: the loop runs it in an
        executor); ``None`` when it has too few of its model's examples to judge."""
        held = self.models[slot]
        if held.choice is None or not held.choice.enough(held.model.examples_learned):
            return None
        examples = list(held.choice.kept)
        policy, actions = held.spec.policy, held.spec.actions
        return functools.partial(run_choice, policy, actions, examples, held.choice.chosen)

    def adopt(self, slot: str, choice: Choice, model: BanditModel | None) -> bool:
        """Take a choice's verdict; ``True`` when ``model`` (retrained with a new set) replaced
        the slot's model, to be published as its next version."""
        held = self.models.get(slot)
        if held is None or held.choice is None:
            if model is not None:
                model.finish()
            return False
        if choice.losses:  # a verdict (not "too few clicks"): the set to defend from now on
            held.choice.chosen = choice.interactions
        if model is None:
            return False
        model.examples_learned = held.model.examples_learned
        held.model.finish()
        held.model = model
        held.learned_since = max(held.learned_since, 1)  # the next checkpoint publishes it
        return True

    # -- the guardrail ----------------------------------------------------------------------------

    def judge(self, examples: Sequence[DecisionRecord], now_ms: int) -> list[Pause]:
        """Fold joined examples into the guardrail of their slots (every slot with variants
        besides the control, unless ``guardrail: off``); the variants to pause now."""
        touched: set[str] = set()
        for record in examples:
            guard = self._guard(record.slot)
            if guard is not None:
                guard.observe(record)
                touched.add(record.slot)
        found: list[Pause] = []
        for slot in sorted(touched):
            found += self.guards[slot].pauses(now_ms, list(self.slots[slot].variants))
        self.guardrail_pauses += len(found)
        return found

    def _guard(self, slot_id: str) -> SlotGuardrail | None:
        slot = self.slots.get(slot_id)
        if slot is None or not slot.guardrail or len(slot.variants) < 2 or slot.learner is None:
            self.guards.pop(slot_id, None)
            return None
        guard = self.guards.get(slot_id)
        if guard is None or guard.control != slot.control:
            low, high = slot_reward_range(slot.learner.reward)
            evidence = self.restored_evidence.pop(slot_id, None)
            if guard is not None and guard.control != slot.control:
                evidence = None  # another control: the old contrasts compare something else
            guard = SlotGuardrail(slot_id, slot.control, low, high, evidence=evidence)
            self.guards[slot_id] = guard
        return guard

    def guardrail_standing(self) -> dict[str, list[dict[str, Any]]]:
        """Per guarded slot, :meth:`~proxy.govern.guardrail.SlotGuardrail.standing`."""
        return {
            slot: guard.standing(self.slots[slot].variants)
            for slot, guard in self.guards.items()
            if slot in self.slots
        }

    # -- checkpoints ----------------------------------------------------------------------------

    def commit_due(
        self, *, since_commit_s: float, every_examples: int, every_s: float, unacked: bool
    ) -> bool:
        """Whether a slot learned ``every_examples``, or ``every_s`` passed with something to
        store: entries to acknowledge, learned examples, or a snapshot still to publish."""
        if any(m.learned_since >= every_examples for m in self.models.values()):
            return True
        if since_commit_s < every_s:
            return False
        return bool(
            unacked or self.unpublished or any(m.learned_since for m in self.models.values())
        )

    def snapshot_jobs(self, now_ms: int) -> dict[str, Callable[[], Snapshot]]:
        """Per slot that learned since the last checkpoint, the snapshot to make (CPU-bound: the
        loop runs each in an executor)."""
        return {
            slot: functools.partial(
                make_snapshot,
                held.model,
                held.spec.actions,
                slot=slot,
                model_version=self.versions.get(slot, 0) + 1,
                feature_space=held.spec.feature_space,
                created_at_ms=now_ms,
                interactions=held.chosen_interactions,
            )
            for slot, held in self.models.items()
            if held.learned_since
        }

    def checkpoint(self, made: dict[str, Snapshot], state: bytes, now_ms: int) -> bytes:
        """The encoded checkpoint holding ``state`` (the join's bytes) and the newest snapshot of
        each slot, ``made`` ones included."""
        snapshots = {slot: m.snapshot for slot, m in self.models.items() if m.snapshot} | made
        versions = self.versions | {slot: snap.model_version for slot, snap in made.items()}
        checkpoint = Checkpoint(
            format=CHECKPOINT_FORMAT,
            created_at_ms=now_ms,
            state=state,
            snapshots={slot: encode_snapshot(snap) for slot, snap in snapshots.items()},
            versions=versions,
            guardrail=encode_evidence(self.guards),
        )
        return encode_checkpoint(checkpoint)

    def committed(self, made: Mapping[str, Snapshot]) -> None:
        """The checkpoint holding ``made`` is stored: they are the slots' latest, to publish."""
        for slot, snap in made.items():
            self.versions[slot] = snap.model_version
            self.models[slot].snapshot = snap
            self.models[slot].learned_since = 0
            self.unpublished[slot] = snap

    def restore(self, data: bytes) -> list[str]:
        """Take the join state, versions and snapshots of a stored checkpoint; the snapshots
        refused (one message each). Raises :class:`CheckpointRefused` and keeps the current
        state if the checkpoint itself is unusable."""
        try:
            checkpoint = decode_checkpoint(data)
            join = JoinState.from_bytes(checkpoint.state, max_pending=self.max_pending)
            evidence = decode_evidence(checkpoint.guardrail) if checkpoint.guardrail else {}
        except (msgspec.DecodeError, msgspec.ValidationError, ValueError) as err:
            raise CheckpointRefused(str(err)) from err
        self.join = join
        self.versions = dict(checkpoint.versions)
        self.restored_evidence = evidence
        self.guards.clear()
        refused: list[str] = []
        for slot, encoded in checkpoint.snapshots.items():
            try:
                self.checkpointed[slot] = decode_snapshot(encoded)
            except SnapshotRefused as err:
                refused.append(f"checkpointed model of {slot} refused: {err}")
        return refused

    # -- which model a slot continues -----------------------------------------------------------

    def candidates(
        self, slot: str, spec: SlotLearner, version: int, published: Snapshot | None
    ) -> list[Snapshot]:
        """The snapshots ``slot`` may continue from, newest first: its checkpointed one and the
        published one (``version``: the published version, 0 if none), in ``spec``'s feature
        space."""
        self.versions[slot] = max(self.versions.get(slot, 0), version)
        found = [s for s in (self.checkpointed.pop(slot, None), published) if s is not None]
        found.sort(key=lambda s: s.model_version, reverse=True)
        return [s for s in found if s.feature_space == spec.feature_space]

    def continue_from(
        self, slot: str, spec: SlotLearner, model: BanditModel, snapshot: Snapshot, version: int
    ) -> SlotModel:
        """``slot`` continues from ``snapshot`` (loaded as ``model``); one newer than the
        published ``version`` was checkpointed and then not published: publish it again."""
        self.versions[slot] = max(self.versions[slot], snapshot.model_version)
        if snapshot.model_version > version:
            self.unpublished[slot] = snapshot
        return SlotModel(slot, spec, model, snapshot=snapshot)

    def reset(self) -> None:
        """Drop everything (the lease was lost: another learner continues)."""
        self.close()
        self.versions.clear()
        self.checkpointed.clear()
        self.unpublished.clear()
        self.guards.clear()
        self.restored_evidence.clear()
        self.join = JoinState(max_pending=self.max_pending)

    def close(self) -> None:
        """Free the models' VW workspaces."""
        for held in self.models.values():
            held.model.finish()
        self.models.clear()
