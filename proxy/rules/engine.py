"""Which rules and slots apply to a request, and the rewrite operations they ask for.

Built once per loaded :class:`RuleSet`: the loaded operations are what the rewriter runs (one
definition each, :mod:`proxy.html.ops`), ``where`` blocks are matched without building a context
(most pages match nothing and take the fast path), and ``when`` conditions are evaluated only for
the rules that survive.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Generic, Protocol, TypeVar

from proxy.html.ops.base import Op
from proxy.rules.compiled import CompiledRule, CompiledSlot, CompiledWhere, Rank, RuleSet
from proxy.rules.conditions import evaluate
from proxy.rules.patterns import host_name


def where_matches(
    where: CompiledWhere | None, *, method: str, host: str, path: str, query: Mapping[str, str]
) -> bool:
    if where is None:
        return True
    if where.methods and method not in where.methods:
        return False
    if where.hosts and host_name(host) not in where.hosts:
        return False
    if where.paths and not any(p.fullmatch(path) for p in where.paths):
        return False
    if where.path_regex is not None and where.path_regex.search(path) is None:
        return False
    return all(query.get(key) == value for key, value in where.query.items())


@dataclass(frozen=True, slots=True)
class Matched:
    """The rules and slots whose ``where`` matches a request (``when`` not yet evaluated)."""

    rules: tuple[CompiledRule, ...] = ()
    slots: tuple[CompiledSlot, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.rules or self.slots)

    @property
    def needs_context(self) -> bool:
        # a holdout rule needs the context too: bots are not held out, and its record keeps it;
        # and a rule whose values name context fields (``{{ device }}``) fills them from it
        return bool(self.slots) or any(
            r.when is not None or r.holdout or r.fills for r in self.rules
        )


@dataclass(frozen=True, slots=True)
class Plan:
    """Operations in the order they apply, with the rule or slot each comes from."""

    ops: tuple[Op, ...]
    owners: tuple[str, ...]  # per op: the rule id, or the slot id


NO_MATCH = Matched()


class HasScope(Protocol):
    @property
    def where(self) -> CompiledWhere | None: ...
    @property
    def rank(self) -> Rank: ...


Scoped = TypeVar("Scoped", bound=HasScope)


@dataclass(frozen=True, slots=True)
class PathIndex(Generic[Scoped]):
    """Rules (or slots) by the first path segment their ``paths`` globs name literally, so a page
    is checked against the few rules that could match it rather than all of them. Items without
    ``paths``, or with a glob whose first segment has a wildcard, are checked for every page."""

    by_segment: Mapping[str, tuple[Scoped, ...]]
    everywhere: tuple[Scoped, ...]

    @classmethod
    def build(cls, items: Sequence[Scoped]) -> PathIndex[Scoped]:
        by_segment: dict[str, list[Scoped]] = {}
        everywhere: list[Scoped] = []
        for item in items:
            segments = _first_segments(item.where.globs if item.where else ())
            if segments is None:
                everywhere.append(item)
            for segment in segments or ():
                by_segment.setdefault(segment, []).append(item)
        return cls({k: tuple(v) for k, v in by_segment.items()}, tuple(everywhere))

    def candidates(self, path: str) -> Iterable[Scoped]:
        listed: tuple[Scoped, ...] = ()
        if path.startswith("/"):
            listed = self.by_segment.get(path[1:].split("/", 1)[0], ())
        if not listed or not self.everywhere:
            return listed or self.everywhere
        return sorted((*listed, *self.everywhere), key=lambda item: item.rank[2])


def _first_segments(globs: Sequence[str]) -> set[str] | None:
    """The literal first segments of ``globs``; None if any could match any first segment."""
    if not globs:
        return None
    segments = {glob[1:].split("/", 1)[0] for glob in globs}
    return None if any("*" in segment for segment in segments) else segments


_MATCHED_KEEP = 256  # request lines: at most ~2 MiB of keys per worker (8 KiB lines)


@dataclass(frozen=True, slots=True)
class RuleEngine:
    ruleset: RuleSet
    rule_ops: Mapping[str, tuple[Op, ...]]  # rule id -> its operations, in order
    variant_ops: Mapping[tuple[str, str], tuple[Op, ...]]  # (slot id, variant id) -> operations
    rule_index: PathIndex[CompiledRule]
    slot_index: PathIndex[CompiledSlot]
    # match()'s recent answers: conditional and match ask it for every page, mostly for a few
    # request lines; bounded, as the request line is the visitor's to choose
    _matched: dict[tuple[object, ...], Matched] = field(
        default_factory=dict, compare=False, repr=False
    )

    @classmethod
    def build(cls, ruleset: RuleSet) -> RuleEngine:
        return cls(
            ruleset=ruleset,
            rule_ops={r.id: r.then for r in ruleset.rules},
            variant_ops={
                (slot.id, variant): ops
                for slot in ruleset.slots
                for variant, ops in slot.variants.items()
            },
            rule_index=PathIndex.build(ruleset.rules),
            slot_index=PathIndex.build(ruleset.slots),
        )

    @property
    def empty(self) -> bool:
        return not (self.ruleset.rules or self.ruleset.slots)

    def match(self, *, method: str, host: str, path: str, query: Mapping[str, str]) -> Matched:
        """The rules and slots in scope for this request line."""
        key = (method, host, path, *query.items())
        found = self._matched.get(key)
        if found is None:
            found = self._match(method=method, host=host, path=path, query=query)
            if len(self._matched) >= _MATCHED_KEEP:
                self._matched.clear()
            self._matched[key] = found
        return found

    def _match(self, *, method: str, host: str, path: str, query: Mapping[str, str]) -> Matched:
        rules = tuple(
            r
            for r in self.rule_index.candidates(path)
            if where_matches(r.where, method=method, host=host, path=path, query=query)
        )
        slots = tuple(
            s
            for s in self.slot_index.candidates(path)
            if where_matches(s.where, method=method, host=host, path=path, query=query)
        )
        return Matched(rules, slots) if rules or slots else NO_MATCH

    @staticmethod
    def applicable(
        rules: Iterable[CompiledRule], context: Mapping[str, object]
    ) -> tuple[CompiledRule, ...]:
        return tuple(r for r in rules if r.when is None or evaluate(r.when, context))

    def plan(
        self, rules: Sequence[CompiledRule], variants: Sequence[tuple[CompiledSlot, str]]
    ) -> Plan:
        """The operations of ``rules`` and of each slot's chosen variant, lowest rank first, so
        that where two of them change the same element the higher-ranked one is applied last and
        wins (see :data:`proxy.rules.compiled.Rank`)."""
        parts: list[tuple[Rank, str, tuple[Op, ...]]] = [
            (rule.rank, rule.id, self.rule_ops[rule.id]) for rule in rules
        ]
        parts += [
            (slot.rank, slot.id, self.variant_ops[slot.id, variant]) for slot, variant in variants
        ]
        parts.sort(key=lambda part: part[0])
        return Plan(
            ops=tuple(op for _, _, ops in parts for op in ops),
            owners=tuple(owner for _, owner, ops in parts for _ in ops),
        )


class RulesSource(Protocol):
    """Where the live rule set is read from (a reloading holder, or a fixed one)."""

    @property
    def current(self) -> RuleEngine: ...


class FixedRules:
    def __init__(self, engine: RuleEngine) -> None:
        self.current = engine
