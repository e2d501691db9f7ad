"""The drift watch with real VW models: it only learns when off or when nothing falls; on a fall
it hands back a fresh model, clean or (``replay``) having relearned the examples after the change
point; the learner's slots carry it, with the slot's reward range and settings."""

from __future__ import annotations

import dataclasses
import random
from pathlib import Path

import msgspec
import pytest

from proxy.bandit.drift import DriftWatch
from proxy.bandit.features import ActionSet
from proxy.bandit.learner_state import LearnerState
from proxy.bandit.learning_slot import SlotModel, watch_for
from proxy.bandit.model import BanditModel
from proxy.bandit.policy_config import BanditPolicy, DriftPolicy, decode_policy
from tests.bandit.test_learner import build_rules, decisions, hero

ACTIONS = ActionSet([("a", {}), ("b", {})])
LINE = "shared |D dev=mobile"
ON = DriftPolicy(detect=True)
REPLAYING = DriftPolicy(detect=True, replay=2000)


def feed(watch: DriftWatch, model: BanditModel, rewards: list[float]) -> list[BanditModel]:
    """Learn one example per reward (variant ``a``, p = 0.5); every model handed back."""
    models = [model]
    for reward in rewards:
        model = watch.learn(model, LINE, 0, reward=reward, probability=0.5)
        if model is not models[-1]:
            models.append(model)
    return models


def rewards(rng: random.Random, *rates: tuple[float, int]) -> list[float]:
    return [float(rng.random() < rate) for rate, n in rates for _ in range(n)]


def until_restart(
    watch: DriftWatch, first: BanditModel, stream: list[float]
) -> tuple[BanditModel, int]:
    """Learn ``stream`` (variant ``a``, p = 0.5) up to the first restart: the model handed back
    then and how many examples were learned."""
    model, learned = first, 0
    while model is first:
        model = watch.learn(model, LINE, 0, reward=stream[learned], probability=0.5)
        learned += 1
    return model, learned


def test_off_it_only_learns() -> None:
    watch = DriftWatch(DriftPolicy(), ACTIONS)
    model = BanditModel(BanditPolicy())
    try:
        stream = rewards(random.Random(1), (0.5, 500), (0.0, 500))
        assert feed(watch, model, stream) == [model]
        assert model.examples_learned == 1000 and not watch.recent and not watch.restarts
    finally:
        model.finish()


def test_a_steady_stream_keeps_the_model() -> None:
    watch = DriftWatch(ON, ACTIONS)
    model = BanditModel(BanditPolicy())
    try:
        assert feed(watch, model, rewards(random.Random(2), (0.2, 3000))) == [model]
    finally:
        model.finish()


def test_by_default_a_fall_restarts_a_clean_model() -> None:
    watch = DriftWatch(ON, ACTIONS)
    first = BanditModel(BanditPolicy())
    stream = rewards(random.Random(3), (0.3, 1500), (0.02, 600))
    model, learned = until_restart(watch, first, stream)
    untouched = BanditModel(BanditPolicy())
    try:
        (restart,) = watch.restarts
        assert restart.replayed == 0 and not watch.recent  # nothing kept, nothing relearned
        assert model.examples_learned == learned  # the slot's count goes on
        with pytest.raises(RuntimeError):
            first.predict_lines(LINE, ACTIONS)  # the old model was finished
        assert model.predict_lines(LINE, ACTIONS, floor=False) == pytest.approx(
            untouched.predict_lines(LINE, ACTIONS, floor=False), abs=1e-9
        )
    finally:
        model.finish()
        untouched.finish()


