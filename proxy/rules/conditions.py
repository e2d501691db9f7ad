"""What a condition means: a pure evaluator over a request context, and the fields it reads.

The context is flat (``"utm.source"``, ``"p90(engaged_s)"``, which the caller supplies). A bare
field holds when it is the boolean ``true``; ``'vip' in segments`` tests membership in a field
whose value is a tuple (the visitor's named segments). Evaluation never raises: a missing field or
a type mismatch makes the comparison false. Conditions are parsed by
:mod:`proxy.rules.condition_parser` into the tree of :mod:`proxy.rules.condition_tree`.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from typing import Any

from proxy.rules import condition_tree as tree

_MISSING = object()


def _resolve(operand: tree.Operand, context: Mapping[str, object]) -> object:
    if isinstance(operand, tree.Literal):
        return operand.value
    key = operand.name if isinstance(operand, tree.Field) else operand.key
    return context.get(key, _MISSING)


def _kind(value: object) -> str | None:
    """Comparable kinds; bool is not a number here (``true > 0`` is a type mismatch)."""
    kind = type(value)
    if kind is bool:
        return "bool"
    if kind is int or kind is float:
        return "number"
    if kind is str:
        return "str"
    return None


_OPERATORS: dict[str, Callable[[Any, Any], Any]] = {
    "==": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


def _compare(op: str, left: object, right: object) -> bool:
    kind = _kind(left)
    if kind is None or kind != _kind(right) or (kind == "bool" and op not in ("==", "!=")):
        return False
    return bool(_OPERATORS[op](left, right))


def evaluate(node: tree.Node, context: Mapping[str, object]) -> bool:
    """Whether ``node`` holds for ``context`` (flat keys: ``"utm.source"``, ``"p90(engaged_s)"``)."""
    if isinstance(node, tree.Compare):
        return _compare(node.op, _resolve(node.left, context), _resolve(node.right, context))
    if isinstance(node, tree.Member):
        value = _resolve(node.subject, context)
        if _kind(value) is None:
            return False
        found = any(_compare("==", value, item) for item in node.values)
        return found != node.negated
    if isinstance(node, tree.Contains):
        held = context.get(node.collection.name)
        if type(held) is not tuple:
            return False
        found = any(_compare("==", item, node.value) for item in held)
        return found != node.negated
    if isinstance(node, tree.Truthy):
        return context.get(node.field.name) is True
    if isinstance(node, tree.Const):
        return node.value
    if isinstance(node, tree.All):
        return all(evaluate(item, context) for item in node.items)
    if isinstance(node, tree.Any_):
        return any(evaluate(item, context) for item in node.items)
    return not evaluate(node.item, context)


def _operands(node: tree.Node) -> list[tree.Operand]:
    if isinstance(node, tree.Compare):
        return [node.left, node.right]
    if isinstance(node, tree.Member):
        return [node.subject]
    if isinstance(node, tree.Truthy):
        return [node.field]
    if isinstance(node, tree.Contains):
        return [node.collection]
    if isinstance(node, tree.All | tree.Any_):
        return [operand for item in node.items for operand in _operands(item)]
    if isinstance(node, tree.Not):
        return _operands(node.item)
    return []


def fields_used(node: tree.Node) -> frozenset[str]:
    """Context fields ``node`` reads (percentile thresholds excluded; see below)."""
    return frozenset(op.name for op in _operands(node) if isinstance(op, tree.Field))


def percentiles_used(node: tree.Node) -> frozenset[tree.Percentile]:
    """Percentile thresholds ``node`` needs the caller to supply (``p.key`` in the context)."""
    return frozenset(op for op in _operands(node) if isinstance(op, tree.Percentile))


def values_compared(node: tree.Node, field: str) -> list[tree.Scalar]:
    """The literals ``node`` compares ``field`` with (``segment == 'x'``, ``segment in [..]``,
    ``'x' in segments``): how the loader finds references to segments that do not exist."""
    if isinstance(node, tree.Compare):
        pairs = ((node.left, node.right), (node.right, node.left))
        return [
            other.value
            for side, other in pairs
            if isinstance(side, tree.Field)
            and side.name == field
            and isinstance(other, tree.Literal)
        ]
    if isinstance(node, tree.Member):
        subject = node.subject
        return (
            list(node.values) if isinstance(subject, tree.Field) and subject.name == field else []
        )
    if isinstance(node, tree.Contains):
        return [node.value] if node.collection.name == field else []
    if isinstance(node, tree.All | tree.Any_):
        return [value for item in node.items for value in values_compared(item, field)]
    if isinstance(node, tree.Not):
        return values_compared(node.item, field)
    return []
