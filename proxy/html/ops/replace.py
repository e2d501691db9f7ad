"""``replace``: the whole element replaced by the rule's HTML (never ``html``, ``head``, ``body``)."""

from __future__ import annotations

from selectolax.lexbor import LexborNode

from proxy.html.edits import Tree, replace_element
from proxy.html.ops.base import Op
from proxy.html.values import fill


class Replace(Op, tag="replace", frozen=True):
    """Replace the whole element with trusted HTML."""

    html: str

    pastes_at_start_tag = True

    def apply_to(self, tree: Tree, node: LexborNode) -> bool:
        return replace_element(tree, node, fill(self.html, tree.values, escape=True))
