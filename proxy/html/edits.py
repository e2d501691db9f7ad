"""What operations change on a Lexbor tree, and the record of what changed per original element.

Each operation (:mod:`proxy.html.ops`) gives itself its meaning on the tree (which is also the
fallback's output) through :class:`Tree`, the rewrite in progress, and the primitives here that
several operations share. :class:`ElementEdit` records, per original element, what changed, in
the terms :mod:`proxy.html.rewrite_tree` needs to splice the original bytes instead of
re-serialising.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from selectolax.lexbor import LexborNode

from proxy.html.values import attribute_allowed


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
    """What an operation needs from the rewrite in progress
    (:class:`proxy.html.rewrite_tree.RewriteTree`)."""

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
NO_CONTENT = _RAW_TEXT | {"area", "base", "br", "col", "embed", "hr", "img", "input", "link"} | {
    "meta", "source", "track", "wbr", "plaintext", "template", "html", "head"
}  # fmt: skip
"""Elements whose content an operation may not set, prepend to or append to."""


def set_attributes(tree: Tree, node: LexborNode, changes: Mapping[str, str | None]) -> bool:
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


def set_content(tree: Tree, node: LexborNode, content: str, *, text: bool) -> bool:
    """Replace the children of ``node`` with ``content``, text (escaped) or HTML; False where
    the element has no content to set."""
    tag = node.tag or ""
    if tag in NO_CONTENT or (not text and tag in ("title", "textarea")):
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


def classes(node: LexborNode) -> list[str]:
    """The element's class names, in order."""
    return (node.attributes.get("class") or "").split()


def replace_element(tree: Tree, node: LexborNode, markup: str) -> bool:
    """Put ``markup`` (``""``: nothing) in the place of the whole element; never the document's
    ``html``, ``head`` or ``body``, which a parser would imply again."""
    if node.tag in ("html", "head", "body"):
        return False
    tree.restructure()
    tree.edit(node).outer = markup
    if markup:
        tree.insert(node, markup, "before")
    node.decompose()
    return True


def add_content(tree: Tree, node: LexborNode, markup: str, *, first: bool) -> bool:
    """Put ``markup`` first (prepend) or last (append) in the element; after content another
    operation set, it joins that content, which is spliced whole."""
    if (node.tag or "") in NO_CONTENT:
        return False
    edit = tree.edit(node)
    if edit.content is not None:
        edit.content = markup + edit.content if first else edit.content + markup
    elif first:
        edit.prepend = [markup, *edit.prepend]
    else:
        edit.append = [*edit.append, markup]
    tree.insert(node, markup, "prepend" if first else "append")
    return True
