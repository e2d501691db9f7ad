"""Per-decision probabilities joined to the log in order, in flat memory; errors name the line."""

from __future__ import annotations

import json

import pytest

from proxy.evaluate.policies import PolicyError
from proxy.evaluate.policy_file import PolicyFile
from proxy.records.decision import DecisionRecord


def decision(i: int, actions: tuple[str, ...] = ("a", "b", "c")) -> DecisionRecord:
    return DecisionRecord(id=f"d{i}", slot="s", actions=actions, chosen=actions[0], p=0.5)


def line(i: int, pmf: dict[str, float]) -> str:
    return json.dumps({"id": f"d{i}", "pmf": pmf})


def test_in_log_order_nothing_is_kept_aside() -> None:
    lines = [line(i, {"a": 0.25, "b": 0.75}) for i in range(1000)]
    policy = PolicyFile(iter(lines), source="p.jsonl")
    for i in range(1000):
        if i % 3 == 0:
            policy.skip(f"d{i}")  # a decision the evaluation does not need (no reward, …)
        else:
            assert policy(decision(i)) == [0.25, 0.75, 0.0]
        assert policy.kept_aside == 0
    assert policy.read == 1000


def test_lines_may_be_missing_for_unneeded_decisions_and_in_any_order() -> None:
    lines = ["", line(3, {"c": 1.0}), line(1, {"a": 1.0})]
    policy = PolicyFile(lines, source="p.jsonl")
    policy.skip("d0")  # no line for it: nothing is read past
    assert policy.kept_aside == 0
    assert policy(decision(1)) == [1.0, 0.0, 0.0]
    assert policy.kept_aside == 1  # d3's line, read on the way
    policy.skip("d2")
    assert policy(decision(3)) == [0.0, 0.0, 1.0]
    assert policy.kept_aside == 0 and policy.used == 2


def test_a_decision_without_a_line() -> None:
    policy = PolicyFile([line(1, {"a": 1.0})], source="p.jsonl")
    with pytest.raises(ValueError, match="no line for this decision"):
        policy(decision(2))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{nope", "p.jsonl:2: JSON is malformed"),
        ('{"id": "d1"}', "p.jsonl:2: Object missing required field `pmf`"),
        ('{"id": "d1", "pmf": {"a": "x"}}', "p.jsonl:2: Expected `float`"),
        (line(1, {"a": 0.5, "b": 0.4}), "p.jsonl:2: decision d1: the pmf sums to 0.9"),
        (line(1, {"a": 0.5, "z": 0.5}), "p.jsonl:2: decision d1: unknown action 'z'"),
        (line(1, {"a": 1.5, "b": -0.5}), "p.jsonl:2: decision d1: probability 1.5 is outside"),
    ],
)
def test_bad_lines_are_named(text: str, message: str) -> None:
    policy = PolicyFile([line(0, {"a": 1.0}), text], source="p.jsonl")
    with pytest.raises(PolicyError) as err:
        policy(decision(1))
    assert str(err.value).startswith(message), str(err.value)


def test_rounding_within_the_tolerance_is_accepted_and_renormalised() -> None:
    policy = PolicyFile([line(1, {"a": 0.333333, "b": 0.333333, "c": 0.333334})], source="p")
    assert sum(policy(decision(1))) == pytest.approx(1.0, abs=1e-15)
    loose = PolicyFile([line(1, {"a": 0.33, "b": 0.33, "c": 0.33})], source="p", tolerance=0.02)
    assert loose(decision(1)) == pytest.approx([1 / 3] * 3)


def test_a_duplicate_id_is_named() -> None:
    policy = PolicyFile([line(1, {"a": 1.0}), line(1, {"b": 1.0}), line(2, {"a": 1.0})], source="p")
    with pytest.raises(PolicyError, match="p:2: decision d1 already has a pmf at line 1"):
        policy(decision(2))
