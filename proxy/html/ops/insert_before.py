"""``insert_before``: the rule's HTML put right before the element (its start tag is the only
place in the bytes this touches)."""

from __future__ import annotations

from selectolax.lexbor import LexborNode

from proxy.html.edits import Tree
from proxy.html.ops.base import Op
from proxy.html.values import fill


class InsertBefore(Op, tag="insert_before", frozen=True):
    html: str

    start_tag_only = True
    pastes_at_start_tag = True

    def apply_to(self, tree: Tree, node: LexborNode) -> bool:
        markup = fill(self.html, tree.values, escape=True)
        tree.edit(node).before.append(markup)
        tree.insert(node, markup, "before")
        return True
