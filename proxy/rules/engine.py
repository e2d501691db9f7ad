"""Which rules apply to a request, and the rewrite operations they ask for.

Built once per loaded :class:`RuleSet`: operations are converted to the rewriter's types at load,
``where`` blocks are matched without building a context (most pages match nothing and take the
fast path), and ``when`` conditions are evaluated only for the rules that survive.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import msgspec

from proxy.html.operations import OPERATIONS, Move, Op
from proxy.rules import schema
from proxy.rules.conditions import evaluate
from proxy.rules.load import CompiledRule, CompiledWhere, RuleSet


def to_rewrite_op(op: schema.Operation) -> Op:
    """The rewriter's form of a loaded operation (the field names match, ``move`` aside)."""
    fields = msgspec.structs.asdict(op)
    if isinstance(op, schema.Move):
        where = next(k for k in ("before", "after", "into") if fields[k] is not None)
        return Move(selector=op.selector, where=where, target=fields[where])  # type: ignore[arg-type]
    tag = type(op).__struct_config__.tag
    return OPERATIONS[str(tag)](**fields)


def where_matches(
    where: CompiledWhere | None, *, method: str, host: str, path: str, query: Mapping[str, str]
) -> bool:
    if where is None:
        return True
    if where.methods and method not in where.methods:
        return False
    if where.hosts and host.rsplit(":", 1)[0].lower() not in where.hosts:
        return False
    if where.paths and not any(p.fullmatch(path) for p in where.paths):
        return False
    if where.path_regex is not None and where.path_regex.search(path) is None:
        return False
    return all(query.get(key) == value for key, value in where.query.items())


@dataclass(frozen=True, slots=True)
class RuleEngine:
    ruleset: RuleSet
    ops: Mapping[str, tuple[Op, ...]]  # rule id -> its operations, in order

    @classmethod
    def build(cls, ruleset: RuleSet) -> RuleEngine:
        return cls(
            ruleset=ruleset,
            ops={r.id: tuple(to_rewrite_op(op) for op in r.then) for r in ruleset.rules},
        )

    @property
    def empty(self) -> bool:
        return not self.ruleset.rules

    def candidates(
        self, *, method: str, host: str, path: str, query: Mapping[str, str]
    ) -> list[CompiledRule]:
        """Rules whose ``where`` matches, in the order their operations apply: lowest priority
        first, so where two rules change the same element the higher priority is applied last
        and wins (file order breaks ties)."""
        matching = [
            r
            for r in self.ruleset.rules
            if where_matches(r.where, method=method, host=host, path=path, query=query)
        ]
        return sorted(matching, key=lambda r: r.priority)

    @staticmethod
    def applicable(
        rules: Iterable[CompiledRule], context: Mapping[str, object]
    ) -> list[CompiledRule]:
        return [r for r in rules if r.when is None or evaluate(r.when, context)]

    def operations(self, rules: Sequence[CompiledRule]) -> list[Op]:
        return [op for rule in rules for op in self.ops[rule.id]]
