"""Snapshots: checksum, feature space and canary checks; a good one predicts like its source."""

from __future__ import annotations

import random

import msgspec
import pytest

from proxy.bandit.features import ActionSet
from proxy.bandit.model import BanditModel
from proxy.bandit.policy_config import BanditPolicy, Softmax, feature_space_hash
from proxy.bandit.snapshot import canary_shared, load_snapshot, make_snapshot, verify
from proxy.errors import VernierError
from proxy.records.snapshot import Snapshot, SnapshotRefused, decode_snapshot, encode_snapshot

VARIANTS = {"a": {}, "b": {"tone": "urgent"}, "c": {"tone": "calm"}}
POLICY = BanditPolicy(explorer=Softmax(3.0), interactions=("DA", "UA"))
FEATURE_SPACE = feature_space_hash(POLICY, VARIANTS)


@pytest.fixture
def actions() -> ActionSet:
    return ActionSet(list(VARIANTS.items()))


CONTEXTS = [{}, {"D": ["dev=mobile"]}, {"D": ["dev=desktop"]}, {"U": ["eng=30+"]}]


@pytest.fixture
def published(actions: ActionSet) -> tuple[Snapshot, list[list[float]]]:
    """A snapshot of a trained model, and that model's pmfs for CONTEXTS."""
    model = BanditModel(POLICY)
    rng = random.Random(3)
    for _ in range(100):
        chosen = rng.randrange(3)
        device = rng.choice(["mobile", "desktop"])
        model.learn(
            {"D": [f"dev={device}"]}, actions, chosen, reward=float(chosen == 1), probability=1 / 3
        )
    snap = make_snapshot(
        model,
        actions,
        slot="hero",
        model_version=4,
        feature_space=FEATURE_SPACE,
        created_at_ms=1_700_000_000_000,
    )
    pmfs = [model.predict(c, actions) for c in CONTEXTS]
    model.finish()
    return snap, pmfs


@pytest.fixture
def snapshot(published: tuple[Snapshot, list[list[float]]]) -> Snapshot:
    return published[0]


def test_good_snapshot_loads_and_predicts_like_the_source(
    published: tuple[Snapshot, list[list[float]]], actions: ActionSet
) -> None:
    snapshot, source_pmfs = published
    assert snapshot.examples == 100 and snapshot.model_version == 4
    verify(snapshot)
    model = load_snapshot(snapshot, POLICY, actions, feature_space=FEATURE_SPACE)
    assert model.examples_learned == 100
    assert tuple(model.predict(canary_shared(POLICY), actions, floor=False)) == snapshot.canary_pmf
    assert [model.predict(c, actions) for c in CONTEXTS] == source_pmfs
    mobile = model.predict({"D": ["dev=mobile"]}, actions)
    assert mobile.index(max(mobile)) == 1
    model.finish()


def test_encoding_round_trip(snapshot: Snapshot) -> None:
    assert decode_snapshot(encode_snapshot(snapshot)) == snapshot
    with pytest.raises(SnapshotRefused, match="malformed"):
        decode_snapshot(b"\x00garbage")
    with pytest.raises(SnapshotRefused, match="malformed"):
        decode_snapshot(msgspec.msgpack.encode({"slot": "hero"}))


def test_corrupt_bytes_refused(snapshot: Snapshot, actions: ActionSet) -> None:
    data = bytearray(snapshot.model)
    data[len(data) // 2] ^= 0x01
    corrupt = msgspec.structs.replace(snapshot, model=bytes(data))
    with pytest.raises(SnapshotRefused, match="checksum mismatch"):
        verify(corrupt)
    with pytest.raises(SnapshotRefused, match="checksum mismatch"):
        load_snapshot(corrupt, POLICY, actions, feature_space=FEATURE_SPACE)
    assert issubclass(SnapshotRefused, VernierError)


def test_unreadable_model_refused_even_with_a_matching_checksum(
    snapshot: Snapshot, actions: ActionSet
) -> None:
    import hashlib

    junk = b"\x01" * 64
    bad = msgspec.structs.replace(snapshot, model=junk, sha256=hashlib.sha256(junk).hexdigest())
    with pytest.raises(SnapshotRefused, match="VW cannot load"):
        load_snapshot(bad, POLICY, actions, feature_space=FEATURE_SPACE)


def test_other_feature_space_refused(snapshot: Snapshot, actions: ActionSet) -> None:
    with pytest.raises(SnapshotRefused, match="feature space"):
        load_snapshot(snapshot, POLICY, actions, feature_space="fs1-0000000000000000")


def test_canary_mismatch_refused(snapshot: Snapshot, actions: ActionSet) -> None:
    wrong = msgspec.structs.replace(snapshot, canary_pmf=(1.0, 0.0, 0.0))
    with pytest.raises(SnapshotRefused, match="differs from the recorded"):
        load_snapshot(wrong, POLICY, actions, feature_space=FEATURE_SPACE)


def test_canary_wrong_length_refused(snapshot: Snapshot) -> None:
    two = ActionSet([("a", {}), ("b", {"tone": "urgent"})])
    with pytest.raises(SnapshotRefused, match="canary"):
        load_snapshot(snapshot, POLICY, two, feature_space=FEATURE_SPACE)


def test_canary_uses_only_the_policy_groups() -> None:
    assert set(canary_shared(BanditPolicy(features=("device",), interactions=("DA",)))) == {"D"}
    assert set(canary_shared(BanditPolicy())) == {"D", "T", "G", "R", "U"}  # the defaults


def test_canary_problem_detects_invalid_distributions() -> None:
    from proxy.bandit.snapshot import _canary_problem

    assert _canary_problem([0.5, 0.5], (0.5, 0.5), 2) is None
    assert (
        _canary_problem([float("nan"), 1.0], (0.5, 0.5), 2) == "is not a probability distribution"
    )
    assert _canary_problem([0.3, 0.3], (0.3, 0.3), 2) == "is not a probability distribution"
    assert _canary_problem([0.5, 0.5], (0.5, 0.5), 3) == "is not a probability distribution"


def test_a_model_with_chosen_interactions_opens_under_the_slots_policy(
    actions: ActionSet,
) -> None:
    # the slot wrote no interactions; the learner chose DA for its model
    slot_policy = BanditPolicy(explorer=Softmax(3.0))
    space = feature_space_hash(slot_policy, VARIANTS)
    model = BanditModel(msgspec.structs.replace(slot_policy, interactions=("DA",)))
    rng = random.Random(5)
    for _ in range(200):
        chosen, device = rng.randrange(3), rng.choice(["mobile", "desktop"])
        reward = float(chosen == (1 if device == "mobile" else 2))
        model.learn({"D": [f"dev={device}"]}, actions, chosen, reward=reward, probability=1 / 3)
    snap = make_snapshot(
        model, actions, slot="hero", model_version=2, feature_space=space,
        created_at_ms=1_700_000_000_000, interactions=("DA",),
    )  # fmt: skip
    expected = [model.predict(c, actions) for c in CONTEXTS]
    model.finish()
    assert decode_snapshot(encode_snapshot(snap)).interactions == ("DA",)
    loaded = load_snapshot(snap, slot_policy, actions, feature_space=space)
    try:
        assert loaded.policy.interactions == ("DA",)
        for context, pmf in zip(CONTEXTS, expected, strict=True):
            assert loaded.predict(context, actions) == pytest.approx(pmf, abs=1e-6)
    finally:
        loaded.finish()
