"""In-page triggers: a slot's other variant, sent along in a ``<template>`` the tracker may apply.

The template holds the slot's element as it would look with the trigger's variant, rendered on
the server from the page as served, so the switch in the browser is one DOM replacement and
needs no script of the site owner's (the contract is in ``tracker_js/README.md``).

Rendering works on the slot's element alone: the variant's operations run on a document made of
that element, so their selectors match within it (ancestors are not visible, as they would not
be to a rule that runs after the switch).
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence

import orjson
from selectolax.lexbor import LexborHTMLParser

from proxy.html.ops.base import Op
from proxy.html.ops.insert_after import InsertAfter
from proxy.html.rewrite import rewrite
from proxy.rules.schema import Trigger

_SLOT = "[data-vernier-slot]"


def decision_selector(decision_id: str) -> str:
    return f'[data-vernier-decision="{decision_id}"]'


def slot_elements(document: bytes, codec: str, decision_ids: Sequence[str]) -> dict[str, str]:
    """Outer HTML of the elements carrying each decision id (one parse for all)."""
    parser = LexborHTMLParser(document.decode(codec, "replace"))
    found: dict[str, str] = {}
    for decision_id in decision_ids:
        node = parser.css_first(decision_selector(decision_id))
        if node is not None and node.html:
            found[decision_id] = node.html
    return found


def render_variant(
    element_html: str,
    ops: Sequence[Op],
    markup: Mapping[str, str],
    fill: Mapping[str, str] | None,
) -> str | None:
    """``element_html`` with ``ops`` applied and ``markup`` set on it; None when it cannot be
    rendered (the element does not survive its own parse, e.g. a bare table row)."""
    result = rewrite(element_html.encode(), "utf-8", ops, mark={_SLOT: markup}, fill=fill)
    node = LexborHTMLParser(result.body.decode()).css_first(
        decision_selector(markup["data-vernier-decision"])
    )
    return node.html if node is not None else None


def template(trigger: Trigger, markup: Mapping[str, str], element_html: str) -> str:
    when: dict[str, object] = {"after_ms": round(trigger.after_s * 1000)}
    if trigger.hover is not None:
        when["hover"] = trigger.hover
    if trigger.max_scroll is not None:
        when["max_scroll"] = trigger.max_scroll
    if trigger.without_click is not None:
        when["without_click"] = trigger.without_click
    attrs = {
        "data-vernier-trigger": trigger.id,
        **markup,
        "data-vernier-when": orjson.dumps(when).decode(),
    }
    rendered = " ".join(f'{name}="{html.escape(value)}"' for name, value in attrs.items())
    return f"<template {rendered}>{element_html}</template>"


def insert_templates(
    document: bytes, codec: str, templates: Mapping[str, str]
) -> tuple[bytes, bool]:
    """``document`` with each decision's templates right after its element."""
    ops = [
        InsertAfter(decision_selector(decision), markup) for decision, markup in templates.items()
    ]
    result = rewrite(document, codec, ops)
    return result.body, result.changed
