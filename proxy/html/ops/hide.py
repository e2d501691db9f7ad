"""``hide``: the element hidden by both ``hidden`` and ``display:none``, so a site stylesheet
that overrides one of them (``[hidden]{display:block}``) does not show it again."""

from __future__ import annotations

from selectolax.lexbor import LexborNode

from proxy.html.edits import Tree, set_attributes
from proxy.html.ops.base import Op
from proxy.html.values import merge_style


class Hide(Op, tag="hide", frozen=True):
    """Add ``hidden`` and merge ``display:none`` into ``style``."""

    start_tag_only = True

    def apply_to(self, tree: Tree, node: LexborNode) -> bool:
        style = merge_style(node.attributes.get("style"), "display:none")
        return set_attributes(tree, node, {"hidden": "", "style": style})
