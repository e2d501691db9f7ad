"""What ``vernier validate --live`` says about each rule, from summed outcomes."""

from __future__ import annotations

import textwrap
from pathlib import Path

from proxy.records.rule_outcomes import LiveHealth
from proxy.rules import load_rules
from proxy.rules.live_check import findings, report

RULES = """
rules:
  - {id: fine, then: [{op: hide, selector: p}]}
  - {id: stale, then: [{op: hide, selector: "#gone"}]}
  - {id: broken, then: [{op: hide, selector: p}]}
  - {id: tripped, then: [{op: hide, selector: p}]}
  - {id: unseen, then: [{op: hide, selector: p}]}
"""


def test_findings_name_stale_failing_and_tripped_rules(tmp_path: Path) -> None:
    (tmp_path / "r.yaml").write_text(textwrap.dedent(RULES))
    live = LiveHealth()
    live.totals.update(
        {
            ("fine", "applied"): 50,
            ("fine", "missed"): 10,
            ("stale", "applied"): 1,
            ("stale", "missed"): 99,
            ("broken", "applied"): 40,
            ("broken", "failed"): 2,
            ("tripped", "failed"): 9,
        }
    )
    live.open_until["tripped"] = 2e9
    found = {f.owner: f for f in findings(load_rules(tmp_path), live)}
    assert not found["fine"].problem and found["fine"].line.startswith("ok: 50 applied")
    assert found["stale"].problem and "match almost nowhere" in found["stale"].line
    assert found["broken"].problem and "fails on some pages" in found["broken"].line
    assert found["tripped"].problem and "breaker open" in found["tripped"].line
    assert not found["unseen"].problem and "never in scope" in found["unseen"].line
    text = report(list(found.values()))
    assert "!! stale (" in text and "r.yaml:5)" in text
