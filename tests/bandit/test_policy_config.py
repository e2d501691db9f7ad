"""The ``policy: bandit`` block: validation, VW arguments, feature-space hash."""

from __future__ import annotations

import msgspec
import pytest
from vowpalwabbit import Workspace  # type: ignore[import-untyped]

from proxy.bandit.policy_config import (
    Bag,
    BanditPolicy,
    Cover,
    Epsilon,
    Softmax,
    SquareCB,
    check_variants,
    effective_interactions,
    feature_space_hash,
    vw_arguments,
)


def convert(data: object) -> BanditPolicy:
    return msgspec.convert(data, BanditPolicy, strict=True)


def test_defaults() -> None:
    policy = convert({})
    # SquareCB computed by Vernier on VW's estimates and the cells' averages (the tenth round)
    assert policy.explorer == SquareCB(gamma_scale=1.0, gamma_exponent=1.0, cells=True)
    assert policy.uniform_first == 1000
    assert policy.importance_weights is False  # the reward at weight 1: SquareCB's oracle
    assert policy.floor == 0.0
    assert policy.features == ("device", "hour", "country", "referrer", "profile")
    # not written: the learner chooses them from the log, starting with every context namespace
    # the features fill, with the variant, and device x referrer
    assert policy.interactions is None
    assert effective_interactions(policy) == ("DA", "TA", "GA", "RA", "UA", "DRA")
    assert vw_arguments(policy).count("--interactions") == 6
    assert policy.learning_rate is None  # VW's own, 0.5
    assert "--learning_rate" not in vw_arguments(policy)
    assert policy.initial_weight == 0.01  # an optimistic start: costs, so negated for VW
    assert vw_arguments(policy)[-3:] == ["--sparse_weights", "--initial_weight", "-0.01"]


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"type": "epsilon", "epsilon": 0.2}, Epsilon(0.2)),
        ({"type": "squarecb", "gamma_scale": 50}, SquareCB(gamma_scale=50.0)),
        ({"type": "softmax", "lambda": 4}, Softmax(lambda_=4.0)),
        ({"type": "bag", "bag": 4, "epsilon": 0.1}, Bag(bag=4, epsilon=0.1)),
        ({"type": "cover", "cover": 2, "psi": 0.5, "nounif": True}, Cover(2, 0.5, True)),
    ],
)
def test_explorers_parse(data: dict[str, object], expected: object) -> None:
    assert convert({"explorer": data}).explorer == expected


@pytest.mark.parametrize(
    ("data", "path"),
    [
        ({"explorer": {"type": "epsilon", "epsilon": 1.5}}, "$.explorer.epsilon"),
        ({"explorer": {"type": "squarecb", "gamma_scale": 0}}, "$.explorer.gamma_scale"),
        ({"explorer": {"type": "softmax", "lambda": -1}}, "$.explorer.lambda"),
        ({"explorer": {"type": "bag", "bag": 1}}, "$.explorer.bag"),
        ({"explorer": {"type": "cover", "cover": 0}}, "$.explorer.cover"),
        ({"explorer": {"type": "thompson"}}, "$.explorer"),
        ({"explorer": {"type": "epsilon", "gamma": 1}}, "$.explorer"),
        ({"floor": -0.1}, "$.floor"),
        ({"interactions": ["UX"]}, "$.interactions[0]"),
        ({"features": ["device", "shoe_size"]}, "$.features[1]"),
        ({"l2": 2}, "$.l2"),
        ({"bogus": 1}, "unknown field `bogus`"),
    ],
)
def test_invalid_values_name_the_key(data: dict[str, object], path: str) -> None:
    with pytest.raises(msgspec.ValidationError) as err:
        convert(data)
    assert path in str(err.value)


def test_interactions_must_include_the_action() -> None:
    with pytest.raises(msgspec.ValidationError, match="must include the action namespace"):
        convert({"interactions": ["UD"]})


def test_duplicate_feature_group_refused() -> None:
    with pytest.raises(msgspec.ValidationError, match="listed twice"):
        convert({"features": ["device", "device"]})


def test_check_variants() -> None:
    check_variants(BanditPolicy(floor=0.25), ["a", "b", "c", "d"])
    with pytest.raises(ValueError, match="exceeds 1/5"):
        check_variants(BanditPolicy(floor=0.25), ["a", "b", "c", "d", "e"])
    with pytest.raises(ValueError, match="at least 2"):
        check_variants(BanditPolicy(), ["a"])
    with pytest.raises(ValueError, match="unique"):
        check_variants(BanditPolicy(), ["a", "a"])


