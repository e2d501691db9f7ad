"""``policy: split``: weights checked at load, assignment deterministic, sticky and fair."""

from __future__ import annotations

from pathlib import Path

import pytest
from scipy import stats

from proxy.errors import ConfigError
from proxy.rules import load_rules
from proxy.rules.split import assign, split_probabilities

SLOT = """
slots:
  - id: hero
    selector: "#hero"
    control: a
    variants: {{a: [], b: [{{op: hide, selector: ".x"}}], c: []}}
{extra}
"""


def load(tmp_path: Path, extra: str) -> object:
    (tmp_path / "home.yaml").write_text(SLOT.format(extra=extra), encoding="utf-8")
    return load_rules(tmp_path)


def test_weights_become_shares_in_file_order(tmp_path: Path) -> None:
    extra = "    policy: split\n    split: {b: 25, a: 50}\n    salt: spring"
    (tmp_path / "home.yaml").write_text(SLOT.format(extra=extra), encoding="utf-8")
    ruleset = load_rules(tmp_path)
    slot = ruleset.slots[0]
    assert slot.split == (("a", 2 / 3), ("b", 1 / 3), ("c", 0.0))
    assert slot.salt == "spring"
    assert slot.learner is not None and not slot.learner.bandit  # decisions are logged


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ("    policy: split", "split needs weights"),
        ("    policy: split\n    split: {a: 0, b: 0}", "must not all be 0"),
        ("    policy: split\n    split: {a: 1, z: 1}", "'z' is not one of the variants"),
        ("    split: {a: 1, b: 1}", "need 'policy: split'"),
        ("    policy: split\n    split: {a: -1, b: 1}", r"split.a: must be >= 0"),
    ],
)
def test_bad_splits_name_the_key(tmp_path: Path, extra: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as caught:
        load(tmp_path, extra)
    assert "home.yaml" in str(caught.value)


def test_assignment_is_sticky_per_visitor_and_salted() -> None:
    split = split_probabilities({"a": 50, "b": 50}, ["a", "b"])
    first = assign(split, "visitor-1", "hero", "")
    assert all(assign(split, "visitor-1", "hero", "") == first for _ in range(5))
    assert first[1] == 0.5
    changed = sum(
        assign(split, f"v{i}", "hero", "") != assign(split, f"v{i}", "hero", "new")
        for i in range(200)
    )
    assert 60 < changed < 140  # a new salt re-randomises about half of the visitors


def test_assignment_follows_the_weights() -> None:
    split = split_probabilities({"a": 60, "b": 30, "c": 10}, ["a", "b", "c"])
    counts = {"a": 0, "b": 0, "c": 0}
    for i in range(30_000):
        counts[assign(split, f"visitor-{i}", "hero", "")[0]] += 1
    expected = [18_000, 9_000, 3_000]
    assert stats.chisquare(list(counts.values()), expected).pvalue > 0.001
    assert assign(split_probabilities({"a": 1}, ["a", "b"]), "x", "hero", "") == ("a", 1.0)


def test_a_split_of_one_variant_is_not_called_a_bandit(tmp_path: Path) -> None:
    lone = SLOT.replace(
        'variants: {{a: [], b: [{{op: hide, selector: ".x"}}], c: []}}', "variants: {{a: []}}"
    )
    (tmp_path / "home.yaml").write_text(
        lone.format(extra="    policy: split\n    split: {a: 100}"), encoding="utf-8"
    )
    with pytest.raises(ConfigError, match="chooses among variants needs at least 2") as caught:
        load_rules(tmp_path)
    assert "bandit" not in str(caught.value) and "$.slots[0].variants" in str(caught.value)
