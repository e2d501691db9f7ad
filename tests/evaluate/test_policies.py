"""Target policies, including a VW model trained on the log."""

from __future__ import annotations

import pytest

from proxy.bandit.features import ActionSet
from proxy.bandit.model import BanditModel
from proxy.bandit.policy_config import BanditPolicy, Epsilon
from proxy.evaluate.estimators import evaluate
from proxy.evaluate.policies import always, deterministic, model_policy, uniform
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
