"""Named segments: loaded from rules files, checked (file:line:column), evaluated per context."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from proxy.errors import ConfigError
from proxy.rules import load_rules
from proxy.rules.conditions import evaluate
from proxy.rules.segments import (
    Frozen,
    add_segments,
    frozen_cluster_field,
    frozen_field,
    frozen_segments,
    known_field,
)
from proxy.tracker.profile_update import ProfileState, profile_fields

SEGMENTS = """
segments:
  - id: high-value
    description: returning buyers who read
    when: "visits_7d > 3 and engaged_s > 1200 and purchases_30d >= 1"
  - id: loyal
    when: "'high-value' in segments or score.rfm > 0.8"
  - id: mobile
    when: "device == 'mobile'"
slots:
  - id: hero
    selector: "#hero"
    control: a
    variants: {a: [], b: [{op: set_text, selector: "h1", value: "Welcome back"}]}
    pin:
      - when: "segment == 'high-value'"
        variant: b
rules:
  - id: loyal-banner
    when: "'loyal' in segments and not 'mobile' in segments"
    then: [{op: hide, selector: "#promo"}]
"""


def write(folder: Path, text: str, name: str = "segments.yaml") -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def test_segments_load_in_dependency_order_and_drive_rules(tmp_path: Path) -> None:
    write(tmp_path, SEGMENTS)
    ruleset = load_rules(tmp_path)
    segments = ruleset.segments
    assert segments.ids == ("high-value", "loyal", "mobile")
    assert segments.get("high-value") is not None
    assert segments.get("high-value").description == "returning buyers who read"  # type: ignore[union-attr]
    assert segments.get("loyal").needs == {"high-value"}  # type: ignore[union-attr]
    context: dict[str, object] = {
        "visits_7d": 4,
        "engaged_s": 1300,
        "purchases_30d": 1,
        "device": "desktop",
    }
    add_segments(segments, context)
    assert context["segments"] == ("high-value", "loyal")
    assert context["segment"] == "high-value"
    [slot] = ruleset.slots
    assert evaluate(slot.pins[0].when, context)
    [rule] = ruleset.rules
    assert rule.when is not None and evaluate(rule.when, context)


def test_a_later_segment_can_be_tested_by_an_earlier_one(tmp_path: Path) -> None:
    write(
        tmp_path,
        """
        segments:
          - {id: any-buyer, when: "'big-buyer' in segments or purchases_30d >= 1"}
          - {id: big-buyer, when: "conversion_value > 500"}
        """,
    )
    segments = load_rules(tmp_path).segments
    context: dict[str, object] = {"conversion_value": 900}
    add_segments(segments, context)
    assert context["segments"] == ("any-buyer", "big-buyer")  # file order, not evaluation order


def test_no_segment_leaves_segment_absent(tmp_path: Path) -> None:
    write(tmp_path, SEGMENTS)
    context: dict[str, object] = {"segment": "stale"}
    add_segments(load_rules(tmp_path).segments, context)
    assert context["segments"] == ()
    assert "segment" not in context


def test_segments_may_live_in_another_file_than_their_use(tmp_path: Path) -> None:
    write(tmp_path, "segments: [{id: vip, when: 'conversions > 3'}]\n", "a.yaml")
    write(
        tmp_path,
        "rules: [{id: r, when: \"segment == 'vip'\", then: [{op: hide, selector: p}]}]\n",
        "b.yaml",
    )
    assert load_rules(tmp_path).segments.ids == ("vip",)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "segments: [{id: a, when: 'visits >'}]\n",
            "segments.yaml:1:35 $.segments[0].when: condition: expected a field name",
        ),
        (
            "segments: [{id: a, when: 'vists > 3'}]\n",
            "segments.yaml:1:27 $.segments[0].when: condition: unknown field 'vists'"
            " (did you mean visits?)",
        ),
        (  # a rule's condition is held to the same standard as a segment's
            "rules:\n  - id: r\n    when: \"devce == 'mobile'\"\n    then: [{op: hide, selector: p}]\n",
            "segments.yaml:3:12 $.rules[0].when: condition: unknown field 'devce'"
            " (did you mean device?)",
        ),
        (  # and a pin's, inside a structured condition
            "slots:\n  - id: s\n    selector: p\n    control: a\n    variants: {a: [], b: []}\n"
            "    pin:\n      - variant: b\n        when: {any: ['hour > 3', \"devce == 'mobile'\"]}\n",
            "segments.yaml:8:35 $.slots[0].pin[0].when.any[1]: condition: unknown field 'devce'"
            " (did you mean device?)",
        ),
        (
            "segments:\n  - {id: a, when: \"'b' in segments\"}\n  - {id: b, when: \"'a' in segments\"}\n",
            "segments.yaml:2:20 $.segments[0].when: segments test each other in a cycle: a -> b -> a",
        ),
        (
            "segments: [{id: a, when: \"'a' in segments\"}]\n",
            "cycle: a -> a",
        ),
        (
            "segments: [{id: a, when: \"segment == 'b'\"}, {id: b, when: 'visits > 1'}]\n",
            "segment conditions test other segments as \"'id' in segments\"",
        ),
        (
            "segments: [{id: a, when: 'visits > 1'}, {id: a, when: 'visits > 2'}]\n",
            "segment 'a' is already declared at",
        ),
        (
            "segments: [{id: a, when: 'visits > 1'}]\n"
            "rules: [{id: r, when: \"segment == 'high'\", then: [{op: hide, selector: p}]}]\n",
            "segments.yaml:2:35 $.rules[0].when: condition: unknown segment 'high' (segments: a)",
        ),
        (
            "slots: [{id: s, selector: p, control: a, variants: {a: [], b: []},"
            " pin: [{when: \"'x' in segments\", variant: b}]}]\n",
            "$.slots[0].pin[0].when: condition: unknown segment 'x' (segments: none declared)",
        ),
        ("segments: [{id: Bad, when: 'visits > 1'}]\n", "$.segments[0].id"),
        (  # the misspelt field inside a structured condition: that item's line and column
            "segments:\n  - id: a\n    when:\n      all:\n        - visits > 1\n"
            "        - engaged_s > 3 and vists_7d > 2\n",
            "segments.yaml:6:29 $.segments[0].when.all[1]: condition: unknown field 'vists_7d'",
        ),
    ],
)
def test_bad_segments_are_refused_with_their_place(tmp_path: Path, text: str, message: str) -> None:
    write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_rules(tmp_path)
    assert message in str(caught.value)


def test_an_unknown_field_with_no_close_name_gets_no_guess(tmp_path: Path) -> None:
    write(tmp_path, "rules: [{id: r, when: 'zzzz > 1', then: [{op: hide, selector: p}]}]\n")
    with pytest.raises(ConfigError) as caught:
        load_rules(tmp_path)
    assert str(caught.value).endswith("$.rules[0].when: condition: unknown field 'zzzz'")


def test_every_profile_field_is_a_known_field() -> None:
    state = ProfileState(
        visits=1, clicks={"hero": 1}, impressions={"hero": 1}, max_scroll={"home": 0.5}
    )
    for name in profile_fields(state):
        assert known_field(name), name
        assert known_field(name.replace(":", ".")), name
    for name in ("interest.blog", "score.rfm", "cookie.theme", "metric.hero.b.ctr", "cluster"):
        assert known_field(name)
    assert not known_field("interest")
    assert not known_field("visit")


def test_segments_are_frozen_at_the_first_exposure() -> None:
    context: dict[str, object] = {"segments": ("loyal",), "cluster": "c3"}
    first = frozen_segments({}, "hero", context)
    assert first == Frozen(
        ("loyal",), "c3", {frozen_field("hero"): "loyal", frozen_cluster_field("hero"): "c3"}
    )
    profile = {frozen_field("hero"): "high-value,loyal", frozen_cluster_field("hero"): "c1"}
    assert frozen_segments(profile, "hero", context) == Frozen(("high-value", "loyal"), "c1", {})
    # in no segment and no cluster at the first exposure: frozen as such, not re-read later
    empty = {frozen_field("hero"): "", frozen_cluster_field("hero"): ""}
    assert frozen_segments(empty, "hero", context) == Frozen((), "", {})
    assert frozen_segments({}, "hero", {}).unset == {
        frozen_field("hero"): "",
        frozen_cluster_field("hero"): "",
    }


def test_a_profile_frozen_before_the_cluster_was_freezes_the_cluster_alone() -> None:
    profile = {frozen_field("hero"): "loyal"}
    found = frozen_segments(profile, "hero", {"segments": (), "cluster": "c2"})
    assert found == Frozen(("loyal",), "c2", {frozen_cluster_field("hero"): "c2"})
