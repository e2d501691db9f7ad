"""Loading rules files: the bundled examples, and bad files named by file:line $.path."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from proxy.errors import ConfigError
from proxy.rules import load_rules
from proxy.rules.condition_tree import Percentile
from proxy.rules.conditions import evaluate

EXAMPLES = Path(__file__).resolve().parents[2] / "rules" / "examples"


def write(folder: Path, text: str, name: str = "home.yaml") -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


@pytest.mark.parametrize("example", sorted(EXAMPLES.glob("*.yaml")), ids=lambda p: p.name)
def test_every_example_loads(example: Path) -> None:
    rule_set = load_rules(example)
    assert rule_set.rules or rule_set.slots
    assert rule_set.files == (str(example),)


def test_examples_folder_loads_as_one_rule_set() -> None:
    rule_set = load_rules(EXAMPLES)
    assert len(rule_set.files) == 5
    assert rule_set.segments.ids == ("buyer", "window-shopper")
    ids = [rule.id for rule in rule_set.rules] + [slot.id for slot in rule_set.slots]
    assert len(ids) == len(set(ids))
    loyal = next(rule for rule in rule_set.rules if rule.id == "loyalty-offer")
    assert loyal.when is not None
    context = {"visits_7d": 3, "engaged_s": 1300, "purchases_30d": 1}
    assert evaluate(loyal.when, context)
    assert not evaluate(loyal.when, {**context, "purchases_30d": 0})
    hero = next(slot for slot in rule_set.slots if slot.id == "hero")
    assert hero.control == "a"
    assert evaluate(hero.pins[0].when, {"device": "mobile", "hour": 18})


def test_rule_set_records_sources_percentiles_and_version(tmp_path: Path) -> None:
    write(
        tmp_path,
        """
        rules:
          - id: top
            where: {paths: ["/products/*"], path_regex: "^/p", hosts: [Shop.Example]}
            when: "engaged_s >= p90(engaged_s)"
            then: [{op: hide, selector: "#promo"}]
        """,
    )
    first = load_rules(tmp_path)
    rule = first.rules[0]
    assert rule.source.endswith("home.yaml:2")
    assert first.percentiles == {Percentile(90, "engaged_s")}
    assert rule.where is not None and rule.where.hosts == {"shop.example"}
    assert rule.where.paths[0].fullmatch("/products/cup")
    assert load_rules(tmp_path).version == first.version
    write(tmp_path, "slots: []\n", name="zz.yaml")
    assert load_rules(tmp_path).version != first.version


def test_folder_is_sorted_and_ids_unique_across_files(tmp_path: Path) -> None:
    rule = "rules:\n  - id: same\n    then: [{op: remove, selector: p}]\n"
    write(tmp_path, rule, name="b.yaml")
    write(tmp_path, "# nothing yet\n", name="a.yaml")
    (tmp_path / "c.yaml").write_text("\n" + rule, encoding="utf-8")
    (tmp_path / "notes.txt").write_text("ignored", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_rules(tmp_path)
    assert str(caught.value) == (
        f"{tmp_path}/c.yaml:3:5 $.rules[0].id: id 'same' is already used at {tmp_path}/b.yaml:2"
    )


def test_empty_folder_and_missing_path(tmp_path: Path) -> None:
    assert load_rules(tmp_path).rules == ()
    with pytest.raises(ConfigError, match="no such rules file or folder"):
        load_rules(tmp_path / "nope")


SLOT = """
slots:
  - id: hero
    selector: "#hero"
    control: a
    variants:
      a: []
      b:
        - {op: set_text, selector: ".hero-title", value: "Brew"}
        - {op: hide, selector: ".hero-subtitle"}
        - %s
"""
RULE = """
rules:
  - id: r
    when: %s
    then:
      - %s
