"""The values operations write: placeholders filled, attributes checked, styles merged.

Context values come from the request and are not trusted, so they are filled (``{{ name }}``)
and checked when an operation applies, not only when its rule is loaded.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator, Mapping

__all__ = ["URL_ATTRIBUTES", "attribute_allowed", "fill", "merge_style", "placeholders"]

_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z0-9_.:()\-]+)\s*\}\}")
URL_ATTRIBUTES = frozenset(("href", "src", "action", "formaction", "xlink:href", "poster", "data"))
"""Attributes whose value is a URL, where a script scheme would run script."""
_CONTROL_OR_SPACE = re.compile(r"[\x00-\x20\x7f]+")
_ATTRIBUTE_NAME = re.compile(r"[^\t\n\f\r />\"'=\x00]+")


def fill(value: str, values: Mapping[str, str] | None, *, escape: bool) -> str:
    """``value`` with ``{{ name }}`` replaced from ``values`` (missing: empty), HTML-escaped if
    ``escape`` (the value is HTML); attribute values are escaped when serialised instead."""
    if values is None or "{{" not in value:
        return value
    return _PLACEHOLDER.sub(
        lambda m: (html.escape if escape else str)(values.get(m.group(1), "")), value
    )


def placeholders(value: str) -> list[str]:
    """The names :func:`fill` would look up in ``value``."""
    return _PLACEHOLDER.findall(value) if "{{" in value else []


def attribute_allowed(name: str, value: str | None) -> bool:
    """False for event-handler names, malformed names, and script URLs in URL attributes."""
    lower = name.lower()
    if lower.startswith("on") or _ATTRIBUTE_NAME.fullmatch(name) is None:
        return False
    if value is not None and lower in URL_ATTRIBUTES:
        scheme = _CONTROL_OR_SPACE.sub("", value).lower()
        return not scheme.startswith(("javascript:", "vbscript:", "data:text/html"))
    return True


def merge_style(style: str | None, declarations: str) -> str:
    """``style`` with the declarations set (a later property replaces an earlier one). A ``;``
    inside quotes or parentheses (``url(data:image/png;base64,…)``) is part of its value, and
    a custom property (``--Brand``) keeps its case."""
    merged: dict[str, str] = {}
    for text in (style or "", declarations):
        for part in _declarations(text):
            prop, colon, value = part.partition(":")
            name = prop.strip()
            if colon and name:
                merged[name if name.startswith("--") else name.lower()] = value.strip()
    return "; ".join(f"{prop}: {value}" for prop, value in merged.items())


def _declarations(text: str) -> Iterator[str]:
    """``text`` cut at each ``;`` outside quotes, parentheses and escapes (CSS syntax)."""
    depth, quote, start, i = 0, "", 0, 0
    while i < len(text):
        c = text[i]
        if c == "\\":
            i += 2
            continue
        if quote:
            quote = "" if c == quote else quote
        elif c in "\"'":
            quote = c
        elif c == "(":
            depth += 1
        elif c == ")":
            depth = max(0, depth - 1)
        elif c == ";" and depth == 0:
            yield text[start:i]
            start = i + 1
        i += 1
    yield text[start:]
