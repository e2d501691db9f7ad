"""The closed registry of rewrite operations (``docs/rules-spec.md``, "Operations").

:data:`Operation` lists every operation once; the rules schema decodes the ``op`` key through
it (a tagged union) and :data:`OPERATIONS` is derived from it, so an operation that is not
listed here does not exist. Adding one: a module in this package (see :mod:`.base`), its line
in :data:`Operation`, its row in the spec's table, and its test.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import TypeAlias, get_args

from proxy.html.ops.add_class import AddClass
from proxy.html.ops.append import Append
from proxy.html.ops.base import Op
from proxy.html.ops.hide import Hide
from proxy.html.ops.insert_after import InsertAfter
from proxy.html.ops.insert_before import InsertBefore
from proxy.html.ops.move import Move
from proxy.html.ops.prepend import Prepend
from proxy.html.ops.remove import Remove
from proxy.html.ops.remove_attr import RemoveAttr
from proxy.html.ops.remove_class import RemoveClass
from proxy.html.ops.reorder import Reorder
from proxy.html.ops.replace import Replace
from proxy.html.ops.set_attr import SetAttr
from proxy.html.ops.set_html import SetHtml
from proxy.html.ops.set_style import SetStyle
from proxy.html.ops.set_text import SetText
from proxy.html.ops.swap_image import SwapImage

__all__ = [
    "OPERATIONS",
    "OPERATION_TAGS",
    "AddClass",
    "Append",
    "Hide",
    "InsertAfter",
    "InsertBefore",
    "Move",
    "Op",
    "Operation",
    "Prepend",
    "Remove",
    "RemoveAttr",
    "RemoveClass",
    "Reorder",
    "Replace",
    "SetAttr",
    "SetHtml",
    "SetStyle",
    "SetText",
    "SwapImage",
]

Operation: TypeAlias = (
    SetText | SetHtml | SetAttr | RemoveAttr | AddClass | RemoveClass | SetStyle | Hide | Remove
    | InsertBefore | InsertAfter | Prepend | Append | Replace | Move | Reorder | SwapImage
)  # fmt: skip

OPERATIONS: Mapping[str, type[Op]] = MappingProxyType(
    {str(cls.__struct_config__.tag): cls for cls in get_args(Operation)}
)
"""The spec's ``op`` tag -> the operation's struct."""

OPERATION_TAGS: frozenset[str] = frozenset(OPERATIONS)
