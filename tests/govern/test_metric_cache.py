"""Which slots' metrics are read for conditions, the per-visitor 'current' alias, and the
evidence a bandit slot waits for."""

from __future__ import annotations

import textwrap
from pathlib import Path

from proxy.govern.metric_cache import has_evidence, slots_named, with_current
from proxy.rules import load_rules

RULES = """
rules:
  - id: r
    when: "metric.promo.current.ctr_5m < 0.02 and device == 'mobile'"
    then: [{op: hide, selector: p}]
slots:
  - id: hero
    selector: "#hero"
    control: a
    variants: {a: [], b: [{op: hide, selector: p}]}
    pin: [{when: "metric.hero.a.impressions_5m > 10", variant: b}]
  - id: banner
    selector: "#banner"
    control: a
    policy: bandit
    variants: {a: [], b: [{op: hide, selector: p}]}
    governance: {min_impressions: 50}
  - id: quiet
    selector: "#q"
    control: a
    variants: {a: []}
"""


def test_slots_named_by_conditions_and_waiting_for_evidence(tmp_path: Path) -> None:
    (tmp_path / "r.yaml").write_text(textwrap.dedent(RULES))
    assert slots_named(load_rules(tmp_path)) == {"promo", "hero", "banner"}


def test_current_is_the_variant_the_visitor_saw() -> None:
    fields = {"metric.hero.b.ctr_5m": 0.01, "metric.hero.a.ctr_5m": 0.05, "metric.x.b.ctr_5m": 1.0}
    assert with_current(fields, [("hero", "b")]) == {"metric.hero.current.ctr_5m": 0.01}
    assert with_current(fields, []) == {}


def test_evidence_needs_every_variant() -> None:
    fields = {"metric.s.a.impressions_60m": 60.0, "metric.s.b.impressions_60m": 49.5}
    assert not has_evidence(fields, "s", ["a", "b"], 50)
    assert has_evidence(fields, "s", ["a", "b"], 40)
    assert not has_evidence({}, "s", ["a"], 1)
