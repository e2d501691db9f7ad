"""A bandit slot's proposal: the model's probabilities, or an even split before it has learned."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from proxy.bandit.model import BanditModel
from proxy.bandit.registry import LiveModel
from proxy.decide.bandit import choose
from proxy.rules import load_rules
from proxy.rules.compiled import CompiledSlot

RULES = """
slots:
  - id: hero
    selector: "#hero"
    control: a
    policy: bandit
    variants: {a: [], b: [{op: hide, selector: p}], c: [{op: remove, selector: p}]}
    bandit: {features: [device], uniform_first: 50}
"""
MOBILE = {"device": "mobile"}


@pytest.fixture
def slot(tmp_path: Path) -> CompiledSlot:
    (tmp_path / "s.yaml").write_text(textwrap.dedent(RULES))
    return load_rules(tmp_path).slots[0]


def _trained(slot: CompiledSlot, examples: int) -> LiveModel:
    learner = slot.learner
    assert learner is not None
    model = BanditModel(learner.policy)
    for i in range(examples):  # c is the mobile visitors' favourite
        chosen = i % 3
        model.learn(
            {"D": ["dev=mobile"]}, learner.actions, chosen, reward=float(chosen == 2),
            probability=1 / 3,
        )  # fmt: skip
    return LiveModel(model, learner.feature_space, 1)


def test_an_even_split_until_the_model_learned_uniform_first(slot: CompiledSlot) -> None:
    early = choose(slot, MOBILE, _trained(slot, 49), seed="s1", now_ms=0)
    assert early.pmf == pytest.approx((1 / 3,) * 3) and early.probability == pytest.approx(1 / 3)
    later = choose(slot, MOBILE, _trained(slot, 60), seed="s1", now_ms=0)
    assert max(later.pmf) == later.pmf[2] > 0.9  # the model decides: c
    paused = choose(slot, MOBILE, _trained(slot, 60), seed="s1", now_ms=0, paused=frozenset("c"))
    assert paused.pmf[2] == 0.0 and sum(paused.pmf) == pytest.approx(1.0)
    held = choose(slot, MOBILE, _trained(slot, 60), seed="s1", now_ms=0, explore_only=True)
    assert held.pmf == pytest.approx((1 / 3,) * 3)  # still gathering its minimum evidence
