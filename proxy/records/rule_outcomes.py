"""What a rule did on a page, and the outcomes of every proxy summed in the store.

Each worker counts outcomes (:class:`proxy.rules.health.RuleHealth`), the store sums them
(:mod:`proxy.store.rule_health`) and ``vernier validate --live`` reads the sums
(:mod:`proxy.rules.live_check`). The outcome names and the summed record live here so that the
store does not import the rules and the rules do not import the store.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Literal

Outcome = Literal["applied", "missed", "failed"]
OUTCOMES: tuple[Outcome, ...] = ("applied", "missed", "failed")


@dataclass
class LiveHealth:
    """What the store holds: totals per owner and outcome, and breakers open now."""

    totals: Counter[tuple[str, Outcome]] = field(default_factory=Counter)
    open_until: dict[str, float] = field(default_factory=dict)
