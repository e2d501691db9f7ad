"""The condition language's syntax: what parses to which tree, and errors naming the column."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from proxy.rules.condition_parser import ConditionError, build_condition, parse_condition
from proxy.rules.condition_tree import (
    All,
    Compare,
    Contains,
    Field,
    Literal,
    Member,
    Not,
    Percentile,
    Truthy,
)
from proxy.rules.schema import Compound


@pytest.mark.parametrize(
    ("text", "node"),
    [
        ("hour >= 18", Compare(">=", Field("hour"), Literal(18))),
        ("device == 'mobile'", Compare("==", Field("device"), Literal("mobile"))),
        ('"mobile" == device', Compare("==", Literal("mobile"), Field("device"))),
        ("max_scroll >= 0.75", Compare(">=", Field("max_scroll"), Literal(0.75))),
        ("x > -1.5e3", Compare(">", Field("x"), Literal(-1500.0))),
        ("landing", Truthy(Field("landing"))),
        ("landing == true", Compare("==", Field("landing"), Literal(True))),
        ("utm.source == 'news'", Compare("==", Field("utm.source"), Literal("news"))),
        (
            "header.accept-language != 'en'",
            Compare("!=", Field("header.accept-language"), Literal("en")),
        ),
        ("clicks.hero > 0", Compare(">", Field("clicks.hero"), Literal(0))),
        ("s == 'it\\'s'", Compare("==", Field("s"), Literal("it's"))),
        ("weekday in ['sat', 'sun',]", Member(Field("weekday"), ("sat", "sun"))),
        ("country not in []", Member(Field("country"), (), negated=True)),
        ("e >= p90(e)", Compare(">=", Field("e"), Percentile(90, "e"))),
        ("not a", Not(Truthy(Field("a")))),
        ("'vip' in segments", Contains("vip", Field("segments"))),
        ("'vip' not in segments", Contains("vip", Field("segments"), negated=True)),
        (
            "a and (b or not c)",
            All((Truthy(Field("a")), build_condition("b or not c"))),
        ),
    ],
)
def test_parses(text: str, node: object) -> None:
    assert parse_condition(text) == node


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "column 1: the expression is empty"),
        ("hour >=", "column 8: expected a field name or a value, found the end of the expression"),
        ("(a", "column 3: expected ')', found the end of the expression"),
        ("a b", "column 3: expected 'and', 'or' or the end of the expression, found 'b'"),
        ("a == 'x", "column 6: unterminated string"),
        ("a @ b", "column 3: unexpected character '@'"),
        ("1 < 2", "column 1: a comparison needs a field on one side"),
        ("'x' in ['x']", "column 8: expected a field name after a value and 'in', found '['"),
        ("a in [b]", "column 7: expected a field name or a value, found 'b'"),
        ("a in [1 2]", "column 9: expected ']', found '2'"),
        ("5", "column 2: expected a comparison operator, found the end of the expression"),
        ("a and", "column 6: expected a field name or a value, found the end of the expression"),
        ("(" * 40 + "a" + ")" * 40, "column 33: nested more than 32 levels deep"),
        ("not " * 40 + "a", "nested more than 32 levels deep"),
        (
            "visits_7d > 1 and clicks:hero > 0",
            "column 19: write 'clicks.hero', not 'clicks:hero': field names use '.' in conditions",
        ),
        ("e >= p90(max_scroll:home)", "write 'max_scroll.home', not 'max_scroll:home'"),
    ],
)
def test_rejects_with_column(text: str, message: str) -> None:
    with pytest.raises(ConditionError) as caught:
        parse_condition(text)
    assert message in str(caught.value)


@pytest.mark.parametrize(
    ("spec", "where", "message"),
    [
        (Compound(), "", "use exactly one of 'all', 'any' or 'not'"),
        (Compound(all=("a",), any=("b",)), "", "use exactly one"),
        (Compound(all=()), ".all", "'all' needs at least one condition"),
        (Compound(any=("a", Compound(not_="b =="))), ".any[1].not", "column 5"),
    ],
)
def test_structured_errors(spec: Compound, where: str, message: str) -> None:
    with pytest.raises(ConditionError) as caught:
        build_condition(spec)
    assert caught.value.where == where
    assert message in caught.value.message


ALPHABET = st.sampled_from(
    [*"abcdep ()[],'\"\\=!<>.:-_019 \t", "and", "or", "not", "in", "true", "false", "p90(", "=="]
)


@given(st.lists(ALPHABET, max_size=30).map("".join) | st.text(max_size=60))
def test_any_string_parses_or_raises_value_error(text: str) -> None:
    try:
        parse_condition(text)
    except ValueError as err:
        assert str(err).startswith("column ")
