"""``remove``: the element and its content gone (never ``html``, ``head`` or ``body``)."""

from __future__ import annotations

from selectolax.lexbor import LexborNode

from proxy.html.edits import Tree, replace_element
from proxy.html.ops.base import Op


class Remove(Op, tag="remove", frozen=True):
    pastes_at_start_tag = True

    def apply_to(self, tree: Tree, node: LexborNode) -> bool:
        return replace_element(tree, node, "")
