"""Context features, VW's ADF text format, and sanitising (property-tested through VW)."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pylibvw  # type: ignore[import-not-found]
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from vowpalwabbit import Workspace  # type: ignore[import-untyped]

from proxy.bandit.features import (
    MAX_TOKEN_CHARS,
    ActionSet,
    Label,
    action_line,
    adf_example,
    bucket,
    context_features,
    sanitize,
    shared_line,
)
from proxy.bandit.policy_config import (
    ALL_FEATURE_GROUPS,
    BanditPolicy,
    FeatureValue,
    vw_arguments,
)

POLICY = BanditPolicy(features=ALL_FEATURE_GROUPS)  # every group, to test them all
_VW_SAFE = re.compile(r"[\x21-\x7e]*")  # printable ASCII, no space
NOW_MS = 1_700_000_000_000


class Parser:
    """VW's own text parser (a wrapper: hypothesis calls ``setup_example`` on a first argument
    that has one, and a VW workspace does)."""

    def __init__(self) -> None:
        self.ws = Workspace(arg_list=vw_arguments(POLICY))

    def parse(self, lines: list[str]) -> list[object]:
        examples: list[object] = pylibvw.vw._parse(self.ws, "\n".join(lines))
        return examples

    def finish(self, examples: list[object]) -> None:
        pylibvw.vw._finish_example_multi_ex(self.ws, examples)


@pytest.fixture(scope="module")
def vw() -> Iterator[Parser]:
    parser = Parser()
    yield parser
    parser.ws.finish()


def test_sanitize_keeps_plain_tokens() -> None:
    assert sanitize("mobile") == "mobile"
    assert sanitize("utm-2024_spring.v2") == "utm-2024_spring.v2"


@pytest.mark.parametrize("raw", ["a b", "a|b", "a:b", "a\nb", "a\tb", "a\rb", "a\x00b", "%", "ü"])
def test_sanitize_encodes_what_vw_would_misread(raw: str) -> None:
    token = sanitize(raw)
    assert _VW_SAFE.fullmatch(token)
    assert not set(token) & set(" |:\n\r\t")
    assert token != raw


def test_sanitize_bounds_length_and_stays_distinct() -> None:
    long_a, long_b = "x" * 500 + "a", "x" * 500 + "b"
    assert len(sanitize(long_a)) == MAX_TOKEN_CHARS
    assert sanitize(long_a) != sanitize(long_b)
    assert len(sanitize("é" * 100)) == MAX_TOKEN_CHARS
    assert sanitize("\ud800") == "%ED%A0%80"  # a lone surrogate does not raise


@given(st.text(), st.text())
def test_sanitize_is_injective_and_safe(a: str, b: str) -> None:
    sa, sb = sanitize(a), sanitize(b)
    assert _VW_SAFE.fullmatch(sa) and len(sa) <= MAX_TOKEN_CHARS
    assert "%" not in a or sa != a
    if a != b:
        assert sa != sb


def test_bucket() -> None:
    edges = (0, 10, 30, 60)
    assert [bucket(v, edges) for v in (-5, 0, 9.9, 10, 45, 1e9)] == [
        "0+", "0+", "0+", "10+", "30+", "60+",
    ]  # fmt: skip


def test_profile_buckets_are_cumulative() -> None:
    """A value below the first edge above 0 is the 0 bucket alone; above, every edge it passed."""
    for visits, expected in ((0, ["v7=0+"]), (1, ["v7=1+"]), (4, ["v7=1+", "v7=2+", "v7=3+"])):
        features = context_features({"visits_7d": visits}, POLICY, now_ms=NOW_MS)
        assert features["U"] == expected


def test_context_features_full() -> None:
    context: dict[str, object] = {
        "device": "mobile",
        "browser": "safari",
        "os": "ios",
        "hour": 21,
        "weekday": "sun",
        "country": "FR",
        "language": "fr",
        "referrer.class": "social",
        "utm.source": "Insta Gram",
        "utm.medium": "paid",
        "landing": True,
        "path": "/blog/post-1",
        "engaged_s": 75.5,
        "max_scroll": 0.95,
        "visits_7d": 4,
        "purchases_30d": 1,
        "last_seen_ms": NOW_MS - 2 * 3600 * 1000,
        "clicks.hero": 2,
        "clicks:hero": 2,
        "clicks.promo bar": 0,
        "header.user-agent": "ignored",
    }
    features = context_features(context, POLICY, now_ms=NOW_MS)
    assert features == {
        "D": ["dev=mobile", "br=safari", "os=ios"],
        "T": ["h=21", "dp=evening", "wd=sun", "we=1"],
        "G": ["cc=fr", "lang=fr"],
        "R": ["ref=social", "us=insta%20gram", "um=paid", "land=1", "lp=blog"],
        "U": [  # cumulative buckets: every edge up to the value's (75.5 s: 10+ 30+ 60+)
            "eng=10+",
            "eng=30+",
            "eng=60+",
            "scr=0.25+",
            "scr=0.5+",
            "scr=0.75+",
            "scr=0.9+",
            "v7=1+",
            "v7=2+",
            "v7=3+",
            "p30=1+",
            "rec=1h",
            "clk.hero=2+",
            "clk.promo%20bar=0+",
        ],
    }


def test_context_features_only_the_policy_groups() -> None:
    context: dict[str, object] = {"device": "desktop", "hour": 3, "visits_7d": 1, "country": "US"}
    policy = BanditPolicy(features=("device", "hour"), interactions=("DA", "TA"))
    assert context_features(context, policy) == {"D": ["dev=desktop"], "T": ["h=3", "dp=night"]}


def test_absent_or_odd_fields_give_no_token() -> None:
    context: dict[str, object] = {
        "hour": 25,
        "engaged_s": "lots",
        "visits_7d": float("nan"),
        "purchases_30d": True,
        "landing": False,
        "path": "/x",
    }
    assert context_features(context, POLICY) == {"R": ["land=0"]}
    assert context_features({}, POLICY) == {}


def test_recency_needs_the_clock() -> None:
    context: dict[str, object] = {"last_seen_ms": NOW_MS - 40 * 86400 * 1000}
    assert context_features(context, POLICY) == {}
    assert context_features(context, POLICY, now_ms=NOW_MS) == {"U": ["rec=30d"]}


def test_action_line() -> None:
    line = action_line(
        "b", {"tone": "Very urgent", "price": 12.5, "new": True, "bad": float("inf")}
    )
    assert line == "|A id=b tone=Very%20urgent price:12.5 new=true"


def test_adf_example_layout() -> None:
    lines = adf_example(
        {"U": ["eng=30+"], "D": ["dev=mobile"], "T": []},
        [("a", {}), ("b", {"tone": "calm"})],
        Label(chosen=1, cost=-1.0, probability=0.25),
    )
    assert lines == ["shared |D dev=mobile |U eng=30+", "|A id=a", "0:-1.0:0.25 |A id=b tone=calm"]
    assert adf_example({}, [("a", {})]) == ["shared |", "|A id=a"]
    with pytest.raises(IndexError):
        adf_example({}, [("a", {})], Label(1, 0.0, 1.0))


def test_action_set() -> None:
    actions = ActionSet([("a", {}), ("b", {"x": "y"})])
    assert len(actions) == 2 and actions.ids == ("a", "b") and actions.index("b") == 1
    assert actions.lines == ("|A id=a", "|A id=b x=y")
    with pytest.raises(ValueError):
        ActionSet([])


def test_vw_reads_the_label(vw: Parser) -> None:
    lines = adf_example({"U": ["a=1"]}, [("a", {}), ("b", {})], Label(1, -1.0, 1e-05))
    examples = vw.parse(lines)
    try:
        chosen = examples[2]
        assert chosen.get_cbandits_cost(0) == -1.0  # type: ignore[attr-defined]
        assert chosen.get_cbandits_probability(0) == pytest.approx(1e-05, rel=1e-6)  # type: ignore[attr-defined]
    finally:
        vw.finish(examples)


any_text = st.text(alphabet=st.characters(exclude_categories=()), max_size=80)


@settings(max_examples=150, deadline=None)
@given(
    values=st.lists(any_text, min_size=8, max_size=8),
    variant_ids=st.lists(any_text, min_size=1, max_size=4),
    variant_feature=st.tuples(any_text, any_text),
)
def test_arbitrary_unicode_never_breaks_the_format(
    vw: Parser,
    values: list[str],
    variant_ids: list[str],
    variant_feature: tuple[str, str],
) -> None:
    context: dict[str, object] = {
        "device": values[0],
        "browser": values[1],
        "weekday": values[2],
        "country": values[3],
        "referrer.class": values[4],
        "utm.campaign": values[5],
        "path": values[6],
        "landing": True,
        f"clicks.{values[7]}": 1,
        "hour": 12,
    }
    shared = context_features(context, POLICY, now_ms=NOW_MS)
    name, value = variant_feature
    actions: list[tuple[str, dict[str, FeatureValue]]] = [
        (vid, {name: value, "w": 0.5}) for vid in variant_ids
    ]
    lines = adf_example(shared, actions, Label(0, -1.0, 0.5))
    assert all(_VW_SAFE.fullmatch(t) for tokens in shared.values() for t in tokens)
    examples = vw.parse(lines)
    try:
        assert len(examples) == 1 + len(actions)
        for namespace, tokens in shared.items():
            assert examples[0].num_features_in(ord(namespace)) == len(tokens)  # type: ignore[attr-defined]
        for example in examples[1:]:
            # the id, the text feature and "w" (one feature when the text one is named "w")
            assert example.num_features_in(ord("A")) == 1 + len(actions[0][1])  # type: ignore[attr-defined]
        assert examples[1].get_cbandits_cost(0) == -1.0  # type: ignore[attr-defined]
    finally:
        vw.finish(examples)


def test_shared_line_orders_namespaces() -> None:
    assert shared_line({"U": ["x"], "D": ["y"]}) == "shared |D y |U x"


def test_empty_shared_line_is_still_shared(vw: Parser) -> None:
    examples = vw.parse(adf_example({}, [("a", {}), ("b", {})]))
    try:
        assert len(examples) == 3
        assert examples[0].num_features_in(ord("A")) == 0  # type: ignore[attr-defined]
    finally:
        vw.finish(examples)


def test_segments_namespace_is_offered_not_default() -> None:
    context: dict[str, object] = {
        "segments": ("high-value", "Odd Name"),
        "cluster": "c3",
        "score.rfm": 0.65,
    }
    assert "S" not in context_features(context, BanditPolicy())
    policy = BanditPolicy(features=("segments",), interactions=("SA",))
    assert context_features(context, policy) == {
        "S": ["seg=high-value", "seg=odd%20name", "cl=c3", "rfm=0.6+"]
    }
    assert context_features({"segments": ()}, policy) == {}
