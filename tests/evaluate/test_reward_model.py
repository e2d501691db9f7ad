"""DR's reward model: shrinkage, cross-fitting (a record never predicts itself), buckets."""

from __future__ import annotations

import pytest

from proxy.evaluate.reward_model import RewardModel, by_namespaces, full_context
from proxy.records.decision import DecisionRecord


def example(i: int, chosen: str, reward: float, device: str = "x") -> DecisionRecord:
    return DecisionRecord(
        id=str(i), slot="s", actions=("a", "b"), chosen=chosen, p=0.5,
        context={"D": (f"dev={device}",)}, reward=reward,
    )  # fmt: skip


def test_shrinks_towards_the_action_and_overall_means() -> None:
    """Hand-computed: one fold, prior weight 5."""
    records = [example(i, "a", float(i % 2), device=str(i % 2)) for i in range(100)]
    model = RewardModel(full_context, folds=1, prior_weight=5.0)
    for record in records:
        model.add(record)
    # overall 0.5; action a: (50 + 5·0.5)/(100 + 5) = 0.5; cell dev=1: (50 + 5·0.5)/(50 + 5)
    assert model.predict(records[1], 1) == pytest.approx([52.5 / 55, 0.5])
    assert model.predict(records[0], 0) == pytest.approx([2.5 / 55, 0.5])
    assert model.cells == 2


def test_cross_fitting_holds_out_the_records_own_fold() -> None:
    """Record i is predicted from the other fold only: its own reward never enters."""
    model = RewardModel(by_namespaces(), folds=2, prior_weight=0.0)
    rewards = [1.0, 0.0, 1.0, 0.0, 1.0, 0.0]  # fold 0 (even) all 1, fold 1 (odd) all 0
    records = [example(i, "a", r) for i, r in enumerate(rewards)]
    for record in records:
        model.add(record)
    assert model.predict(records[0], 0)[0] == 0.0  # fitted on fold 1 only
    assert model.predict(records[1], 1)[0] == 1.0  # fitted on fold 0 only
    assert model.predict(records[0], 0)[1] == 0.0  # b never chosen: the overall mean of fold 1


def test_too_few_examples_to_split_use_every_fold() -> None:
    model = RewardModel(by_namespaces(), folds=2, prior_weight=0.0)
    records = [example(0, "a", 1.0), example(1, "a", 0.0)]
    for record in records:
        model.add(record)
    assert model.fold_of(0) is None
    assert model.predict(records[0], 0)[0] == 0.5


def test_non_examples_are_not_fitted() -> None:
    model = RewardModel()
    model.add(DecisionRecord(id="1", slot="s", actions=("a",), chosen="a", p=1.0))
    assert model.examples == 0 and model.cells == 0
    with pytest.raises(ValueError, match="folds"):
        RewardModel(folds=0)


def test_buckets() -> None:
    record = DecisionRecord(
        id="1", slot="s", actions=("a",), chosen="a", p=1.0,
        context={"D": ("dev=x", "br=y"), "U": ("eng=0+",)},
    )  # fmt: skip
    assert by_namespaces("D", "T")(record) == (("br=y", "dev=x"), ())
    assert by_namespaces()(record) == ()
    assert full_context(record) == (("D", ("br=y", "dev=x")), ("U", ("eng=0+",)))
