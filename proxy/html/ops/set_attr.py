"""``set_attr``: one attribute set, refused at load and again at apply when it could run script
(a filled placeholder can make a URL a ``javascript:`` one)."""

from __future__ import annotations

from selectolax.lexbor import LexborNode

from proxy.html.edits import Tree, set_attributes
from proxy.html.ops.base import Checks, Op
from proxy.html.values import URL_ATTRIBUTES, fill


class SetAttr(Op, tag="set_attr", frozen=True):
    """Set an attribute (never ``on*``; URLs never ``javascript:``)."""

    name: str
    value: str

    start_tag_only = True

    def check(self, checks: Checks, path: str) -> None:
        checks.attr_name(self.name, f"{path}.name")
        url = self.name.lower() in URL_ATTRIBUTES
        checks.attr_value(self.value, f"{path}.value", url=url)

    def apply_to(self, tree: Tree, node: LexborNode) -> bool:
        value = fill(self.value, tree.values, escape=False)
        return set_attributes(tree, node, {self.name.lower(): value})
