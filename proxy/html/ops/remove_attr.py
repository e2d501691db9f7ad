"""``remove_attr``: one attribute removed (a missing one counts as removed)."""

from __future__ import annotations

from selectolax.lexbor import LexborNode

from proxy.html.edits import Tree, set_attributes
from proxy.html.ops.base import Checks, Op


class RemoveAttr(Op, tag="remove_attr", frozen=True):
    name: str

    start_tag_only = True

    def check(self, checks: Checks, path: str) -> None:
        checks.attr_name(self.name, f"{path}.name")

    def apply_to(self, tree: Tree, node: LexborNode) -> bool:
        return set_attributes(tree, node, {self.name.lower(): None})
