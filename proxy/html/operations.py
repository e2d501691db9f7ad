"""The closed registry of rewrite operations (docs/rules-spec.md, "Operations").

Each operation is a frozen dataclass; :data:`OPERATIONS` maps the spec's ``op`` tag to its class.
:mod:`proxy.html.edits` applies them to a Lexbor tree. Values are filled (``{{ name }}``) and
checked here, once per application, because context values come from the request and are not
trusted.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar, Literal

__all__ = [
    "OPERATIONS",
    "AddClass",
    "Append",
    "Hide",
    "InsertAfter",
    "InsertBefore",
    "Move",
    "Op",
    "Prepend",
    "Remove",
    "RemoveAttr",
    "RemoveClass",
    "Reorder",
    "Replace",
    "SetAttr",
    "SetHtml",
    "SetStyle",
    "SetText",
    "SwapImage",
    "attribute_allowed",
    "fill",
    "merge_style",
]


@dataclass(frozen=True, slots=True)
class SetText:
    selector: str
    value: str
    tag: ClassVar[str] = "set_text"


@dataclass(frozen=True, slots=True)
class SetHtml:
    selector: str
    value: str
    tag: ClassVar[str] = "set_html"


@dataclass(frozen=True, slots=True)
class SetAttr:
    selector: str
    name: str
    value: str
    tag: ClassVar[str] = "set_attr"


@dataclass(frozen=True, slots=True)
class RemoveAttr:
    selector: str
    name: str
    tag: ClassVar[str] = "remove_attr"


@dataclass(frozen=True, slots=True)
class AddClass:
    selector: str
    value: str
    tag: ClassVar[str] = "add_class"


@dataclass(frozen=True, slots=True)
class RemoveClass:
    selector: str
    value: str
    tag: ClassVar[str] = "remove_class"


@dataclass(frozen=True, slots=True)
class SetStyle:
    selector: str
    value: str
    tag: ClassVar[str] = "set_style"


@dataclass(frozen=True, slots=True)
class Hide:
    selector: str
    tag: ClassVar[str] = "hide"


@dataclass(frozen=True, slots=True)
class Remove:
    selector: str
    tag: ClassVar[str] = "remove"


@dataclass(frozen=True, slots=True)
class InsertBefore:
    selector: str
    html: str
    tag: ClassVar[str] = "insert_before"


@dataclass(frozen=True, slots=True)
class InsertAfter:
    selector: str
    html: str
    tag: ClassVar[str] = "insert_after"


@dataclass(frozen=True, slots=True)
class Prepend:
    selector: str
    html: str
    tag: ClassVar[str] = "prepend"


@dataclass(frozen=True, slots=True)
class Append:
    selector: str
    html: str
    tag: ClassVar[str] = "append"


@dataclass(frozen=True, slots=True)
class Replace:
    selector: str
    html: str
    tag: ClassVar[str] = "replace"


@dataclass(frozen=True, slots=True)
class Move:
    """Move the element ``before``/``after`` the ``target`` element, or ``into`` it (last child)."""

    selector: str
    where: Literal["before", "after", "into"]
    target: str
    tag: ClassVar[str] = "move"


@dataclass(frozen=True, slots=True)
class Reorder:
    """Put the container's children matched by ``order`` in that order, in the places they held."""

    selector: str
    order: tuple[str, ...]
    tag: ClassVar[str] = "reorder"


@dataclass(frozen=True, slots=True)
class SwapImage:
    selector: str
    src: str
    srcset: str | None = None
    alt: str | None = None
    tag: ClassVar[str] = "swap_image"


Op = (
    SetText | SetHtml | SetAttr | RemoveAttr | AddClass | RemoveClass | SetStyle | Hide | Remove
    | InsertBefore | InsertAfter | Prepend | Append | Replace | Move | Reorder | SwapImage
)  # fmt: skip

OPERATIONS: Mapping[str, type[Op]] = {
    cls.tag: cls
    for cls in (
        SetText, SetHtml, SetAttr, RemoveAttr, AddClass, RemoveClass, SetStyle, Hide, Remove,
        InsertBefore, InsertAfter, Prepend, Append, Replace, Move, Reorder, SwapImage,
    )
}  # fmt: skip
"""The spec's ``op`` tag -> operation class: the loader builds ops through this, nothing else."""


_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z0-9_.:()\-]+)\s*\}\}")
_URL_ATTRIBUTES = frozenset(("href", "src", "action", "formaction", "xlink:href", "poster", "data"))
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


def attribute_allowed(name: str, value: str | None) -> bool:
    """False for event-handler names, malformed names, and script URLs in URL attributes."""
    lower = name.lower()
    if lower.startswith("on") or _ATTRIBUTE_NAME.fullmatch(name) is None:
        return False
    if value is not None and lower in _URL_ATTRIBUTES:
        scheme = _CONTROL_OR_SPACE.sub("", value).lower()
        return not scheme.startswith(("javascript:", "vbscript:", "data:text/html"))
    return True


def merge_style(style: str | None, declarations: str) -> str:
    """``style`` with the declarations set (a later property replaces an earlier one)."""
    merged: dict[str, str] = {}
    for part in f"{style or ''};{declarations}".split(";"):
        prop, colon, value = part.partition(":")
        if colon and prop.strip():
            merged[prop.strip().lower()] = value.strip()
    return "; ".join(f"{prop}: {value}" for prop, value in merged.items())
