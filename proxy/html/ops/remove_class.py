"""``remove_class``: the named classes removed, the others kept in their order."""

from __future__ import annotations

from selectolax.lexbor import LexborNode

from proxy.html.edits import Tree, classes, set_attributes
from proxy.html.ops.base import Checks, Op
from proxy.html.values import fill


class RemoveClass(Op, tag="remove_class", frozen=True):
    value: str

    start_tag_only = True

    def check(self, checks: Checks, path: str) -> None:
        checks.attr_value(self.value, f"{path}.value")

    def apply_to(self, tree: Tree, node: LexborNode) -> bool:
        drop = set(fill(self.value, tree.values, escape=False).split())
        kept = " ".join(c for c in classes(node) if c not in drop)
        return set_attributes(tree, node, {"class": kept})
