"""The condition language's meaning: evaluator tables, properties, the fields a condition reads."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from proxy.rules.condition_parser import build_condition, parse_condition
from proxy.rules.condition_tree import Percentile
from proxy.rules.conditions import evaluate, fields_used, percentiles_used, values_compared
from proxy.rules.schema import Compound

CONTEXT: dict[str, object] = {
    "device": "mobile",
    "hour": 19,
    "engaged_s": 45.5,
    "max_scroll": 0.8,
    "landing": True,
    "visits_7d": 3,
    "p90(engaged_s)": 40,
    "weekday": "sat",
    "flag": 1,
}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("device == 'mobile' and hour >= 18", True),
        ("max_scroll >= 0.75 and engaged_s > 30", True),
        ("engaged_s >= p90(engaged_s)", True),
        ("engaged_s >= p99(engaged_s)", False),  # threshold not supplied
        ("visits_7d >= 3.0", True),  # int and float compare
        ("missing == 'x'", False),
        ("missing != 'x'", False),  # a missing field compares false, whatever the operator
        ("not missing == 'x'", True),
        ("hour == '19'", False),  # type mismatch
        ("hour != '19'", False),
        ("flag == true", False),  # bool is not a number
        ("landing", True),
        ("flag", False),  # truthy means the boolean true only
        ("landing > false", False),  # bools only compare for equality
        ("device < 'n'", True),  # strings order lexically
        ("weekday in ['sat', 'sun']", True),
        ("weekday not in ['sat', 'sun']", False),
        ("missing not in ['x']", False),
        ("hour in [19.0]", True),
        ("device in [1, 2]", False),
        ("device == 'tablet' or hour < 20", True),
        ("true", True),
        ("false or false", False),
    ],
)
def test_evaluates(text: str, expected: bool) -> None:
    assert evaluate(parse_condition(text), CONTEXT) is expected


def test_structured_forms() -> None:
    spec = Compound(all=("hour >= 18", Compound(not_="device == 'desktop'")))
    node = build_condition(spec)
    assert evaluate(node, CONTEXT) is True
    assert evaluate(build_condition(Compound(any=("missing", "hour > 20"))), CONTEXT) is False


def test_fields_and_percentiles_used() -> None:
    node = parse_condition("a > 1 and (b.c in [1] or not d) and e >= p75(e)")
    assert fields_used(node) == {"a", "b.c", "d", "e"}
    assert percentiles_used(node) == {Percentile(75, "e")}
    assert Percentile(75, "e").key == "p75(e)"


values = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5)
contexts = st.dictionaries(
    st.sampled_from(["a", "b", "x", "p90(a)"]),
    values | st.lists(values, max_size=2) | st.dictionaries(st.text(max_size=2), values),
)
expressions = st.sampled_from(
    [
        "a == b",
        "a < 1.5 or x >= 'k'",
        "a in [1, 'x', true, 2.5]",
        "not a not in [0]",
        "x and a != p90(a)",
        "(a > b) and not (b <= -3)",
    ]
)


@given(expressions, contexts)
def test_evaluate_never_raises(text: str, context: dict[str, object]) -> None:
    assert evaluate(parse_condition(text), context) in (True, False)


# One case or more per condition kind of docs/rules-spec.md ("Condition expressions"), each
# operator both ways, over a context shaped like the one context.py builds (flat dotted keys).
KIND_CONTEXT: dict[str, object] = {
    "hour": 19,
    "engaged_s": 45.5,
    "device": "mobile",
    "landing": True,
    "returning": False,
    "utm.source": "news",
    "clicks.hero": 2,
    "header.accept-language": "fr-CH",
    "cookie.plan": "pro",
    "referrer.class": "search",
    "p90(engaged_s)": 40,
    "p50(engaged_s)": 12.0,
    "name": "O'Brien",
    "quote": 'say "hi"',
}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # every comparison operator, holding and not holding; a literal may come first
        ("hour == 19", True),
        ("hour == 18", False),
        ("hour != 18", True),
        ("hour != 19", False),
        ("hour < 20", True),
        ("hour < 19", False),
        ("hour <= 19", True),
        ("hour <= 18", False),
        ("hour > 18", True),
        ("hour > 19", False),
        ("hour >= 19", True),
        ("hour >= 20", False),
        ("20 > hour", True),
        ("engaged_s > 45.4", True),
        # in / not in
        ("device in ['mobile', 'tablet']", True),
        ("device in ['desktop']", False),
        ("device not in ['desktop', 'bot']", True),
        ("device not in ['mobile']", False),
        ("hour in [18, 19, 20]", True),
        # and / or / not, and their precedence (not > and > or)
        ("hour > 18 and device == 'mobile'", True),
        ("hour > 18 and device == 'desktop'", False),
        ("hour > 20 or device == 'mobile'", True),
        ("hour > 20 or device == 'desktop'", False),
        ("not hour > 20", True),
        ("not (hour > 18)", False),
        ("hour > 20 and device == 'x' or landing", True),
        ("hour > 20 and (device == 'x' or landing)", False),
        ("not landing or hour == 19", True),
        ("not not landing", True),
        # dotted names
        ("utm.source == 'news'", True),
        ("clicks.hero >= 2", True),
        ("header.accept-language == 'fr-CH'", True),
        ("cookie.plan in ['pro', 'team']", True),
        ("referrer.class != 'search'", False),
        # a missing field compares false, whatever the operator
        ("utm.medium == 'x'", False),
        ("utm.medium != 'x'", False),
        ("missing < 1", False),
        ("missing <= 1", False),
        ("missing > 1", False),
        ("missing >= 1", False),
        ("missing in ['x']", False),
        ("missing not in ['x']", False),
        ("missing", False),
        ("hour == missing", False),
        ("not missing == 'x'", True),
        # percentile thresholds (supplied by the caller; a missing one compares false)
        ("engaged_s >= p90(engaged_s)", True),
        ("engaged_s < p90(engaged_s)", False),
        ("p50(engaged_s) < engaged_s", True),
        ("engaged_s >= p75(engaged_s)", False),
        ("engaged_s < p75(engaged_s)", False),
        # booleans
        ("landing", True),
        ("returning", False),
        ("landing == true", True),
        ("returning == false", True),
        ("landing != true", False),
        ("not returning", True),
        ("landing == 1", False),
        ("true", True),
        ("false", False),
        # strings in either quote, with the other quote or an escaped one inside; case matters
        ("device == 'mobile'", True),
        ('device == "mobile"', True),
        ("device == 'Mobile'", False),
        ('name == "O\'Brien"', True),
        ("name == 'O\\'Brien'", True),
        ("quote == 'say \"hi\"'", True),
        ('quote == "say \\"hi\\""', True),
        ("device in ['mobile', \"tablet\"]", True),
    ],
)
def test_each_condition_kind(text: str, expected: bool) -> None:
    assert evaluate(parse_condition(text), KIND_CONTEXT) is expected


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        (Compound(all=("hour >= 18", "device == 'mobile'")), True),
        (Compound(all=("hour >= 18", "device == 'desktop'")), False),
        (Compound(any=("hour > 20", "landing")), True),
        (Compound(any=("hour > 20", "missing == 1")), False),
        (Compound(not_="device == 'desktop'"), True),
        (Compound(not_=Compound(any=("landing", "hour > 20"))), False),
        (Compound(all=(Compound(any=("missing", "utm.source == 'news'")), "not returning")), True),
        (Compound(all=("engaged_s >= p90(engaged_s)",)), True),
    ],
)
def test_each_structured_kind(spec: Compound, expected: bool) -> None:
    assert evaluate(build_condition(spec), KIND_CONTEXT) is expected


def test_structured_forms_record_fields_and_percentiles() -> None:
    node = build_condition(
        Compound(any=("utm.source == 'x'", Compound(not_="engaged_s < p90(engaged_s)")))
    )
    assert fields_used(node) == {"utm.source", "engaged_s"}
    assert percentiles_used(node) == {Percentile(90, "engaged_s")}


@pytest.mark.parametrize(
    ("text", "context", "expected"),
    [
        ("'vip' in segments", {"segments": ("new", "vip")}, True),
        ("'vip' in segments", {"segments": ("new",)}, False),
        ("'vip' not in segments", {"segments": ()}, True),
        ("'vip' in segments", {"segments": "vip"}, False),  # a string is not a collection
        ("'vip' in segments", {}, False),
        ("1 in segments", {"segments": ("1",)}, False),  # no type coercion
    ],
)
def test_membership_in_a_collection(text: str, context: dict[str, object], expected: bool) -> None:
    assert evaluate(parse_condition(text), context) is expected


def test_values_compared_finds_segment_references() -> None:
    node = parse_condition(
        "segment == 'a' or (segment in ['b', 'c'] and 'd' in segments) or not 'e' in segments"
        " or device == 'f'"
    )
    assert values_compared(node, "segment") == ["a", "b", "c"]
    assert values_compared(node, "segments") == ["d", "e"]
    assert fields_used(node) == {"segment", "segments", "device"}
