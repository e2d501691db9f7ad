"""What every rewrite operation is: the contract each module of :mod:`proxy.html.ops` fills in.

An operation is one frozen msgspec struct. Its fields are the rules file's keys (the loader
decodes into it, the rewriter runs it: there is no second form to convert to); its class says
what it needs to be located in the original bytes; its methods say what the loader checks and
what it does to one element. The html core knows nothing of the rules loader: the checks reach
the loader through :class:`Checks`, the splice bookkeeping through :class:`Locator`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, NoReturn, Protocol

import msgspec
from selectolax.lexbor import LexborNode

from proxy.html.edits import Tree

__all__ = ["Checks", "Locator", "Op", "Selector"]

Selector = Annotated[str, msgspec.Meta(min_length=1, max_length=512)]


class Checks(Protocol):
    """The load-time checks an operation asks of the rules loader, which knows the file and line
    an error must name (``path`` is the key path, such as ``$.rules[0].then[1]``)."""

    def selector(self, selector: str, path: str) -> None:
        """Refuse a selector that does not compile."""
        ...

    def attr_name(self, name: str, path: str) -> None:
        """Refuse a malformed attribute name or an event handler (``on*``)."""
        ...

    def attr_value(self, value: str, path: str, *, url: bool = False) -> None:
        """Refuse CR, LF or NUL, and (``url``) a script URL."""
        ...

    def fail(self, message: str, path: str) -> NoReturn:
        """Refuse the operation with ``message``."""
        ...


class Locator(Protocol):
    """What an operation asks of the rewrite before it runs, while the tree still has the
    original elements (:meth:`proxy.html.rewrite_tree.RewriteTree.prepare`)."""

    def locate(self, node: LexborNode, *, whole: bool) -> None:
        """Find the element's start tag in the original bytes (``whole``: and its end)."""
        ...

    def check_ends_before(self, node: LexborNode) -> None:
        """Record whether bytes pasted at the element's start tag land just before it."""
        ...

    def select_first(self, selector: str) -> LexborNode | None: ...


class Op(msgspec.Struct, frozen=True, forbid_unknown_fields=True, tag_field="op"):
    """A rewrite operation: the elements ``selector`` matches, and what to do to each.

    A subclass's own docstring is its description in the rules JSON Schema (``vernier schema``).
    A subclass that does not define :meth:`apply_to` is refused when its class is created, so a
    half-written operation fails on import, not on the first page it matches.
    """

    selector: Selector

    start_tag_only: ClassVar[bool] = False
    """True when the operation changes nothing past the element's start tag (attributes, or
    markup put before it): the element's end need not be found, which is most of locating it."""

    pastes_at_start_tag: ClassVar[bool] = False
    """True when bytes take the place of the element's start tag (inserted before it, replacing
    it, or the element moved away): they must land in its parent, not in the element before."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if not callable(getattr(cls, "apply_to", None)):
            raise TypeError(f"operation {cls.__name__} does not define apply_to")

    def check(self, checks: Checks, path: str) -> None:
        """The load-time checks beyond the types and the selector (which the loader checks for
        every operation): the loader calls this once per operation in a rules file."""

    if TYPE_CHECKING:  # declared for the type checker; every subclass defines it, or is refused

        def apply_to(self, tree: Tree, node: LexborNode) -> bool:
            """Change ``node``, one element the selector matched; False when the operation
            refuses that element (the page is then as if it had not matched)."""
            ...

    def apply(self, tree: Tree, nodes: Sequence[LexborNode]) -> tuple[int, ...]:
        """Apply to each selected element; the identities of those it changed."""
        changed: list[int] = []
        for node in nodes:
            identity = tree.identity(node)
            if self.apply_to(tree, node):
                changed.append(identity)
        return tuple(changed)

    def locate(self, at: Locator, nodes: Sequence[LexborNode]) -> None:
        """Locate in the original bytes what the operation may change in ``nodes``."""
        whole = not self.start_tag_only
        for node in nodes:
            at.locate(node, whole=whole)
            if self.pastes_at_start_tag:
                at.check_ends_before(node)
