"""``set_style``: CSS declarations merged into the element's ``style`` (a later one wins)."""

from __future__ import annotations

from selectolax.lexbor import LexborNode

from proxy.html.edits import Tree, set_attributes
from proxy.html.ops.base import Checks, Op
from proxy.html.values import fill, merge_style


class SetStyle(Op, tag="set_style", frozen=True):
    """Merge CSS declarations into ``style``."""

    value: str

    start_tag_only = True

    def check(self, checks: Checks, path: str) -> None:
        checks.attr_value(self.value, f"{path}.value")

    def apply_to(self, tree: Tree, node: LexborNode) -> bool:
        declarations = fill(self.value, tree.values, escape=False)
        style = merge_style(node.attributes.get("style"), declarations)
        return set_attributes(tree, node, {"style": style})
