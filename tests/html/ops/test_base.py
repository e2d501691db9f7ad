"""The operation contract: a subclass that leaves out how it applies is refused when its class is
created (on import), never when a page first matches it."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest
from selectolax.lexbor import LexborNode

from proxy.html.edits import Tree
from proxy.html.ops.base import Op


@pytest.fixture(autouse=True)
def forget_test_operations() -> Iterator[None]:
    """The classes made here are gone after each test, so the registry's completeness test
    (every subclass of ``Op`` is registered) never sees them."""
    yield
    gc.collect()
    assert all(cls.__module__ != __name__ for cls in Op.__subclasses__())


def test_an_operation_without_apply_to_fails_at_class_definition() -> None:
    with pytest.raises(TypeError, match="operation Unfinished does not define apply_to"):

        class Unfinished(Op, tag="unfinished", frozen=True):
            text: str


def test_an_operation_with_apply_to_is_defined() -> None:
    class Finished(Op, tag="finished", frozen=True):
        def apply_to(self, tree: Tree, node: LexborNode) -> bool:
            return False

    assert Finished(selector="p").apply_to is not None


def test_a_subclass_of_a_finished_operation_inherits_its_apply_to() -> None:
    class Finished(Op, tag="finished2", frozen=True):
        def apply_to(self, tree: Tree, node: LexborNode) -> bool:
            return True

    class Refined(Finished, tag="refined", frozen=True):
        pass

    assert Refined.apply_to is Finished.apply_to
