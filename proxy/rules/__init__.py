"""Rules: the site owner's YAML rules and slots, typed, validated and compiled once at load.

``schema`` is the file's shape, ``conditions`` the expression language, ``load`` the loader that
turns ``rules/*.yaml`` into an immutable :class:`RuleSet`. The spec is ``docs/rules-spec.md``.
"""

from proxy.rules.conditions import evaluate, fields_used, parse_condition, percentiles_used
from proxy.rules.load import RuleSet, load_rules

__all__ = [
    "RuleSet",
    "evaluate",
    "fields_used",
    "load_rules",
    "parse_condition",
    "percentiles_used",
]
