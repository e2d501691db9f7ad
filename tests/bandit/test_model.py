"""BanditModel: pmf in action order, learning from rewards, floor, save and load."""

from __future__ import annotations

import random
import threading

import pytest

from proxy.bandit.features import ActionSet
from proxy.bandit.model import BanditModel, pmf_is_valid
from proxy.bandit.policy_config import (
    Bag,
    BanditPolicy,
    Cover,
    Epsilon,
    Explorer,
    FeatureValue,
    Softmax,
    SquareCB,
)

VARIANTS: list[tuple[str, dict[str, FeatureValue]]] = [
    ("a", {}),
    ("b", {"tone": "urgent"}),
    ("c", {"tone": "calm", "price": 2.0}),
]
MOBILE = {"D": ["dev=mobile"], "T": ["dp=evening"]}
DESKTOP = {"D": ["dev=desktop"], "T": ["dp=morning"]}
EXPLORERS: list[Explorer] = [Epsilon(0.1), SquareCB(), Softmax(5.0), Bag(3), Cover(2)]


def train(model: BanditModel, actions: ActionSet, n: int = 300, seed: int = 1) -> None:
    """Mobile visitors reward ``b``, desktop visitors ``c``; actions logged uniformly."""
    rng = random.Random(seed)
    for _ in range(n):
        mobile = rng.random() < 0.5
        chosen = rng.randrange(len(actions))
        best = actions.index("b" if mobile else "c")
        reward = 1.0 if chosen == best and rng.random() < 0.9 else 0.0
        model.learn(
            MOBILE if mobile else DESKTOP,
            actions,
            chosen,
            reward=reward,
            probability=1 / len(actions),
        )


@pytest.fixture
def actions() -> ActionSet:
    return ActionSet(VARIANTS)


def test_new_model_is_uniform(actions: ActionSet) -> None:
    model = BanditModel(BanditPolicy())
    pmf = model.predict(MOBILE, actions)
    assert pmf == pytest.approx([1 / 3] * 3, abs=1e-6)
    model.finish()


@pytest.mark.parametrize("explorer", EXPLORERS, ids=lambda e: type(e).__name__)
def test_learns_the_context_and_pmf_follows_action_order(
    explorer: Explorer, actions: ActionSet
) -> None:
    model = BanditModel(BanditPolicy(explorer=explorer, interactions=("DA", "TA")))
    train(model, actions)
    assert model.examples_learned == 300
    for shared, best in ((MOBILE, "b"), (DESKTOP, "c")):
        pmf = model.predict(shared, actions)
        assert pmf_is_valid(pmf, 3)
        assert actions.ids[pmf.index(max(pmf))] == best
        # the same actions in another order: the pmf is permuted with them
        for order in ([2, 0, 1], [1, 2, 0]):
            permuted = ActionSet([VARIANTS[i] for i in order])
            other = model.predict(shared, permuted)
            assert other == pytest.approx([pmf[i] for i in order], abs=1e-6)
    model.finish()


def test_floor_is_applied(actions: ActionSet) -> None:
    model = BanditModel(BanditPolicy(explorer=Epsilon(0.0), floor=0.1, interactions=("DA",)))
    train(model, actions)
    raw = model.predict(MOBILE, actions, floor=False)
    floored = model.predict(MOBILE, actions)
    assert min(raw) == 0.0
    assert min(floored) == pytest.approx(0.1)
    assert sum(floored) == pytest.approx(1.0)
    model.finish()


@pytest.mark.parametrize("explorer", EXPLORERS, ids=lambda e: type(e).__name__)
def test_bytes_round_trip_predicts_identically(explorer: Explorer, actions: ActionSet) -> None:
    policy = BanditPolicy(explorer=explorer, interactions=("DA", "TA"), l2=1e-6)
    source = BanditModel(policy)
    train(source, actions, n=200)
    data = source.to_bytes()
    assert isinstance(data, bytes) and data
    loaded = BanditModel.from_bytes(data, policy)
    for shared in (MOBILE, DESKTOP, {}):
        assert loaded.predict(shared, actions) == source.predict(shared, actions)
    # learning continues on both in lockstep
    train(source, actions, n=50, seed=9)
    train(loaded, actions, n=50, seed=9)
    assert loaded.predict(MOBILE, actions) == pytest.approx(
        source.predict(MOBILE, actions), abs=1e-6
    )
    source.finish()
    loaded.finish()


