"""Applying operations to a Lexbor tree, and recording what changed per original element.

:func:`apply` gives an operation its meaning on the tree (which is also the fallback's output);
:class:`ElementEdit` records, per original element, what changed, in the terms
:mod:`proxy.html.rewrite` needs to splice the original bytes instead of re-serialising.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from selectolax.lexbor import LexborNode

from proxy.html.operations import (
    AddClass,
    Append,
    Hide,
    InsertAfter,
    InsertBefore,
    Move,
    Op,
    Prepend,
    Remove,
    RemoveAttr,
    RemoveClass,
    Reorder,
    Replace,
    SetAttr,
    SetHtml,
    SetStyle,
    SetText,
    SwapImage,
    attribute_allowed,
    fill,
    merge_style,
)
from proxy.html.sourcemap import select


@dataclass(slots=True)
class ElementEdit:
    """What the operations did to one original element, in the terms a splice needs.

    ``attrs``: the element's final attributes when an attribute op touched it, else None;
    ``content``: the new content (HTML) when set_text/set_html replaced it; ``outer``: the HTML
    that replaces the whole element (``""`` for remove).
    """

    attrs: dict[str, str | None] | None = None
    content: str | None = None
    prepend: list[str] = field(default_factory=list)
    append: list[str] = field(default_factory=list)
    before: list[str] = field(default_factory=list)
    after: list[str] = field(default_factory=list)
    outer: str | None = None

    @property
    def needs_extent(self) -> bool:
        """True when the element's end tag must be located (anything past its start tag)."""
        return bool(self.content is not None or self.prepend or self.append or self.after) or (
            self.outer is not None
        )


class Tree(Protocol):
    """What an operation needs from the rewrite in progress (:mod:`proxy.html.rewrite`)."""

    values: Mapping[str, str] | None

    def identity(self, node: LexborNode) -> int:
        """A number for ``node`` that stays the same for the whole rewrite (RewriteResult.targets)."""
        ...

    def edit(self, node: LexborNode) -> ElementEdit:
        """The splice record of ``node`` (a throwaway one, and no splice, for a new element)."""
        ...

    def insert(self, node: LexborNode, html: str, where: str) -> None:
        """Parse ``html`` and put it ``before``/``after``/``prepend``/``append`` to ``node``."""
        ...

    def select_first(self, selector: str) -> LexborNode | None: ...

    def restructure(self) -> None:
        """Called before an operation adds, removes or moves an element (not before a change of
        attributes or text): the last moment the tree has the original elements."""
        ...

    def moved(self, node: LexborNode, target: LexborNode, where: str) -> None:
        """Called before ``node`` is moved ``before``/``after``/``into`` ``target``."""
        ...

    def reordered(self, slots: Sequence[LexborNode], wanted: Sequence[LexborNode]) -> None:
        """Called before ``wanted[i]`` is put in the place of ``slots[i]`` (a permutation)."""
        ...


_RAW_TEXT = frozenset(("script", "style", "xmp", "iframe", "noembed", "noframes", "noscript"))
_NO_CONTENT = _RAW_TEXT | {"area", "base", "br", "col", "embed", "hr", "img", "input", "link"} | {
    "meta", "source", "track", "wbr", "plaintext", "template", "html", "head"
}  # fmt: skip


def _set_attributes(tree: Tree, node: LexborNode, changes: Mapping[str, str | None]) -> bool:
    """Set (or, for None, remove) attributes after the safety check; False if any is refused."""
    if not all(attribute_allowed(k, v) for k, v in changes.items()):
        return False
    attrs = node.attrs
    for name, value in changes.items():
        if value is None:
            if name in attrs:
                del attrs[name]
        else:
            attrs[name] = value.replace("\0", "\ufffd")
    tree.edit(node).attrs = dict(node.attributes)
    return True


def _set_content(tree: Tree, node: LexborNode, content: str, *, text: bool) -> bool:
    tag = node.tag or ""
    if tag in _NO_CONTENT or (not text and tag in ("title", "textarea")):
        return False
    if not text or any(not (child.tag or "-").startswith("-") for child in node.iter()):
        tree.restructure()  # elements go
    if text:
        node.inner_html = ""
        node.insert_child(content)
        content = html.escape(content, quote=False).replace("\r", "&#13;")  # a raw CR reads as LF
    else:
        node.inner_html = ""
        tree.insert(node, content, "append")
    edit = tree.edit(node)
    edit.content, edit.prepend, edit.append = content, [], []
    return True


def _classes(node: LexborNode) -> list[str]:
    return (node.attributes.get("class") or "").split()