@pytest.mark.parametrize(
    "explorer",
    [Epsilon(0.1), SquareCB(), Softmax(), Bag(3), Bag(3, 0.05), Cover(2), Cover(2, 0.1, True)],
)
def test_vw_accepts_the_arguments(explorer: object) -> None:
    policy = BanditPolicy(explorer=explorer, l1=1e-7, l2=1e-6, learning_rate=0.5)  # type: ignore[arg-type]
    args = vw_arguments(policy)
    # SquareCB is Vernier's (proxy.bandit.square_cb): VW only regresses the rewards
    reduction = "cb_adf" if isinstance(explorer, SquareCB) else "cb_explore_adf"
    assert args[:2] == [f"--{reduction}", "--quiet"]
    workspace = Workspace(arg_list=args)
    try:
        assert f"--{reduction}" in workspace.get_arguments()
        assert ("--cb_explore_adf" in workspace.get_arguments()) is (reduction != "cb_adf")
    finally:
        workspace.finish()


def test_vw_arguments_shape() -> None:
    args = vw_arguments(BanditPolicy(explorer=Epsilon(0.2), interactions=("UA", "UDA")))
    assert args[args.index("--epsilon") + 1] == "0.2"
    assert [args[i + 1] for i, a in enumerate(args) if a == "--interactions"] == ["UA", "UDA"]
    assert "--l1" not in args and "--l2" not in args
    squarecb = vw_arguments(BanditPolicy(explorer=SquareCB(10.0, 0.5)))
    assert "--squarecb" not in squarecb and "--gamma_scale" not in squarecb


VARIANTS = {"a": {}, "b": {"tone": "urgent"}}


def test_feature_space_hash_is_stable_and_order_free() -> None:
    policy = BanditPolicy()
    first = feature_space_hash(policy, VARIANTS)
    assert first.startswith("fs3-") and len(first) == 4 + 16
    reordered = BanditPolicy(features=tuple(reversed(policy.features)))
    assert feature_space_hash(reordered, {"b": {"tone": "urgent"}, "a": {}}) == first


@pytest.mark.parametrize(
    "change",
    [
        {"features": ("device", "hour")},
        {"interactions": ("UA",)},
        {"bits": 20},
        {"explorer": Bag(4)},
        {"explorer": Softmax()},
    ],
)
def test_feature_space_hash_changes_with_the_shape(change: dict[str, object]) -> None:
    base = feature_space_hash(BanditPolicy(), VARIANTS)
    assert feature_space_hash(BanditPolicy(**change), VARIANTS) != base  # type: ignore[arg-type]


def test_feature_space_hash_changes_with_the_variants() -> None:
    base = feature_space_hash(BanditPolicy(), VARIANTS)
    assert feature_space_hash(BanditPolicy(), {**VARIANTS, "c": {}}) != base
    assert feature_space_hash(BanditPolicy(), {"a": {}, "b": {"tone": "calm"}}) != base


@pytest.mark.parametrize(
    "change",
    [
        {"floor": 0.1},
        {"explorer": SquareCB(gamma_scale=50)},
        {"l2": 0.001},
        {"learning_rate": 0.1},
    ],
)
def test_feature_space_hash_ignores_rates(change: dict[str, object]) -> None:
    base = feature_space_hash(BanditPolicy(), VARIANTS)
    assert feature_space_hash(BanditPolicy(**change), VARIANTS) == base  # type: ignore[arg-type]


def test_interactions_written_as_the_defaults_are_another_feature_space() -> None:
    # written, they are the owner's and never chosen again: not the line of a chosen set
    written = BanditPolicy(interactions=effective_interactions(BanditPolicy()))
    assert feature_space_hash(written, VARIANTS) != feature_space_hash(BanditPolicy(), VARIANTS)
    assert vw_arguments(written) == vw_arguments(BanditPolicy())


def test_importance_weights_key() -> None:
    assert convert({"importance_weights": True}).importance_weights is True
    with pytest.raises(msgspec.ValidationError, match=r"\$\.importance_weights"):
        convert({"importance_weights": "yes"})
    # how examples are weighed is no part of the feature space: a model keeps its line
    assert feature_space_hash(BanditPolicy(importance_weights=True), VARIANTS) == (
        feature_space_hash(BanditPolicy(), VARIANTS)
    )


def test_initial_weight_key() -> None:
    assert "--initial_weight" not in vw_arguments(convert({"initial_weight": 0}))
    assert "--sparse_weights" not in vw_arguments(convert({"initial_weight": 0}))
    for bad in (-0.01, 2, "high"):
        with pytest.raises(msgspec.ValidationError, match=r"\$\.initial_weight"):
            convert({"initial_weight": bad})
    # where the untouched weights start is part of what a saved model means: another line
    assert feature_space_hash(BanditPolicy(initial_weight=0.0), VARIANTS) != (
        feature_space_hash(BanditPolicy(), VARIANTS)
    )
