"""Matching rules and slots to a request line, and the order their operations apply in."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from proxy.html.ops.registry import AddClass, SetText
from proxy.rules import load_rules
from proxy.rules.engine import RuleEngine, where_matches

RULES = """
rules:
  - id: everywhere
    then: [{op: add_class, selector: "body", value: "v"}]
  - id: products
    priority: 3
    where: {paths: ["/products/*"], methods: [GET]}
    when: "device == 'mobile'"
    then: [{op: set_text, selector: "h1", value: "Phone"}]
  - id: other-host
    where: {hosts: [elsewhere.example]}
    then: [{op: set_text, selector: "h1", value: "no"}]
slots:
  - id: hero
    selector: "#hero"
    where: {paths: ["/"], query: {utm_source: mail}}
    control: a
    variants:
      a: []
      b: [{op: set_text, selector: "#hero h1", value: "B"}]
"""


def engine(tmp_path: Path, text: str = RULES) -> RuleEngine:
    (tmp_path / "r.yaml").write_text(textwrap.dedent(text))
    return RuleEngine.build(load_rules(tmp_path))


def ids(items: object) -> list[str]:
    return [item.id for item in items]  # type: ignore[attr-defined]


def test_where_filters_by_path_method_host_and_query(tmp_path: Path) -> None:
    rules = engine(tmp_path)
    match = rules.match(method="GET", host="shop.example:443", path="/products/x", query={})
    assert ids(match.rules) == ["everywhere", "products"] and not match.slots
    assert match.needs_context  # "products" has a condition
    post = rules.match(method="POST", host="shop.example", path="/products/x", query={})
    assert ids(post.rules) == ["everywhere"] and not post.needs_context
    # a HEAD is answered as the GET would be: "methods: [GET]" covers it
    head = rules.match(method="HEAD", host="shop.example", path="/products/x", query={})
    assert ids(head.rules) == ["everywhere", "products"]
    home = rules.match(
        method="GET", host="Elsewhere.Example", path="/", query={"utm_source": "mail"}
    )
    assert ids(home.rules) == ["everywhere", "other-host"] and ids(home.slots) == ["hero"]
    assert home.needs_context  # a slot always gets a context (its pins, later the bandit)
    for host in ("elsewhere.example.", "Elsewhere.Example.:8080"):  # a trailing dot, a port
        assert "other-host" in ids(rules.match(method="GET", host=host, path="/x", query={}).rules)


def test_an_ipv6_host_matches_with_and_without_its_port(tmp_path: Path) -> None:
    rules = engine(tmp_path, RULES.replace("[elsewhere.example]", "['[::1]']"))
    for host in ("[::1]", "[::1]:8080"):
        assert "other-host" in ids(rules.match(method="GET", host=host, path="/", query={}).rules)


def test_a_rule_that_writes_context_values_needs_the_context(tmp_path: Path) -> None:
    rules = engine(
        tmp_path,
        """
        rules:
          - id: greeting
            then: [{op: set_attr, selector: "a", name: title, value: "on {{ device }}"}]
          - id: plain
            where: {paths: ["/plain"]}
            then: [{op: set_text, selector: "h1", value: "{ not a placeholder }"}]
        """,
    )
    greeting = rules.match(method="GET", host="h", path="/", query={})
    assert greeting.rules[0].fills and greeting.needs_context
    plain = rules.match(method="GET", host="h", path="/plain", query={})
    assert not plain.rules[1].fills and ids(plain.rules) == ["greeting", "plain"]
    assert rules.match(method="GET", host="h", path="/plain", query={}).needs_context


def test_a_request_line_asked_again_gets_the_same_answer(tmp_path: Path) -> None:
    rules = engine(tmp_path)
    lines = [
        ("GET", "shop.example", "/products/x", {}),
        ("GET", "shop.example", "/", {"utm_source": "mail"}),
        ("GET", "shop.example", "/", {"utm_source": "web"}),
        ("POST", "shop.example", "/products/x", {}),
    ]
    first = [rules.match(method=m, host=h, path=p, query=q) for m, h, p, q in lines]
    for _ in range(300):  # past what is kept: it is emptied, and the answers stay right
        rules.match(method="GET", host="shop.example", path=f"/{_}", query={})
    again = [rules.match(method=m, host=h, path=p, query=q) for m, h, p, q in lines]
    assert again == first
    assert [ids(m.slots) for m in again] == [[], ["hero"], [], []]


def test_no_rules_no_match(tmp_path: Path) -> None:
    rules = engine(tmp_path, "rules: []\n")
    assert rules.empty
    assert not rules.match(method="GET", host="a", path="/", query={})


def test_conditions_select_applicable_rules(tmp_path: Path) -> None:
    rules = engine(tmp_path)
    match = rules.match(method="GET", host="a", path="/products/x", query={})
    assert ids(rules.applicable(match.rules, {"device": "mobile"})) == ["everywhere", "products"]
    assert ids(rules.applicable(match.rules, {"device": "desktop"})) == ["everywhere"]
    assert ids(rules.applicable(match.rules, {})) == ["everywhere"]  # unknown compares false


def test_plan_orders_by_rank_and_names_owners(tmp_path: Path) -> None:
    rules = engine(tmp_path)
    by_id = {r.id: r for r in rules.ruleset.rules}
    hero = rules.ruleset.slots[0]
    plan = rules.plan([by_id["products"], by_id["everywhere"]], [(hero, "b")])
    assert plan.owners == ("everywhere", "hero", "products")  # priority 3 applies last
    assert plan.ops == (
        AddClass("body", "v"),
        SetText("#hero h1", "B"),
        SetText("h1", "Phone"),
    )
    assert rules.plan([], [(hero, "a")]).ops == ()  # the control changes nothing


GLOBS = ["/", "/products/*", "/products/**", "/blog/*/x", "/*/deep", "/**", "/a", "/a/b"]


@given(
    st.lists(st.lists(st.sampled_from(GLOBS), max_size=3), min_size=1, max_size=12),
    st.sampled_from(
        ["/", "/a", "/a/b", "/products/x", "/products/x/y", "/blog/1/x", "/q/deep", ""]
    ),
)
def test_the_path_index_finds_exactly_what_a_full_scan_finds(
    tmp_path_factory: pytest.TempPathFactory, scopes: list[list[str]], path: str
) -> None:
    lines = ["rules:"]
    for i, globs in enumerate(scopes):
        where = f"where: {{paths: {globs}}}" if globs else ""
        lines.append(
            f"  - {{id: r{i}, {where + ', ' if where else ''}then: [{{op: hide, selector: p}}]}}"
        )
    folder = tmp_path_factory.mktemp("index")
    (folder / "r.yaml").write_text("\n".join(lines) + "\n")
    rules = RuleEngine.build(load_rules(folder))
    found = rules.match(method="GET", host="h", path=path, query={}).rules
    scanned = tuple(
        r
        for r in rules.ruleset.rules
        if where_matches(r.where, method="GET", host="h", path=path, query={})
    )
    assert found == scanned