def _apply_one(tree: Tree, node: LexborNode, op: Op) -> bool:
    """Apply ``op`` to one selected element; False when the op refuses that element."""
    values = tree.values
    match op:
        case SetText(value=value):
            return _set_content(tree, node, fill(value, values, escape=False), text=True)
        case SetHtml(value=value):
            return _set_content(tree, node, fill(value, values, escape=True), text=False)
        case SetAttr(name=name, value=value):
            return _set_attributes(tree, node, {name.lower(): fill(value, values, escape=False)})
        case RemoveAttr(name=name):
            return _set_attributes(tree, node, {name.lower(): None})
        case AddClass(value=value):
            have = _classes(node)
            have += [c for c in fill(value, values, escape=False).split() if c not in have]
            return _set_attributes(tree, node, {"class": " ".join(have)})
        case RemoveClass(value=value):
            drop = set(fill(value, values, escape=False).split())
            return _set_attributes(
                tree, node, {"class": " ".join(c for c in _classes(node) if c not in drop)}
            )
        case SetStyle(value=value):
            style = merge_style(node.attributes.get("style"), fill(value, values, escape=False))
            return _set_attributes(tree, node, {"style": style})
        case Hide():
            style = merge_style(node.attributes.get("style"), "display:none")
            return _set_attributes(tree, node, {"hidden": "", "style": style})
        case SwapImage(src=src, srcset=srcset, alt=alt):
            changes: dict[str, str | None] = {"src": fill(src, values, escape=False)}
            changes["srcset"] = None if srcset is None else fill(srcset, values, escape=False)
            if alt is not None:
                changes["alt"] = fill(alt, values, escape=False)
            return _set_attributes(tree, node, changes)
        case (
            InsertBefore(html=markup)
            | InsertAfter(html=markup)
            | Prepend(html=markup)
            | Append(html=markup)
        ):
            if isinstance(op, Prepend | Append) and (node.tag or "") in _NO_CONTENT:
                return False
            markup = fill(markup, values, escape=True)
            edit = tree.edit(node)
            if isinstance(op, InsertBefore):
                edit.before.append(markup)
            elif isinstance(op, InsertAfter):
                edit.after.insert(0, markup)
            elif isinstance(op, Prepend):
                edit.content, edit.prepend = _prepended(edit, markup)
            else:
                edit.content, edit.append = _appended(edit, markup)
            tree.insert(node, markup, op.tag.removeprefix("insert_"))
            return True
        case Remove() | Replace():
            if node.tag in ("html", "head", "body"):
                return False
            markup = fill(op.html, values, escape=True) if isinstance(op, Replace) else ""
            tree.restructure()
            tree.edit(node).outer = markup
            if markup:
                tree.insert(node, markup, "before")
            node.decompose()
            return True
        case Move(where=where, target=target):
            return _move(tree, node, where, target)
        case Reorder(order=order):
            return _reorder(tree, node, order)
    return False


def _prepended(edit: ElementEdit, markup: str) -> tuple[str | None, list[str]]:
    if edit.content is not None:
        return markup + edit.content, edit.prepend
    return None, [markup, *edit.prepend]


def _appended(edit: ElementEdit, markup: str) -> tuple[str | None, list[str]]:
    if edit.content is not None:
        return edit.content + markup, edit.append
    return None, [*edit.append, markup]


def _is_inside(node: LexborNode, ancestor: LexborNode) -> bool:
    current: LexborNode | None = node
    while current is not None:
        if current.mem_id == ancestor.mem_id:
            return True
        current = current.parent
    return False


def _move(tree: Tree, node: LexborNode, where: str, target_selector: str) -> bool:
    target = tree.select_first(target_selector)
    if target is None or _is_inside(target, node):
        return False
    tree.restructure()
    tree.moved(node, target, where)
    if where == "before":
        target.insert_before(node, move=True)
    elif where == "after":
        target.insert_after(node, move=True)
    else:
        target.insert_child(node, move=True)
    return True


def _reorder(tree: Tree, container: LexborNode, order: tuple[str, ...]) -> bool:
    """Text between the children stays where it was."""
    children = list(container.iter())
    wanted: list[LexborNode] = []
    for selector in order:
        for child in select(container, selector):  # an invalid selector matches nothing
            parent = child.parent
            inside = parent is not None and parent.mem_id == container.mem_id
            if inside and all(child.mem_id != w.mem_id for w in wanted):
                wanted.append(child)
    if len(wanted) < 2:
        return False
    ids = {w.mem_id for w in wanted}
    slots = [c for c in children if c.mem_id in ids]
    tree.restructure()
    tree.reordered(slots, wanted)
    markers = []
    for slot in slots:
        marker = container.parser.create_node("template")
        slot.insert_before(marker, move=True)
        markers.append(marker)
    for marker, child in zip(markers, wanted, strict=True):
        marker.insert_before(child, move=True)
        marker.decompose()
    return True


def apply(tree: Tree, nodes: Sequence[LexborNode], op: Op) -> tuple[int, ...]:
    """Apply ``op`` to each selected element; the identities of those it changed."""
    changed: list[int] = []
    for node in nodes:
        identity = tree.identity(node)
        if _apply_one(tree, node, op):
            changed.append(identity)
    return tuple(changed)
