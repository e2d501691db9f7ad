"""A slot's pins, on a live request context or replayed on a logged one (pure).

The proxy decides a slot by its first pin that holds (:func:`pinned_variant`), and logs with
each decision the request context the pins read (:func:`logged_context`: every scalar field but
headers and cookies, which stay out of logs). Offline evaluation of "what the YAML rules would
have served" (``vernier evaluate``'s ``rules`` policy, the report's doubly robust section) runs
the same function on that logged context; a pin that reads a field the log never carries
(:func:`unlogged_fields`) cannot be replayed, and saying so beats guessing its value.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from proxy.records.decision import Scalar
from proxy.rules.compiled import CompiledPin
from proxy.rules.conditions import evaluate, fields_used
from proxy.rules.segments import SEGMENTS_FIELD

UNLOGGED_PREFIXES = ("header.", "cookie.")
# Context fields whose values are not scalars, so never in a logged context: the visitor's named
# segments at decision time (a decision logs them as of the first exposure, which may differ).
UNLOGGED_FIELDS = frozenset({SEGMENTS_FIELD})


def pinned_variant(pins: Iterable[CompiledPin], context: Mapping[str, object]) -> str | None:
    """The variant of the first pin whose condition holds on ``context``, else ``None``."""
    for pin in pins:
        if evaluate(pin.when, context):
            return pin.variant
    return None


def logged_context(context: Mapping[str, object]) -> dict[str, Scalar]:
    """The context fields rules read, without headers and cookies (kept out of logs)."""
    return {
        name: value
        for name, value in context.items()
        if isinstance(value, str | int | float | bool) and not name.startswith(UNLOGGED_PREFIXES)
    }


def unlogged_fields(pins: Iterable[CompiledPin]) -> tuple[str, ...]:
    """The fields ``pins`` read that a logged context never carries, sorted (empty: the pins
    can be replayed on the log exactly as the proxy ran them)."""
    used = {name for pin in pins for name in fields_used(pin.when)}
    return tuple(sorted(n for n in used if n.startswith(UNLOGGED_PREFIXES) or n in UNLOGGED_FIELDS))
