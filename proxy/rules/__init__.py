"""Rules: the site owner's YAML rules and slots, typed, validated and compiled once at load.

``schema`` is the file's shape; ``condition_parser``, ``condition_tree`` and ``conditions`` the
expression language (its syntax, its tree, its meaning); ``load`` the loader that turns
``rules/*.yaml`` into an immutable :class:`RuleSet`. The spec is ``docs/rules-spec.md``.
"""

from proxy.rules.compiled import RuleSet
from proxy.rules.condition_parser import parse_condition
from proxy.rules.conditions import evaluate, fields_used, percentiles_used
from proxy.rules.load import load_rules

__all__ = [
    "RuleSet",
    "evaluate",
    "fields_used",
    "load_rules",
    "parse_condition",
    "percentiles_used",
]
