"""Named segments: audiences declared in rules files, evaluated once per request.

A segment is an id, a description and a condition in the rules' own language
(:mod:`proxy.rules.conditions`) over the request context, profile fields included. The match
stage calls :func:`add_segments` once the context is built; after it the context holds

- ``segments``: every segment the visitor is in, as a tuple in file order (``'vip' in segments``);
- ``segment``: the first of them (``segment == 'vip'``), absent when there is none.

A segment's condition may test other segments (``'buyers' in segments``), so segments are
evaluated in dependency order; a cycle is refused at load. ``segment`` (the first match) is not
available inside segment conditions: it depends on every segment before it, which would make
most files cyclic. Every condition — a segment's, a rule's ``when``, a pin's ``when`` — may read
only known context or profile fields (:func:`known_field`): a misspelt field is simply absent
from every context, so it would silently put nobody in the segment, or never fire the rule, and
that is hard to see from outside. The loader refuses it with the closest known name.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from proxy.config.yaml_strict import LineMap
from proxy.errors import ConfigError
from proxy.rules.condition_parser import column_of
from proxy.rules.condition_tree import Node
from proxy.rules.conditions import evaluate, fields_used, values_compared
from proxy.rules.vocabulary import VALUE_CHECKED, value_problem

SEGMENTS_FIELD = "segments"
SEGMENT_FIELD = "segment"
CLUSTER_FIELD = "cluster"

# Fields of the request context (docs/rules-spec.md, "Context fields") and of the profile
# (proxy/tracker/profile_update.py; tests/rules/test_segments.py checks this list against it).
KNOWN_FIELDS: frozenset[str] = frozenset(
    {
        "device",
        "browser",
        "os",
        "hour",
        "weekday",
        "country",
        "region",
        "referrer.domain",
        "referrer.class",
        "language",
        "path",
        "landing",
        "utm.source",
        "utm.medium",
        "utm.campaign",
        "utm.term",
        "utm.content",
        "visits",
        "visits_24h",
        "visits_7d",
        "visits_30d",
        "pageviews",
        "engaged_s",
        "engaged_ema",
        "max_scroll",
        "conversions",
        "conversion_value",
        "purchases_30d",
        "first_seen_ms",
        "last_seen_ms",
        "bot",
        "tz",
        "score.rfm",
        "score.recency",
        "score.frequency",
        "score.monetary",
        SEGMENTS_FIELD,
        CLUSTER_FIELD,
    }
)
# Families of fields named after a page type, slot, cookie, header or metric.
_KNOWN_PREFIX = re.compile(
    r"^(?:cookie|header|metric|clicks|impressions|max_scroll|interest)[.:][\w.:-]+$"
)


def known_field(name: str) -> bool:
    """Whether a condition may read ``name`` (``score:rfm`` is ``score.rfm`` spelt as stored)."""
    return (
        name in KNOWN_FIELDS
        or name.replace(":", ".") in KNOWN_FIELDS
        or bool(_KNOWN_PREFIX.match(name))
    )


def did_you_mean(name: str) -> str:
    """`` (did you mean device?)`` for ``devce``: the closest known field, if one is close."""
    close = difflib.get_close_matches(name, sorted(KNOWN_FIELDS | {SEGMENT_FIELD}), n=1)
    return f" (did you mean {close[0]}?)" if close else ""


def unknown_field_message(name: str) -> str:
    """What the loader says of a condition reading ``name``, an unknown field."""
    return f"condition: unknown field '{name}'{did_you_mean(name)}"


@dataclass(frozen=True, slots=True)
class CompiledSegment:
    id: str
    description: str
    when: Node
    source: str  # file:line, for `vernier segments show` and `explain`
    needs: frozenset[str]  # the segments its condition tests
    text: str = ""  # the condition as written (JSON for a structured one)


@dataclass(frozen=True, slots=True)
class Segments:
    """The loaded segments: ``declared`` in file order, ``ordered`` so that each comes after the
    segments its condition tests."""

    declared: tuple[CompiledSegment, ...] = ()
    ordered: tuple[CompiledSegment, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.declared)

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(segment.id for segment in self.declared)

    def get(self, segment_id: str) -> CompiledSegment | None:
        return next((s for s in self.declared if s.id == segment_id), None)


NO_SEGMENTS = Segments()


def segments_of(segments: Segments, context: dict[str, object]) -> tuple[str, ...]:
    """The segments the visitor of ``context`` is in, in file order.

    While it runs, ``context["segments"]`` holds the segments found so far (a dependency order
    guarantees a tested segment is decided before the one that tests it).
    """
    found: set[str] = set()
    for segment in segments.ordered:
        context[SEGMENTS_FIELD] = tuple(found)
        if evaluate(segment.when, context):
            found.add(segment.id)
    return tuple(segment.id for segment in segments.declared if segment.id in found)


def add_segments(segments: Segments, context: dict[str, object]) -> None:
    """Set ``segments`` (always, possibly empty) and ``segment`` (the first, if any)."""
    context.pop(SEGMENT_FIELD, None)
    held = segments_of(segments, context) if segments else ()
    context[SEGMENTS_FIELD] = held
    if held:
        context[SEGMENT_FIELD] = held[0]


# A decision records the visitor's segments as of their first exposure to its slot (so that an
# effect of the slot cannot move visitors between segments during analysis); the profile keeps
# the named ones under ``segments_at:<slot>`` and the learned one under ``cluster_at:<slot>``
# ("" when in none), each written once.
FROZEN_PREFIX = "segments_at:"
FROZEN_CLUSTER_PREFIX = "cluster_at:"


def frozen_field(slot_id: str) -> str:
    return f"{FROZEN_PREFIX}{slot_id}"


def frozen_cluster_field(slot_id: str) -> str:
    return f"{FROZEN_CLUSTER_PREFIX}{slot_id}"


@dataclass(frozen=True, slots=True)
class Frozen:
    """What a decision in one slot records of the visitor's segments, and the profile fields to
    freeze now (those not frozen yet; the caller writes them in one write, never overwriting)."""

    segments: tuple[str, ...]
    cluster: str  # the learned segment; "" in none
    unset: Mapping[str, str]


def frozen_segments(
    profile: Mapping[str, str], slot_id: str, context: Mapping[str, object]
) -> Frozen:
    """The named and learned segments to record for a decision in ``slot_id``: the profile's
    frozen ones where it has them, else the context's (to be frozen). A profile frozen before
    the learned segment was (no ``cluster_at:``) freezes its cluster at this exposure."""
    unset: dict[str, str] = {}
    named_field, cluster_field = frozen_field(slot_id), frozen_cluster_field(slot_id)
    stored = profile.get(named_field)
    if stored is None:
        current = context.get(SEGMENTS_FIELD)
        segments = tuple(str(s) for s in current) if isinstance(current, tuple) else ()
        unset[named_field] = ",".join(segments)
    else:
        segments = tuple(part for part in stored.split(",") if part)
    cluster = profile.get(cluster_field)
    if cluster is None:
        label = context.get(CLUSTER_FIELD)
        cluster = label if isinstance(label, str) else ""
        unset[cluster_field] = cluster
    return Frozen(segments, cluster, unset)


@dataclass(frozen=True, slots=True)
class Declared:
    """A segment as the loader found it: its compiled condition and where it was written."""

    id: str
    description: str
    when: Node
    lines: LineMap
    path: str  # $.segments[i]
    text: str = ""
    expressions: tuple[tuple[str, str], ...] = ()  # condition_parser.leaves: (path suffix, text)

    def error_at(
        self, message: str, *, field: str | None = None, string: str | None = None
    ) -> ConfigError:
        """An error at the field or quoted string in this segment's condition."""
        return _error_at(self.lines, f"{self.path}.when", self.expressions, message, field, string)


