"""``holdout:`` on a rule: validated at load with file, line, column and key; the arm is the
split slots' deterministic assignment, sticky per visitor, salted, and fair."""

from __future__ import annotations

from pathlib import Path

import pytest
from scipy import stats

from proxy.errors import ConfigError
from proxy.rules import load_rules
from proxy.rules.compiled import CompiledRule
from proxy.rules.holdout import APPLIED, ARMS, HOLDOUT, holdout_arm, holdout_split
from proxy.rules.split import assign

RULE = """
rules:
  - id: greet
    then: [{{op: set_text, selector: "#hero", value: "Hi"}}]
{extra}
"""


def load(tmp_path: Path, extra: str) -> object:
    (tmp_path / "home.yaml").write_text(RULE.format(extra=extra), encoding="utf-8")
    return load_rules(tmp_path)


def test_a_holdout_compiles_to_the_two_arms(tmp_path: Path) -> None:
    (tmp_path / "home.yaml").write_text(RULE.format(extra="    holdout: 10\n    salt: spring"))
    ruleset = load_rules(tmp_path)
    (rule,) = ruleset.rules
    assert rule.holdout == ((HOLDOUT, 0.1), (APPLIED, 0.9)) and rule.salt == "spring"
    assert ruleset.holdout_rules == (rule,)


def test_a_rule_without_holdout_is_as_before(tmp_path: Path) -> None:
    (tmp_path / "home.yaml").write_text(RULE.format(extra=""))
    ruleset = load_rules(tmp_path)
    assert ruleset.rules[0].holdout == () and ruleset.holdout_rules == ()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ("    holdout: 0", r"home.yaml:5:\d+ \$.rules\[0\].holdout: .*must be > 0"),
        ("    holdout: 100", r"home.yaml:5:\d+ \$.rules\[0\].holdout: .*must be < 100"),
        ("    holdout: -5", r"\$.rules\[0\].holdout: .*must be > 0"),
        ("    holdout: ten", r"\$.rules\[0\].holdout: expected a number or null, got a string"),
        ("    salt: spring", r"home.yaml:5:\d+ \$.rules\[0\].salt: 'salt' needs 'holdout'"),
    ],
)
def test_bad_holdouts_name_file_line_column_and_key(
    tmp_path: Path, extra: str, message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        load(tmp_path, extra)


def measured(percent: float, salt: str = "", id: str = "greet") -> CompiledRule:
    split = holdout_split(percent)
    return CompiledRule(id, 0, None, None, (), "home.yaml:3", holdout=split, salt=salt)


def test_the_arm_is_the_split_assignment_of_visitor_rule_and_salt() -> None:
    rule = measured(25, "s")
    for visitor in ("v1", "v2", "v3"):
        assert holdout_arm(rule, visitor) == assign(rule.holdout, visitor, "greet", "s")
        assert all(holdout_arm(rule, visitor) == holdout_arm(rule, visitor) for _ in range(3))
    arm, probability = holdout_arm(rule, "v1")
    assert probability == dict(rule.holdout)[arm] and arm in ARMS


def test_a_new_salt_or_another_rule_redraws_about_as_often_as_chance() -> None:
    base, salted, other = measured(50), measured(50, "new"), measured(50, id="other")
    visitors = [f"visitor-{i}" for i in range(2000)]
    for changed in (salted, other):
        moved = sum(holdout_arm(base, v)[0] != holdout_arm(changed, v)[0] for v in visitors)
        # independent draws disagree half the time: a two-sided binomial test, not a made-up band
        assert stats.binomtest(moved, len(visitors), 0.5).pvalue > 0.001


def test_the_held_out_share_matches_the_holdout() -> None:
    rule = measured(10)
    held = sum(holdout_arm(rule, f"visitor-{i}")[0] == HOLDOUT for i in range(5000))
    assert stats.binomtest(held, 5000, 0.10).pvalue > 0.001