"""
PLAIN_SLOT = "slots:\n  - id: s\n    selector: p\n    control: a\n    variants: {a: [], b: []}\n"
BAD = [
    (
        SLOT % "{op: set_txt, selector: x}",
        10,
        "$.slots[0].variants.b[2].op",
        "unknown operation 'set_txt' (known: add_class, append,",
    ),
    (
        SLOT % "{op: hide, selector: x, value: y}",
        10,
        "$.slots[0].variants.b[2].value",
        "unknown key 'value'",
    ),
    (SLOT % "{op: hide}", 10, "$.slots[0].variants.b[2]", "missing required key 'selector'"),
    (
        SLOT % "{op: hide, selector: 'a['}",
        10,
        "$.slots[0].variants.b[2].selector",
        "invalid CSS selector 'a['",
    ),
    (
        SLOT % "{op: set_attr, selector: a, name: onclick, value: x}",
        10,
        "$.slots[0].variants.b[2].name",
        "event handler attributes ('onclick') are not allowed",
    ),
    (
        SLOT % '{op: set_attr, selector: a, name: HREF, value: " Java\\tScript:alert(1)"}',
        10,
        "$.slots[0].variants.b[2].value",
        "script URLs",
    ),
    (
        SLOT % "{op: swap_image, selector: img, src: 'javascript:x'}",
        10,
        "$.slots[0].variants.b[2].src",
        "script URLs",
    ),
    (
        SLOT % '{op: set_attr, selector: a, name: title, value: "a\\r\\nb"}',
        10,
        "$.slots[0].variants.b[2].value",
        "CR, LF or NUL",
    ),
    (
        SLOT % '{op: set_text, selector: p, value: "A\\0B"}',
        10,
        "$.slots[0].variants.b[2].value",
        "values must not contain NUL",
    ),
    (
        SLOT % "{op: set_attr, selector: a, name: 'x y', value: z}",
        10,
        "$.slots[0].variants.b[2].name",
        "invalid attribute name 'x y'",
    ),
    (
        SLOT % "{op: move, selector: a, before: b, into: c}",
        10,
        "$.slots[0].variants.b[2]",
        "exactly one of 'before', 'after', 'into'",
    ),
    (
        SLOT % "{op: reorder, selector: ul, order: [li, '>>']}",
        10,
        "$.slots[0].variants.b[2].order[1]",
        "invalid CSS selector",
    ),
    (
        (SLOT.replace("control: a", "control: c")) % "{op: remove, selector: x}",
        4,
        "$.slots[0].control",
        "control 'c' is not one of the variants (a, b)",
    ),
    (
        SLOT.replace("      a: []", "      A: []") % "{op: remove, selector: x}",
        6,
        "$.slots[0].variants.A",
        "key 'A' does not match the pattern",
    ),
    (
        SLOT % "{op: remove, selector: x}\n    pin: [{when: 'hour > 1', variant: z}]",
        11,
        "$.slots[0].pin[0].variant",
        "variant 'z' is not one of the variants",
    ),
    (
        SLOT % "{op: remove, selector: x}\n    pin: [{when: 'hour >', variant: b}]",
        11,
        "$.slots[0].pin[0].when",
        "condition: expected a field name",
    ),
    (
        SLOT % "{op: remove, selector: x}\n    triggers: [{id: t, variant: z, after_s: 5}]",
        11,
        "$.slots[0].triggers[0].variant",
        "variant 'z' is not one of the variants",
    ),
    (
        SLOT % "{op: remove, selector: x}\n    triggers: [{id: t, variant: a, after_s: 5}]",
        11,
        "$.slots[0].triggers[0].variant",
        "'a' is the control",
    ),
    (
        SLOT % "{op: remove, selector: x}\n    triggers: [{id: t, variant: b, after_s: 0}]",
        11,
        "$.slots[0].triggers[0].after_s",
        "must be > 0",
    ),
    (
        SLOT % "{op: remove, selector: x}\n    triggers: [{id: t, variant: b, after_s: 1, "
        "hover: 'a['}]",
        11,
        "$.slots[0].triggers[0].hover",
        "invalid CSS selector",
    ),
    (
        SLOT % "{op: remove, selector: x}\n    triggers:\n      - {id: t, variant: b, after_s: 1}"
        "\n      - {id: t, variant: b, after_s: 2}",
        13,
        "$.slots[0].triggers[1].id",
        "trigger id 't' is used twice",
    ),
    (RULE % ("'a == '", "{op: remove, selector: x}"), 3, "$.rules[0].when", "condition: expected"),
    (
        RULE % ("{all: [a, {not: 'b <'}]}", "{op: remove, selector: x}"),
        3,
        "$.rules[0].when.all[1].not",
        "condition: expected",
    ),
    (
        RULE % ("{all: [a], any: [b]}", "{op: remove, selector: x}"),
        3,
        "$.rules[0].when",
        "exactly one of 'all', 'any' or 'not'",
    ),
    (
        RULE % ("5", "{op: remove, selector: x}"),
        3,
        "$.rules[0].when",
        "expected a string, an object or null, got an integer",
    ),
    (
        (RULE % ("a", "{op: remove, selector: x}")).replace("id: r", "id: Bad_Id"),
        2,
        "$.rules[0].id",
        "does not match the pattern '^[a-z0-9-]{1,64}$'",
    ),
    (
        (RULE % ("a", "{op: remove, selector: x}")).replace(
            "    when", "    colour: red\n    when"
        ),
        3,
        "$.rules[0].colour",
        "unknown key 'colour'",
    ),
    ("rules:\n  - id: r\n    then: []\n", 3, "$.rules[0].then", "must not be empty"),
    (
        "rules:\n  - id: r\n    where: {path_regex: '^/(?!admin)'}\n    then: [{op: remove, selector: x}]\n",
        3,
        "$.rules[0].where.path_regex",
        "invalid regular expression: invalid perl operator: (?! (path_regex is RE2 syntax",
    ),
    (
        "rules:\n  - id: r\n    where: {path_regex: '(a'}\n    then: [{op: remove, selector: x}]\n",
        3,
        "$.rules[0].where.path_regex",
        "invalid regular expression: missing )",
    ),
    (
        "rules:\n  - id: r\n    where: {paths: [products]}\n    then: [{op: remove, selector: x}]\n",
        3,
        "$.rules[0].where.paths[0]",
        "path globs start with '/'",
    ),
    (
        "rules:\n  - id: r\n    where: {paths: []}\n    then: [{op: remove, selector: x}]\n",
        3,
        "$.rules[0].where.paths",
        "must not be empty (an empty list would scope nothing: leave the key out)",
    ),
    (
        "rules:\n  - id: r\n    where: {hosts: [a.example, 'https://b.example']}\n"
        "    then: [{op: remove, selector: x}]\n",
        3,
        "$.rules[0].where.hosts[1]",
        "without scheme, port or path ('shop.example'), not 'https://b.example'",
    ),
    (
        "rules:\n  - id: r\n    where: {hosts: ['bücher.example']}\n"
        "    then: [{op: remove, selector: x}]\n",
        3,
        "$.rules[0].where.hosts[0]",
        "as the Host header sends it: 'xn--bcher-kva.example', not 'bücher.example'",
    ),
    (
        "rules:\n  - id: r\n    where: {hosts: ['b.example:8080']}\n"
        "    then: [{op: remove, selector: x}]\n",
        3,
        "$.rules[0].where.hosts[0]",
        "not 'b.example:8080'",
    ),
    (
        "rules:\n  - id: r\n    when: \"device == 'Mobile'\"\n    then: [{op: remove, selector: x}]\n",
        3,
        "$.rules[0].when",
        "condition: device is one of mobile, tablet, desktop, bot, never 'Mobile'",
    ),
    (
        "slots:\n  - id: s\n    selector: x\n    control: a\n    variants: {a: [], b: []}\n"
        "    pin: [{when: \"country in ['US', 'gb']\", variant: b}]\n",
        6,
        "$.slots[0].pin[0].when",
        "country is an upper-case ISO 3166 code such as 'US', never 'gb'",
    ),
    (
        "rules:\n  - id: r\n    where: {methods: [get]}\n    then: [{op: remove, selector: x}]\n",
        3,
        "$.rules[0].where.methods[0]",
        "'get' is not one of the allowed values (DELETE, GET, HEAD, OPTIONS, PATCH, POST, PUT)",
    ),
    (
        PLAIN_SLOT + "    policy: bandits\n",
        6,
        "$.slots[0].policy",
        "'bandits' is not one of the allowed values (bandit, rules, split)",
    ),
    (
        PLAIN_SLOT + "    policy: bandit\n    bandit: {explorer: {type: greedy}}\n",
        7,
        "$.slots[0].bandit.explorer.type",
        "'greedy' is not one of the allowed values (epsilon, squarecb, softmax, bag, cover)",
    ),
    (
        PLAIN_SLOT + "    policy: bandit\n    bandit: {interactions: [DA, DT]}\n",
        7,
        "$.slots[0].bandit.interactions[1]",
        "interaction 'DT' must include the action namespace 'A'",
    ),
    (
        PLAIN_SLOT + "    policy: bandit\n    bandit: {features: [hour, device, hour]}\n",
        7,
        "$.slots[0].bandit.features[2]",
        "the group 'hour' is listed twice",
    ),
    ("- just a list\n", 1, "$", "a rules file is a mapping with 'rules' and/or 'slots'"),
    ("rules: []\nrules: []\n", 2, "$.rules", "duplicate key 'rules'"),
    ("rules: &x []\n", 1, "$", "YAML anchors (&x) are not allowed"),
]


@pytest.mark.parametrize(("text", "line", "path", "message"), BAD)
def test_bad_files_name_file_line_and_path(
    tmp_path: Path, text: str, line: int, path: str, message: str
) -> None:
    file = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_rules(file)
    err = caught.value
    assert (err.file, err.line, err.path) == (str(file), line, path), str(err)
    assert message in err.message
    assert err.column is not None and err.column >= 1
    assert str(err).startswith(f"{file}:{line}:{err.column} {path}: ")


@pytest.mark.parametrize(
    ("when", "line", "column", "tail"),
    [
        # "    when: " is 10 characters: a plain expression starts at column 11, a quoted one at 12
        ("hour >= x y", 3, 21, "found 'y'"),
        ("'hour >='", 3, 19, "found the end of the expression"),
        ('"a == \'x"', 3, 17, "unterminated string"),
        # structured: the item's own line and column ("      - " is 8 characters)
        ("\n      all:\n        - a\n        - 'b @ c'", 6, 14, "unexpected character '@'"),
        # folded over lines: the key's place, and the column in the expression said in the message
        (">-\n      hour >=\n      3 3", 3, 5, "found '3' (column 11 of the expression)"),
        # an escape makes the written text differ from the expression: the key's place too
        ('"a == \\"x\\" @"', 3, 5, "(column 10 of the expression)"),
    ],
)
def test_a_condition_error_points_inside_the_expression(
    tmp_path: Path, when: str, line: int, column: int, tail: str
) -> None:
    file = write(tmp_path, RULE % (when, "{op: remove, selector: x}"))
    with pytest.raises(ConfigError) as caught:
        load_rules(file)
    err = caught.value
    assert (err.line, err.column) == (line, column), str(err)
    assert err.message.startswith("condition: ") and err.message.endswith(tail), err.message


def test_the_spec_example_error(tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    rules.mkdir()
    text = "# home page\n\n" + SLOT % "{op: set_txt, selector: '#x', value: y}"
    (rules / "home.yaml").write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_rules(rules)
    assert str(caught.value).startswith(
        f"{rules}/home.yaml:13:12 $.slots[0].variants.b[2].op: unknown operation 'set_txt'"
    )


def test_oversized_file_is_refused(tmp_path: Path) -> None:
    file = tmp_path / "big.yaml"
    file.write_bytes(b"#" * (1024 * 1024 + 1))
    with pytest.raises(ConfigError, match="the limit is 1048576"):
        load_rules(file)


def test_rank_orders_by_priority_then_specificity_then_file_order(tmp_path: Path) -> None:
    write(
        tmp_path,
        """
        rules:
          - id: late-but-general
            then: [{op: set_text, selector: "h1", value: "x"}]
          - id: specific
            then: [{op: set_text, selector: "#main h1.title", value: "y"}]
          - id: important
            priority: 5
            then: [{op: set_text, selector: "h1", value: "z"}]
        slots:
          - id: hero
            selector: "#hero"
            control: a
            variants: {a: [], b: [{op: hide, selector: ".x"}]}
        """,
    )
    loaded = load_rules(tmp_path)
    ranks = {r.id: r.rank for r in loaded.rules} | {s.id: s.rank for s in loaded.slots}
    assert ranks["late-but-general"] < ranks["specific"] < ranks["important"]
    assert ranks["specific"][1] == (1, 1, 1)
    assert ranks["hero"] == (0, (1, 0, 0), 3)
