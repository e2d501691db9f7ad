"""``reorder``: the container's children that ``order`` matches put in that order, in the
places they held (text between the children stays where it was)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

import msgspec
from selectolax.lexbor import LexborNode

from proxy.html.edits import Tree
from proxy.html.ops.base import Checks, Locator, Op, Selector
from proxy.html.sourcemap import select


class Reorder(Op, tag="reorder", frozen=True):
    """Reorder the container's children: those matching ``order`` first, in that order."""

    order: Annotated[tuple[Selector, ...], msgspec.Meta(min_length=1)]

    def check(self, checks: Checks, path: str) -> None:
        for i, child in enumerate(self.order):
            checks.selector(child, f"{path}.order[{i}]")

    def locate(self, at: Locator, nodes: Sequence[LexborNode]) -> None:
        """The container, and each child that may move with the place it moves to."""
        for node in nodes:
            at.locate(node, whole=True)
            for child in self._children(node):
                at.locate(child, whole=True)
                at.check_ends_before(child)

    def _children(self, container: LexborNode) -> list[LexborNode]:
        """The container's children that ``order`` selects, in the order of ``order``, each
        once (an invalid selector matches nothing)."""
        wanted: list[LexborNode] = []
        for selector in self.order:
            for child in select(container, selector):
                parent = child.parent
                inside = parent is not None and parent.mem_id == container.mem_id
                if inside and all(child.mem_id != w.mem_id for w in wanted):
                    wanted.append(child)
        return wanted

    def apply_to(self, tree: Tree, node: LexborNode) -> bool:
        children = list(node.iter())
        wanted = self._children(node)
        if len(wanted) < 2:
            return False
        ids = {w.mem_id for w in wanted}
        slots = [c for c in children if c.mem_id in ids]
        tree.restructure()
        tree.reordered(slots, wanted)
        markers = []
        for slot in slots:
            marker = node.parser.create_node("template")
            slot.insert_before(marker, move=True)
            markers.append(marker)
        for marker, child in zip(markers, wanted, strict=True):
            marker.insert_before(child, move=True)
            marker.decompose()
        return True
