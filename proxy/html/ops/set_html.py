"""``set_html``: the element's children become the rule's HTML (placeholders HTML-escaped)."""

from __future__ import annotations

from selectolax.lexbor import LexborNode

from proxy.html.edits import Tree, set_content
from proxy.html.ops.base import Op
from proxy.html.values import fill


class SetHtml(Op, tag="set_html", frozen=True):
    """Replace the element's children with trusted HTML."""

    value: str

    def apply_to(self, tree: Tree, node: LexborNode) -> bool:
        return set_content(tree, node, fill(self.value, tree.values, escape=True), text=False)