@dataclass(frozen=True, slots=True)
class Reference:
    """A compiled condition anywhere in the rules (rule, pin, segment) and where it was written."""

    when: Node
    lines: LineMap
    path: str
    expressions: tuple[tuple[str, str], ...] = ()  # condition_parser.leaves: (path suffix, text)


def _error_at(
    lines: LineMap,
    path: str,
    expressions: Sequence[tuple[str, str]],
    message: str,
    field: str | None,
    string: str | None,
) -> ConfigError:
    """An error at the place in the condition at ``path`` that reads ``field`` or writes
    ``string`` (file:line:column inside the expression), else at the condition's key."""
    for suffix, text in expressions:
        column = column_of(text, field=field, string=string)
        if column is not None:
            return lines.error_in(message, path + suffix, column)
    return lines.error(message, path)


def _check_fields(
    lines: LineMap, path: str, expressions: Sequence[tuple[str, str]], when: Node
) -> None:
    """Refuse the first unknown field ``when`` reads, at its place in the condition."""
    for name in sorted(fields_used(when)):
        if name != SEGMENT_FIELD and not known_field(name):
            raise _error_at(lines, path, expressions, unknown_field_message(name), name, None)


def _check_values(ref: Reference) -> None:
    """Refuse the first comparison of a closed field with a value it never takes."""
    for field in sorted(fields_used(ref.when) & VALUE_CHECKED):
        for value in values_compared(ref.when, field):
            if (problem := value_problem(field, value)) is not None:
                message = f"condition: {problem}"
                string = value if isinstance(value, str) else None
                raise _error_at(ref.lines, ref.path, ref.expressions, message, field, string)


