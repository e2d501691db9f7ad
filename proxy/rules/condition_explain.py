"""Explaining a condition: each leaf test written back as text, the values it read, its verdict.

``vernier segments explain`` (:mod:`proxy.commands.segments`) shows why a visitor is or is not
in a segment by listing the comparisons of its condition this way. :func:`render` is the
parser's inverse (:mod:`proxy.rules.condition_parser`) with canonical spacing and quoting, so
parsing a rendered condition gives back the same tree.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from proxy.rules import condition_tree as tree
from proxy.rules.conditions import evaluate, fields_used


@dataclass(frozen=True, slots=True)
class LeafTest:
    """One comparison of a condition, with what the context held: for ``explain``."""

    text: str
    values: Mapping[str, object]  # field -> value (absent fields left out)
    holds: bool


def tests_of(node: tree.Node, context: Mapping[str, object]) -> list[LeafTest]:
    """Every leaf test of ``node`` with the fields it read and whether it held."""
    if isinstance(node, tree.All | tree.Any_):
        return [test for item in node.items for test in tests_of(item, context)]
    if isinstance(node, tree.Not) and isinstance(node.item, tree.All | tree.Any_ | tree.Not):
        return tests_of(node.item, context)
    # a leaf, or the negation of one: shown whole (``not 'buyer' in segments``, with its verdict)
    fields = sorted(fields_used(node))
    values = {name: context[name] for name in fields if name in context}
    return [LeafTest(render(node), values, evaluate(node, context))]


def _literal(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value)


def render(node: tree.Node) -> str:
    """``node`` as an expression (canonical spacing and quoting)."""
    if isinstance(node, tree.Compare):
        return f"{_operand(node.left)} {node.op} {_operand(node.right)}"
    if isinstance(node, tree.Member):
        values = ", ".join(_literal(v) for v in node.values)
        return f"{_operand(node.subject)} {'not in' if node.negated else 'in'} [{values}]"
    if isinstance(node, tree.Contains):
        word = "not in" if node.negated else "in"
        return f"{_literal(node.value)} {word} {node.collection.name}"
    if isinstance(node, tree.Truthy):
        return node.field.name
    if isinstance(node, tree.Const):
        return _literal(node.value)
    if isinstance(node, tree.Not):
        return f"not ({render(node.item)})"
    joiner = " and " if isinstance(node, tree.All) else " or "
    return "(" + joiner.join(render(item) for item in node.items) + ")"


def _operand(operand: tree.Field | tree.Percentile | tree.Literal) -> str:
    if isinstance(operand, tree.Field):
        return operand.name
    if isinstance(operand, tree.Percentile):
        return operand.key
    return _literal(operand.value)
