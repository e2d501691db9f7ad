"""``vernier validate --live``: how the rules fare on the live site, from what the proxies counted.

Rules whose selectors stopped matching (the site changed under them), rules that fail, and
breakers open now are named; rules the proxies never saw in scope are listed too.
"""

from __future__ import annotations

from dataclasses import dataclass

from proxy.records.rule_outcomes import LiveHealth
from proxy.rules.compiled import RuleSet

MIN_PAGES = 20  # fewer pages in scope than this say nothing about a rule
MISS_RATIO = 0.9


@dataclass(frozen=True, slots=True)
class LiveFinding:
    owner: str
    source: str
    line: str
    problem: bool


def findings(ruleset: RuleSet, live: LiveHealth) -> list[LiveFinding]:
    owners = [(r.id, r.source) for r in ruleset.rules] + [(s.id, s.source) for s in ruleset.slots]
    found: list[LiveFinding] = []
    for owner, source in owners:
        applied = live.totals[owner, "applied"]
        missed = live.totals[owner, "missed"]
        failed = live.totals[owner, "failed"]
        pages = applied + missed + failed
        counts = f"{applied} applied, {missed} missed, {failed} failed"
        if owner in live.open_until:
            line, problem = f"breaker open (keeps failing): {counts}", True
        elif pages == 0:
            line, problem = "never in scope on a live page yet", False
        elif failed:
            # an exception, or the rewrite over its CPU budget (a slow rule, or a busy machine)
            line, problem = (
                f"fails on some pages (an error or over the time budget): {counts}",
                True,
            )
        elif pages >= MIN_PAGES and missed / pages >= MISS_RATIO:
            line, problem = f"selectors match almost nowhere (site changed?): {counts}", True
        else:
            line, problem = f"ok: {counts}", False
        found.append(LiveFinding(owner, source, line, problem))
    return found


def report(found: list[LiveFinding]) -> str:
    return "\n".join(
        f"{'!!' if f.problem else 'ok'} {f.owner} ({f.source}): {f.line}" for f in found
    )