def test_corrupt_bytes_refused() -> None:
    with pytest.raises(ValueError, match="VW cannot load"):
        BanditModel.from_bytes(b"not a model", BanditPolicy(explorer=Epsilon(0.1)))
    with pytest.raises(ValueError, match="no cell counts"):  # e.g. a model of Vernier <= 0.9
        BanditModel.from_bytes(b"not a model", BanditPolicy())
    saved = BanditModel(BanditPolicy()).to_bytes()
    with pytest.raises(ValueError, match="cut short"):
        BanditModel.from_bytes(saved[:40], BanditPolicy())
    with pytest.raises(ValueError, match=r"VW cannot load|unreadable cell counts"):
        BanditModel.from_bytes(saved[:20] + b"x" * (len(saved) - 20), BanditPolicy())


def test_a_model_loads_with_the_interactions_it_was_made_under(actions: ActionSet) -> None:
    # the learner chose GA; `vernier evaluate --model` loads it under the rules' policy (the
    # default six): it predicts as it did
    chosen = BanditModel(BanditPolicy(interactions=("GA",), uniform_first=0))
    for i in range(200):
        chosen.learn(
            {"G": [f"cc={'de' if i % 2 else 'fr'}"]}, actions, i % 3,
            reward=float(i % 3 == i % 2), probability=1 / 3,
        )  # fmt: skip
    saved = chosen.to_bytes()
    loaded = BanditModel.from_bytes(saved, BanditPolicy())
    assert loaded.predict({"G": ["cc=de"]}, actions) == pytest.approx(
        chosen.predict({"G": ["cc=de"]}, actions), abs=1e-6
    )
    loaded.finish()
    # the rules list the terms in another order: the same feature space, and the counts load
    # (VW hashes AG and GA apart, so such a snapshot then fails its canary and is not served)
    BanditModel.from_bytes(saved, BanditPolicy(interactions=("AG",))).finish()
    chosen.finish()


def test_a_model_keeps_its_watched_terms_through_its_bytes() -> None:
    policy = BanditPolicy(interactions=("GA",))
    model = BanditModel(policy)
    actions = ActionSet([("a", {}), ("b", {})])
    try:
        for i in range(20):
            model.learn(
                {"G": ["cc=de"], "D": ["dev=mobile"]}, actions, i % 2, reward=float(i % 3 == 0),
                probability=0.5,
            )  # fmt: skip
        back = BanditModel.from_bytes(model.to_bytes(), policy)
        try:
            assert back._cells.terms == ("AG",)
            assert back._cells.watched == ("AD", "ADR", "AR", "AT", "AU")
            assert back._cells.to_wire() == model._cells.to_wire()
        finally:
            back.finish()
    finally:
        model.finish()


@pytest.mark.parametrize(
    ("chosen", "reward", "probability", "match"),
    [
        (3, 1.0, 0.5, "chosen index"),
        (-1, 1.0, 0.5, "chosen index"),
        (0, 1.0, 0.0, "probability"),
        (0, 1.0, 1.5, "probability"),
        (0, float("nan"), 0.5, "reward"),
    ],
)
def test_learn_validates(
    actions: ActionSet, chosen: int, reward: float, probability: float, match: str
) -> None:
    model = BanditModel(BanditPolicy())
    with pytest.raises(ValueError, match=match):
        model.learn(MOBILE, actions, chosen, reward=reward, probability=probability)
    assert model.examples_learned == 0
    model.finish()


def test_reward_is_negated_cost(actions: ActionSet) -> None:
    """A rewarded action gains probability; a costly (negative reward) one loses it."""
    model = BanditModel(BanditPolicy(explorer=Epsilon(0.2), interactions=("DA",)))
    for _ in range(30):
        model.learn(MOBILE, actions, 0, reward=1.0, probability=0.5)
        model.learn(MOBILE, actions, 1, reward=-1.0, probability=0.5)
    pmf = model.predict(MOBILE, actions)
    assert pmf[0] == max(pmf)
    model.finish()


