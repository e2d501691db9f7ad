"""Target policies, including a VW model trained on the log."""

from __future__ import annotations

import numpy as np
import pytest

from proxy.bandit.features import ActionSet
from proxy.bandit.model import BanditModel
from proxy.bandit.policy_config import BanditPolicy, Epsilon
from proxy.evaluate.estimators import evaluate
from proxy.evaluate.policies import (
    Decision,
    PolicyError,
    always,
    checked_pmf,
    deterministic,
    entry_point,
    model_policy,
    pmf_in_order,
    uniform,
)
from proxy.records.decision import DecisionRecord
from tests.evaluate.synthetic import ACTIONS, BEST, CONTEXTS, device, generate, true_value

RECORD = DecisionRecord(id="1", slot="s", actions=("a", "b", "c"), chosen="b", p=0.5)


def test_simple_policies() -> None:
    assert uniform(RECORD) == [1 / 3] * 3
    assert always("c")(RECORD) == [0.0, 0.0, 1.0]
    assert deterministic(lambda r: "a")(RECORD) == [1.0, 0.0, 0.0]
    with pytest.raises(ValueError, match="not offered"):
        always("z")(RECORD)
    with pytest.raises(ValueError, match="not offered"):
        deterministic(lambda r: "z")(RECORD)


def test_vw_model_as_target() -> None:
    """A model trained on one log is evaluated on another; greedy, it approaches the oracle."""
    policy = BanditPolicy(explorer=Epsilon(0.1), interactions=("DA",), features=("device",))
    model = BanditModel(policy)
    actions = ActionSet([(a, {}) for a in ACTIONS])
    for record in generate(3000, 50):
        model.learn(
            record.context,
            actions,
            record.chosen_index,
            reward=record.reward or 0.0,
            probability=record.p,
        )
    test_log = generate(3000, 51)
    greedy = evaluate(test_log, model_policy(model, {}, greedy=True))
    oracle_value = true_value({x: tuple(float(a == BEST[x]) for a in ACTIONS) for x in CONTEXTS})
    assert greedy.dr.contains(oracle_value)
    stochastic = model_policy(model, {})
    pmf = stochastic(test_log[0])
    assert sum(pmf) == pytest.approx(1.0)
    assert ACTIONS[pmf.index(max(pmf))] == BEST[device(test_log[0])]
    model.finish()


def test_entry_point_sees_the_context_not_the_choice() -> None:
    seen: list[Decision] = []

    def mine(decision: Decision) -> dict[str, float]:
        seen.append(decision)
        return {"b": 0.5, "c": 0.5}

    record = DecisionRecord(
        id="1", slot="s", actions=("a", "b", "c"), chosen="b", p=0.5, reward=1.0,
        context={"D": ("dev=mobile",)},
    )  # fmt: skip
    assert entry_point(mine)(record) == [0.0, 0.5, 0.5]
    assert seen[0].context == {"D": ("dev=mobile",)} and seen[0].actions == record.actions
    assert not hasattr(seen[0], "chosen") and not hasattr(seen[0], "reward")
    assert entry_point(lambda d: [0.2, 0.3, 0.5])(record) == [0.2, 0.3, 0.5]
    assert entry_point(lambda d: np.array([0.0, 1.0, 0.0]))(record) == [0.0, 1.0, 0.0]


@pytest.mark.parametrize(
    ("returned", "message"),
    [
        ({"z": 1.0}, "unknown action 'z'"),
        ("abc", "returned str, not a pmf"),
        (None, "NoneType, not a pmf .* or one probability per action"),
        ({"a": "x"}, "returned 'x' for 'a': a probability is a number"),  # was Python's TypeError
    ],
)
def test_entry_point_errors_are_located(returned: object, message: str) -> None:
    with pytest.raises(PolicyError, match=f"log:3: decision 1: policy mine: .*{message}"):
        checked_pmf(entry_point(lambda d: returned), RECORD, "mine", "log:3")


def test_an_exception_in_the_users_code_is_reported() -> None:
    def broken(decision: Decision) -> dict[str, float]:
        raise KeyError("dev")

    with pytest.raises(PolicyError, match="log:3: decision 1: policy mine: raised KeyError: 'dev'"):
        checked_pmf(entry_point(broken), RECORD, "mine", "log:3")


def test_pmf_in_order() -> None:
    assert pmf_in_order({"c": 1.0}, ("a", "b", "c")) == [0.0, 0.0, 1.0]
    with pytest.raises(ValueError, match="sums to"):
        pmf_in_order({"a": 0.5}, ("a", "b"))
