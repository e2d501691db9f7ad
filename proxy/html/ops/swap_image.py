"""``swap_image``: a new ``src`` (and ``srcset``, else none, so the old one cannot win; ``alt``
if given), checked like any URL attribute."""

from __future__ import annotations

from selectolax.lexbor import LexborNode

from proxy.html.edits import Tree, set_attributes
from proxy.html.ops.base import Checks, Op
from proxy.html.values import fill


class SwapImage(Op, tag="swap_image", frozen=True):
    src: str
    srcset: str | None = None
    alt: str | None = None

    start_tag_only = True

    def check(self, checks: Checks, path: str) -> None:
        checks.attr_value(self.src, f"{path}.src", url=True)
        if self.srcset is not None:
            checks.attr_value(self.srcset, f"{path}.srcset")
        if self.alt is not None:
            checks.attr_value(self.alt, f"{path}.alt")

    def apply_to(self, tree: Tree, node: LexborNode) -> bool:
        values = tree.values
        changes: dict[str, str | None] = {"src": fill(self.src, values, escape=False)}
        srcset = self.srcset
        changes["srcset"] = None if srcset is None else fill(srcset, values, escape=False)
        if self.alt is not None:
            changes["alt"] = fill(self.alt, values, escape=False)
        return set_attributes(tree, node, changes)