def test_finish_is_idempotent_and_final(actions: ActionSet) -> None:
    model = BanditModel(BanditPolicy())
    model.finish()
    model.finish()
    with pytest.raises(RuntimeError, match="finished"):
        model.predict(MOBILE, actions)
    with pytest.raises(RuntimeError, match="finished"):
        model.to_bytes()


def test_pmf_is_valid() -> None:
    assert pmf_is_valid([0.5, 0.5], 2)
    assert not pmf_is_valid([0.5, 0.5], 3)
    assert not pmf_is_valid([float("nan"), 1.0], 2)
    assert not pmf_is_valid([0.2, 0.2], 2)
    assert not pmf_is_valid([-0.5, 1.5], 2)


def test_concurrent_use_is_serialised(actions: ActionSet) -> None:
    """Predicting on one thread while another learns and saves neither crashes nor corrupts."""
    model = BanditModel(BanditPolicy(interactions=("DA",)))
    errors: list[BaseException] = []

    def predict() -> None:
        try:
            for _ in range(300):
                assert pmf_is_valid(model.predict(MOBILE, actions), 3)
        except BaseException as err:  # pragma: no cover - reported below
            errors.append(err)

    thread = threading.Thread(target=predict)
    thread.start()
    train(model, actions, n=300)
    model.to_bytes()
    thread.join()
    assert errors == []
    model.finish()


@pytest.mark.parametrize(("weighted", "best"), [(False, "a"), (True, "b")])
def test_importance_weights_decide_what_a_rare_click_is_worth(
    weighted: bool, best: str, actions: ActionSet
) -> None:
    """``a`` earns 0.6 on every visit; ``b`` was served 4 times and clicked once, that once
    while explored at p = 0.02. Unweighted (the default) ``b``'s click is one of four (0.25 <
    0.6); weighted by 1/p it counts 50 times and outweighs ``a``."""
    policy = BanditPolicy(explorer=Epsilon(0.0), interactions=("DA",), importance_weights=weighted)
    model = BanditModel(policy)
    for _ in range(20):
        model.learn(MOBILE, actions, 0, reward=0.6, probability=1.0)
    for _ in range(3):
        model.learn(MOBILE, actions, 1, reward=0.0, probability=1.0)
    model.learn(MOBILE, actions, 1, reward=1.0, probability=0.02)
    pmf = model.predict(MOBILE, actions)
    assert actions.ids[pmf.index(max(pmf))] == best
    model.finish()


@pytest.mark.parametrize(("initial_weight", "keeps_a"), [(0.01, False), (0.0, True)])
def test_a_variant_not_yet_tried_starts_optimistic(
    initial_weight: float, keeps_a: bool, actions: ActionSet
) -> None:
    """``a`` was shown 30 times on mobile and never clicked; ``b`` and ``c`` were not shown there.
    Starting every weight at 0.01 (the default) estimates the untried ones above ``a``'s misses,
    so the greedy choice tries another; starting at 0 all three tie at 0 and VW's greedy choice
    keeps the first of tied variants."""
    policy = BanditPolicy(
        explorer=Epsilon(0.0), interactions=("DA",), initial_weight=initial_weight
    )
    model = BanditModel(policy)
    for _ in range(30):
        model.learn(MOBILE, actions, 0, reward=0.0, probability=1.0)
    pmf = model.predict(MOBILE, actions)
    assert (actions.ids[pmf.index(max(pmf))] == "a") is keeps_a
    model.finish()


def test_a_saved_model_holds_only_the_weights_in_use(actions: ActionSet) -> None:
    """The optimistic start sets every weight; sparse weights keep a saved model to the ones
    used (a dense table of 2**18 would save ~4 MB), and the loaded model predicts the same."""
    model = BanditModel(BanditPolicy())
    train(model, actions, n=300)
    data = model.to_bytes()
    assert len(data) < 64 * 1024
    loaded = BanditModel.from_bytes(data, BanditPolicy())
    unseen = {"D": ["dev=tablet"], "G": ["cc=jp"]}  # untouched weights: the initial value again
    for context in (MOBILE, DESKTOP, unseen):
        assert loaded.predict(context, actions) == pytest.approx(model.predict(context, actions))
    model.finish()
    loaded.finish()
