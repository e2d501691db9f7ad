"""The learner's decisions without a store: join, learn, checkpoint, restore, which model to continue."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from msgspec.structs import replace

from proxy.bandit.checkpoint import CheckpointRefused
from proxy.bandit.interaction_choice import SELECT_AT
from proxy.bandit.learner_state import LearnerState
from proxy.bandit.learning_slot import SlotModel, learning_slots
from proxy.bandit.model import BanditModel
from proxy.records.snapshot import Snapshot
from proxy.rules.engine import RuleEngine
from tests.bandit.test_learner import build_rules, decisions, event_of, hero, now_ms


@pytest.fixture
def engine(tmp_path: Path) -> RuleEngine:
    return build_rules(tmp_path)


def learning(engine: RuleEngine) -> LearnerState:
    """A state holding a fresh model for every learning slot of ``engine``."""
    state = LearnerState(settle_ms=0)
    state.slots = {slot.id: slot for slot in engine.ruleset.slots}
    for slot, spec in learning_slots(engine.ruleset).items():
        state.models[slot] = SlotModel(slot, spec, BanditModel(spec.policy))
    return state


def test_joined_decisions_come_out_as_examples(engine: RuleEngine) -> None:
    state = learning(engine)
    try:
        records = decisions(3)
        entries = [(f"{i + 1}-0", r) for i, r in enumerate(records)]
        unknown = [("9-0", decisions(1, slot="nowhere")[0])]
        events = [(f"{i + 1}-0", event_of(r, "impression")) for i, r in enumerate(records)]
        later_ms = now_ms() + 1000  # the 0.2 s reward window has passed
        examples = state.absorb(entries + unknown, events, now_ms=later_ms, caught_up=True)
        assert sorted(e.id for e in examples) == sorted(r.id for r in records)
        assert state.unknown_slot == 1
        for example in examples:
            assert state.learn(example) is None
        assert state.learned == 3 and state.models["hero"].learned_since == 3
    finally:
        state.close()


def test_behind_the_stream_the_watermark_is_the_last_event_read(engine: RuleEngine) -> None:
    state = learning(engine)
    try:
        records = decisions(1)
        event = ("5-0", event_of(records[0], "impression"))
        assert state.absorb([("1-0", records[0])], [event], now_ms=now_ms(), caught_up=False) == []
        assert state.watermark_ms == 5
    finally:
        state.close()


def test_examples_of_another_feature_space_or_action_set_are_stale(engine: RuleEngine) -> None:
    state = learning(engine)
    try:
        other_space = replace(decisions(1, model_version="fs0000/1")[0], reward=1.0)
        other_actions = replace(decisions(1)[0], actions=("a", "b", "c"), reward=1.0)
        for record in (other_space, other_actions):
            assert state.learn(record) is None
        assert state.stale == 2 and state.learned == 0
    finally:
        state.close()


def test_a_checkpoint_is_due_by_examples_or_by_time_with_work_to_store(
    engine: RuleEngine,
) -> None:
    state = learning(engine)
    try:

        def due(since_commit_s: float, *, unacked: bool) -> bool:
            return state.commit_due(
                since_commit_s=since_commit_s, every_examples=2, every_s=10.0, unacked=unacked
            )

        assert not due(60.0, unacked=False)  # nothing to store
        assert not due(1.0, unacked=True)  # too soon
        assert due(60.0, unacked=True)
        state.models["hero"].learned_since = 2
        assert due(0.0, unacked=False)
    finally:
        state.close()


def learned_snapshot(state: LearnerState) -> dict[str, Snapshot]:
    for record in decisions(5):
        state.learn(replace(record, reward=1.0))
    return {slot: job() for slot, job in state.snapshot_jobs(now_ms()).items()}


def test_a_checkpoint_restores_the_join_versions_and_models(engine: RuleEngine) -> None:
    first, second = learning(engine), LearnerState()
    try:
        first.absorb([("1-0", decisions(1)[0])], [], now_ms=now_ms(), caught_up=False)
        made = learned_snapshot(first)
        assert made["hero"].model_version == 1 and made["hero"].examples == 5
        data = first.checkpoint(made, first.join.to_bytes(), now_ms())
        first.committed(made)
        assert first.unpublished == made and first.models["hero"].learned_since == 0
        assert second.restore(data) == []
        assert len(second.join) == 1 and second.versions == {"hero": 1}
        spec = hero(engine)
        # published version 0: the checkpointed snapshot is newer, so it is published again
        (candidate,) = second.candidates("hero", spec, 0, None)
        assert candidate.sha256 == made["hero"].sha256
        held = second.continue_from("hero", spec, BanditModel(spec.policy), candidate, 0)
        second.models["hero"] = held
        assert second.unpublished == {"hero": candidate}
    finally:
        first.close()
        second.close()


def test_the_newest_snapshot_in_the_slots_feature_space_comes_first(
    engine: RuleEngine, tmp_path: Path
) -> None:
    state = learning(engine)
    try:
        old = learned_snapshot(state)["hero"]
        state.committed({"hero": old})
        newer = learned_snapshot(state)["hero"]
        other = build_rules(tmp_path, features="device, hour", name="r2")
        state.checkpointed["hero"] = old
        found = state.candidates("hero", hero(engine), newer.model_version, newer)
        assert [s.model_version for s in found] == [2, 1]
        assert state.versions["hero"] == 2
        state.checkpointed["hero"] = old
        assert state.candidates("hero", hero(other), 0, newer) == []
    finally:
        state.close()


def test_an_unusable_checkpoint_is_refused_and_the_state_kept(engine: RuleEngine) -> None:
    state = learning(engine)
    try:
        state.versions["hero"] = 3
        with pytest.raises(CheckpointRefused):
            state.restore(b"not msgpack")
        assert state.versions == {"hero": 3}
    finally:
        state.close()


def test_reset_forgets_everything(engine: RuleEngine) -> None:
    state = learning(engine)
    state.absorb([("1-0", decisions(1)[0])], [], now_ms=now_ms(), caught_up=False)
    state.versions["hero"] = 3
    state.reset()
    assert not state.models and not state.versions and len(state.join) == 0


def test_slots_due_a_choice_are_given_one_per_round(tmp_path: Path) -> None:
    """A choice takes seconds: two slots due at once are chosen in two rounds, not one."""
    engine = build_rules(tmp_path, features="device, referrer", interactions="", name="two")
    state = learning(engine)
    spec = state.models["hero"].spec
    state.models["other"] = SlotModel("other", spec, BanditModel(spec.policy))
    try:
        for held in state.models.values():
            assert held.choice is not None
            held.choice.due = True
        assert [state.choices_due(), state.choices_due(), state.choices_due()] == [
            ["hero"], ["other"], []
        ]  # fmt: skip
    finally:
        for held in state.models.values():
            held.model.finish()


def test_a_chosen_set_replaces_the_model_and_is_snapshotted_as_the_next_version(
    tmp_path: Path,
) -> None:
    engine = build_rules(tmp_path, features="device, referrer", interactions="", name="chosen")
    state = learning(engine)
    try:
        held = state.models["hero"]
        assert held.choice is not None and held.chosen_interactions is None
        rng = random.Random(11)
        for record in decisions(SELECT_AT[0]):
            device, chosen = rng.choice(("mobile", "desktop")), rng.choice("ab")
            rate = 0.6 if (device == "mobile") == (chosen == "b") else 0.1
            context = {"D": (f"dev={device}",), "R": (f"ref={rng.choice('xyz')}",)}
            learned = replace(
                record, context=context, chosen=chosen, reward=float(rng.random() < rate)
            )
            assert state.learn(learned) is None
        assert state.choices_due() == ["hero"] and state.choices_due() == []
        assert not state.short_of_examples("hero")
        job = state.choice_job("hero")
        assert job is not None
        choice, model = job()
        old = held.model
        state.versions["hero"] = 3
        assert state.adopt("hero", choice, model)
        assert held.model is model and model.examples_learned == SELECT_AT[0]
        assert held.chosen_interactions == ("DA",)
        with pytest.raises(RuntimeError):  # the old model was finished
            old.to_bytes()
        snap = state.snapshot_jobs(now_ms())["hero"]()
        assert (snap.model_version, snap.interactions) == (4, ("DA",))
        # after a restart the kept examples are gone: refilled from the log, or no choice
        fresh = SlotModel("hero", held.spec, BanditModel(held.spec.policy))
        fresh.model.examples_learned = SELECT_AT[0]
        state.models["hero"] = fresh
        assert state.short_of_examples("hero") and state.choice_job("hero") is None
        state.refill("hero", [replace(r, model_version=None) for r in decisions(950, reward=1.0)])
        assert not state.short_of_examples("hero") and state.choice_job("hero") is not None
        model.finish()
    finally:
        state.close()
