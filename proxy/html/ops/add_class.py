"""``add_class``: class names added after the element's own, each once."""

from __future__ import annotations

from selectolax.lexbor import LexborNode

from proxy.html.edits import Tree, classes, set_attributes
from proxy.html.ops.base import Checks, Op
from proxy.html.values import fill


class AddClass(Op, tag="add_class", frozen=True):
    """Add space-separated class names."""

    value: str

    start_tag_only = True

    def check(self, checks: Checks, path: str) -> None:
        checks.attr_value(self.value, f"{path}.value")

    def apply_to(self, tree: Tree, node: LexborNode) -> bool:
        have = classes(node)
        have += [c for c in fill(self.value, tree.values, escape=False).split() if c not in have]
        return set_attributes(tree, node, {"class": " ".join(have)})
