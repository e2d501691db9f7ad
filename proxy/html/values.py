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
# characters no HTML page may hold (a NUL makes the response look binary, and the tracker's tag
# and the page's text vanish in some clients): a request's ``?utm_source=%00`` is dropped from it
_NOT_IN_HTML = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f\ud800-\udfff]")
_ATTRIBUTE_NAME = re.compile(r"[^\t\n\f\r />\"'=\x00]+")


def fill(value: str, values: Mapping[str, str] | None, *, escape: bool) -> str:
    """``value`` with ``{{ name }}`` replaced from ``values`` (missing: empty), HTML-escaped if
    ``escape`` (the value is HTML); attribute values are escaped when serialised instead."""
    if values is None or "{{" not in value:
        return value
    return _PLACEHOLDER.sub(
        lambda m: (html.escape if escape else str)(
            _NOT_IN_HTML.sub("", values.get(m.group(1), ""))
        ),
        value,
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
    """``text`` cut at each ``;`` outside quotes, parentheses, comments and escapes (CSS
    syntax), comments left out. A last declaration left open (a quote, a parenthesis or a
    comment never closed) is left out too: it is invalid CSS, and written back it would swallow
    every declaration after it."""
    depth, quote, i = 0, "", 0
    part: list[str] = []
    while i < len(text):
        c = text[i]
        if c == "\\":
            part.append(text[i : i + 2])
            i += 2
            continue
        if not quote and text.startswith("/*", i):
            end = text.find("*/", i + 2)
            if end < 0:
                break  # an open comment: the rest is part of it
            i = end + 2
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
            yield "".join(part)
            part = []
            i += 1
            continue
        part.append(c)
        i += 1
    if not quote and depth == 0 and not (part and part[-1].endswith("\\")):
        yield "".join(part)
