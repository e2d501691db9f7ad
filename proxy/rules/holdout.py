"""``holdout:`` on a rule: which visitors are held out of its edits, so its effect can be measured.

A rule with ``holdout: 10`` is, for the results, a two-arm split: ``holdout`` (the control: the
page as the origin sent it) with 10 % of visitors and ``applied`` with the rest. The share is
turned into the arms' probabilities once at load (:func:`holdout_split`); a visitor's arm is
:func:`holdout_arm`, the split slots' own assignment (:func:`proxy.rules.split.assign`) over
(visitor, rule id, salt): sticky per visitor on every page, session and proxy, with nothing
stored, and a new ``salt`` re-draws everyone.
"""

from __future__ import annotations

from proxy.rules.compiled import CompiledRule
from proxy.rules.split import Split, assign, split_probabilities

APPLIED = "applied"
HOLDOUT = "holdout"
ARMS = (HOLDOUT, APPLIED)  # the control first, as a slot's variants read in a report


def holdout_split(percent: float) -> Split:
    """The arms' probabilities for a holdout of ``percent`` (0 < percent < 100, checked by the
    schema): ``(("holdout", percent / 100), ("applied", 1 - percent / 100))``."""
    return split_probabilities({HOLDOUT: percent, APPLIED: 100.0 - percent}, ARMS)


def holdout_arm(rule: CompiledRule, unit: str) -> tuple[str, float]:
    """The arm ``unit`` (a visitor id, else the session id) is in for ``rule``, and its
    probability."""
    return assign(rule.holdout, unit, rule.id, rule.salt)
