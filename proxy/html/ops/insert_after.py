"""``insert_after``: the rule's HTML put right after the element (a later insertion lands
nearer the element, as in the tree)."""

from __future__ import annotations

from selectolax.lexbor import LexborNode

from proxy.html.edits import Tree
from proxy.html.ops.base import Op
from proxy.html.values import fill


class InsertAfter(Op, tag="insert_after", frozen=True):
    html: str

    def apply_to(self, tree: Tree, node: LexborNode) -> bool:
        markup = fill(self.html, tree.values, escape=True)
        tree.edit(node).after.insert(0, markup)
        tree.insert(node, markup, "after")
        return True