def compile_segments(declared: Sequence[Declared], conditions: Iterable[Reference]) -> Segments:
    """Check and order the declared segments; raises :class:`ConfigError` (file:line:column) for
    a duplicate id, ``segment`` inside a segment, an unknown field anywhere in ``conditions``
    (every condition of the rules, segments' included), a test of a segment that is not declared,
    or a cycle."""
    by_id: dict[str, Declared] = {}
    for item in declared:
        if item.id in by_id:
            first = by_id[item.id]
            where = f"{first.lines.file}:{first.lines.line_of(first.path)}"
            raise item.lines.error(f"segment '{item.id}' is already declared at {where}", item.path)
        by_id[item.id] = item
        if SEGMENT_FIELD in fields_used(item.when):
            message = "segment conditions test other segments as \"'id' in segments\""
            raise item.error_at(message, field=SEGMENT_FIELD)
    for ref in conditions:
        _check_fields(ref.lines, ref.path, ref.expressions, ref.when)
        _check_values(ref)
        for field in (SEGMENT_FIELD, SEGMENTS_FIELD):
            for value in values_compared(ref.when, field):
                if value not in by_id:
                    names = ", ".join(sorted(by_id)) or "none declared"
                    message = f"condition: unknown segment {value!r} (segments: {names})"
                    raise _error_at(ref.lines, ref.path, ref.expressions, message, None, str(value))
    compiled = {
        item.id: CompiledSegment(
            id=item.id,
            description=item.description,
            when=item.when,
            source=f"{item.lines.file}:{item.lines.line_of(item.path)}",
            needs=frozenset(str(v) for v in values_compared(item.when, SEGMENTS_FIELD)),
            text=item.text,
        )
        for item in declared
    }
    return Segments(tuple(compiled.values()), _dependency_order(compiled, by_id))


def _dependency_order(
    compiled: dict[str, CompiledSegment], declared: dict[str, Declared]
) -> tuple[CompiledSegment, ...]:
    """Depth-first topological order, file order among independent segments."""
    done: dict[str, CompiledSegment] = {}
    visiting: list[str] = []

    def visit(segment_id: str) -> None:
        if segment_id in done:
            return
        if segment_id in visiting:
            cycle = [*visiting[visiting.index(segment_id) :], segment_id]
            item = declared[segment_id]
            message = f"segments test each other in a cycle: {' -> '.join(cycle)}"
            raise item.error_at(message, string=cycle[1])
        visiting.append(segment_id)
        for needed in sorted(compiled[segment_id].needs):
            visit(needed)
        visiting.pop()
        done[segment_id] = compiled[segment_id]

    for segment_id in compiled:
        visit(segment_id)
    return tuple(done.values())
