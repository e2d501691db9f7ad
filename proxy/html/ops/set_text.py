"""``set_text``: the element's children become one text node (escaped in the page)."""

from __future__ import annotations

from selectolax.lexbor import LexborNode

from proxy.html.edits import Tree, set_content
from proxy.html.ops.base import Op
from proxy.html.values import fill


class SetText(Op, tag="set_text", frozen=True):
    """Replace the element's children with escaped text."""

    value: str

    def apply_to(self, tree: Tree, node: LexborNode) -> bool:
        return set_content(tree, node, fill(self.value, tree.values, escape=False), text=True)
