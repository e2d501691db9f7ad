"""``prepend``: the rule's HTML put first in the element."""

from __future__ import annotations

from selectolax.lexbor import LexborNode

from proxy.html.edits import Tree, add_content
from proxy.html.ops.base import Op
from proxy.html.values import fill


class Prepend(Op, tag="prepend", frozen=True):
    html: str

    def apply_to(self, tree: Tree, node: LexborNode) -> bool:
        markup = fill(self.html, tree.values, escape=True)
        return add_content(tree, node, markup, first=True)
