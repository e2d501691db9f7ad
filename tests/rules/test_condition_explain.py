"""Explaining a condition: rendering is the parser's inverse, and each leaf test is reported."""

from __future__ import annotations

import pytest

from proxy.rules import condition_explain as explain
from proxy.rules.condition_explain import LeafTest, render
from proxy.rules.condition_parser import parse_condition


@pytest.mark.parametrize(
    "text",
    [
        "hour >= 18",
        "20 > hour",
        "engaged_s >= p90(engaged_s)",
        "x > -1500.0",
        "device in ['mobile', 'tablet']",
        "device not in ['desktop']",
        "'vip' in segments",
        "'vip' not in segments",
        "landing",
        "landing == true",
        "true",
        'name == "O\'Brien"',
        "quote == 'say \"hi\" it\\'s'",
        "not (a or b) and (c or d and not e)",
    ],
)
def test_a_rendered_condition_parses_back_to_the_same_tree(text: str) -> None:
    node = parse_condition(text)
    assert parse_condition(render(node)) == node


def test_render_writes_canonical_spacing_and_quoting() -> None:
    assert render(parse_condition('a==1 and not("x"in segments)')) == (
        "(a == 1 and not ('x' in segments))"
    )


def test_each_leaf_reports_what_it_read_and_whether_it_held() -> None:
    node = parse_condition("device == 'mobile' and not (hour > 20 or missing)")
    context: dict[str, object] = {"device": "mobile", "hour": 19}
    assert explain.tests_of(node, context) == [
        LeafTest("device == 'mobile'", {"device": "mobile"}, True),
        LeafTest("hour > 20", {"hour": 19}, False),
        LeafTest("missing", {}, False),
    ]


def test_a_negated_leaf_is_shown_with_its_own_verdict() -> None:
    """``not 'buyer' in segments`` for a visitor in no such segment holds: it is not listed as
    the failed ``'buyer' in segments``."""
    node = parse_condition("not 'buyer' in segments and device == 'mobile'")
    context: dict[str, object] = {"segments": ("window-shopper",), "device": "mobile"}
    assert explain.tests_of(node, context) == [
        LeafTest("not ('buyer' in segments)", {"segments": ("window-shopper",)}, True),
        LeafTest("device == 'mobile'", {"device": "mobile"}, True),
    ]
