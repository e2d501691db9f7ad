"""``move``: the element moved before or after another element, or into it as its last child.

The rules file names the place by its key (``before``/``after``/``into``: exactly one, checked
at load); :attr:`Move.where` and :attr:`Move.target` read it back for the rewriter.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from selectolax.lexbor import LexborNode

from proxy.html.edits import Tree
from proxy.html.ops.base import Checks, Locator, Op, Selector

Where = Literal["before", "after", "into"]


class Move(Op, tag="move", frozen=True):
    """Move the element before or after another, or into it (exactly one of the three)."""

    before: Selector | None = None
    after: Selector | None = None
    into: Selector | None = None

    pastes_at_start_tag = True

    @property
    def where(self) -> Where:
        """Which of ``before``/``after``/``into`` is given (the first, if the loader did not
        check the operation)."""
        if self.before is not None:
            return "before"
        return "after" if self.after is not None else "into"

    @property
    def target(self) -> str:
        """The selector of the element the move goes to."""
        if self.before is not None:
            return self.before
        if self.after is not None:
            return self.after
        return self.into or ""

    def check(self, checks: Checks, path: str) -> None:
        given = [key for key in ("before", "after", "into") if getattr(self, key) is not None]
        if len(given) != 1:
            checks.fail("move needs exactly one of 'before', 'after', 'into'", path)
        checks.selector(self.target, f"{path}.{self.where}")

    def locate(self, at: Locator, nodes: Sequence[LexborNode]) -> None:
        super().locate(at, nodes)
        if nodes and (target := at.select_first(self.target)):
            at.locate(target, whole=self.where != "before")
            if self.where == "before":
                at.check_ends_before(target)

    def apply_to(self, tree: Tree, node: LexborNode) -> bool:
        where = self.where
        target = tree.select_first(self.target)
        if target is None or _is_inside(target, node):
            return False
        tree.restructure()
        tree.moved(node, target, where)
        if where == "before":
            target.insert_before(node, move=True)
        elif where == "after":
            target.insert_after(node, move=True)
        else:
            target.insert_child(node, move=True)
        return True


def _is_inside(node: LexborNode, ancestor: LexborNode) -> bool:
    current: LexborNode | None = node
    while current is not None:
        if current.mem_id == ancestor.mem_id:
            return True
        current = current.parent
    return False