def test_a_fall_restarts_from_the_examples_after_it() -> None:
    watch = DriftWatch(REPLAYING, ACTIONS)
    first = BanditModel(BanditPolicy())
    stream = rewards(random.Random(3), (0.3, 1500), (0.02, 600))
    model, learned = until_restart(watch, first, stream)
    reference = BanditModel(BanditPolicy())
    try:
        (restart,) = watch.restarts
        assert abs(restart.drop.at - 1500) <= 200 and restart.drop.seen == learned
        assert restart.replayed == restart.drop.seen - restart.drop.at
        assert model.examples_learned == learned  # the slot's count goes on
        with pytest.raises(RuntimeError):
            first.predict_lines(LINE, ACTIONS)  # the old model was finished
        # The new model is a fresh one that learned exactly the examples after the change point.
        for reward in stream[restart.drop.at : learned]:
            reference.learn(LINE, ACTIONS, 0, reward=reward, probability=0.5)
        assert model.predict_lines(LINE, ACTIONS, floor=False) == pytest.approx(
            reference.predict_lines(LINE, ACTIONS, floor=False), abs=1e-6
        )
        assert watch.detector.seen == 0  # and the detector starts again
    finally:
        model.finish()
        reference.finish()


def test_rewards_are_scaled_to_the_slot_range() -> None:
    """Rewards of 0..10: a fall from 3 to 0.2 on average is found as one from 0.3 to 0.02."""
    watch = DriftWatch(ON, ACTIONS, reward_low=0.0, reward_high=10.0)
    model = BanditModel(BanditPolicy())
    stream = [10 * r for r in rewards(random.Random(3), (0.3, 1500), (0.02, 600))]
    models = feed(watch, model, stream)
    models[-1].finish()
    assert watch.restarts and watch.restarts[0].drop.before == pytest.approx(0.3, abs=0.05)


def test_the_replay_is_bounded() -> None:
    watch = DriftWatch(DriftPolicy(detect=True, replay=50), ACTIONS)
    models = feed(
        watch, BanditModel(BanditPolicy()), rewards(random.Random(3), (0.3, 1500), (0.02, 600))
    )
    models[-1].finish()
    assert watch.restarts and watch.restarts[0].replayed == 50


def test_the_policy_block_is_typed() -> None:
    policy = decode_policy('{"drift": {"detect": true, "false_alarm": 0.01}}')
    assert policy.drift == DriftPolicy(detect=True, false_alarm=0.01)
    assert not BanditPolicy().drift.detect  # off by default: docs/benchmarks.md, "Drift"
    for bad in ('{"drift": {"detect": true, "alpha": 0.1}}', '{"drift": {"false_alarm": 0.5}}'):
        with pytest.raises(msgspec.ValidationError):
            decode_policy(bad)


def test_a_learning_slot_carries_its_watch(tmp_path: Path) -> None:
    spec = hero(build_rules(tmp_path))
    held = SlotModel("hero", spec, BanditModel(spec.policy))
    try:
        assert held.watch.settings == spec.policy.drift
        assert (held.watch.reward_low, held.watch.reward_span) == (0.0, 1.0)
        spec_on = dataclasses.replace(spec, policy=msgspec.structs.replace(spec.policy, drift=ON))
        assert watch_for(spec_on).settings.detect
    finally:
        held.model.finish()


def test_the_learner_continues_with_the_restarted_model(tmp_path: Path) -> None:
    """``LearnerState.learn`` goes through the slot's watch: after a fall the slot holds the
    fresh model (and the examples still count as learned)."""
    engine = build_rules(tmp_path)
    state = LearnerState(settle_ms=0)
    state.slots = {slot.id: slot for slot in engine.ruleset.slots}
    spec = hero(engine)
    spec = dataclasses.replace(spec, policy=msgspec.structs.replace(spec.policy, drift=ON))
    first = BanditModel(spec.policy)
    state.models["hero"] = SlotModel("hero", spec, first)
    stream = rewards(random.Random(3), (0.3, 1500), (0.02, 600))
    try:
        for record, reward in zip(decisions(len(stream)), stream, strict=True):
            assert state.learn(msgspec.structs.replace(record, reward=reward)) is None
        held = state.models["hero"]
        assert held.watch.restarts and held.model is not first
        assert state.learned == held.learned_since == len(stream)
        # for the learner to log: which slot restarted, and the fall it saw
        assert state.drift_restarts == [("hero", r) for r in held.watch.restarts]
    finally:
        state.close()
