"""The registry of operations is closed (nothing decodes that it does not list) and complete
(every operation module is listed, and each defines its whole operation), and it agrees with
the spec's table of operations."""

from __future__ import annotations

import importlib
import pkgutil
import re
from pathlib import Path

import msgspec
import pytest

import proxy.html.ops
from proxy.html.ops import registry
from proxy.html.ops.base import Op
from proxy.html.ops.registry import OPERATION_TAGS, OPERATIONS, Move, Operation
from proxy.rules import schema

SPEC = Path(__file__).resolve().parents[3] / "docs" / "rules-spec.md"
_NOT_OPERATIONS = {"base", "registry"}


def spec_table() -> dict[str, set[str]]:
    """The spec's table of operations: each tag -> its fields (``?``: optional, ``a|b``: both)."""
    text = SPEC.read_text(encoding="utf-8")
    section = text.split("## Operations", 1)[1].split("\n## ", 1)[0]
    table: dict[str, set[str]] = {}
    rows = re.findall(r"^\| ([a-z_ /]+) \| ([^|]*(?:\\\|[^|]*)*) \|", section, re.M)
    for tags, fields in rows[1:]:  # under the header row
        names: set[str] = set()
        for field in fields.split(", "):
            names.update(name.rstrip("?") for name in field.split(":")[0].split("\\|"))
        for tag in tags.split(" / "):
            table[tag.strip()] = names
    return table


def operation_modules() -> list[str]:
    return sorted(
        info.name
        for info in pkgutil.iter_modules(proxy.html.ops.__path__)
        if info.name not in _NOT_OPERATIONS
    )


def all_subclasses(cls: type[Op]) -> set[type[Op]]:
    found = set(cls.__subclasses__())
    for sub in list(found):
        found |= all_subclasses(sub)
    return found


def test_the_registry_is_the_spec_table() -> None:
    table = spec_table()
    assert set(table) == OPERATION_TAGS == set(OPERATIONS)
    for tag, cls in OPERATIONS.items():
        assert set(cls.__struct_fields__) == table[tag], tag


def test_every_operation_module_is_registered_under_its_own_name() -> None:
    """One module per operation, named for its tag; each defines exactly its operation."""
    assert operation_modules() == sorted(OPERATIONS)
    for name in operation_modules():
        module = importlib.import_module(f"proxy.html.ops.{name}")
        defined = [
            value
            for value in vars(module).values()
            if isinstance(value, type)
            and issubclass(value, Op)
            and value.__module__ == module.__name__
        ]
        assert defined == [OPERATIONS[name]], name


def test_no_operation_exists_outside_the_registry() -> None:
    for name in operation_modules():
        importlib.import_module(f"proxy.html.ops.{name}")
    assert all_subclasses(Op) == set(OPERATIONS.values())


def test_the_registry_cannot_be_extended_at_run_time() -> None:
    with pytest.raises(TypeError):
        registry.OPERATIONS["bogus"] = Move  # type: ignore[index]


def test_the_rules_schema_decodes_through_the_registry() -> None:
    assert schema.Operation is Operation
    for tag, cls in OPERATIONS.items():
        fields: dict[str, object] = {
            name: "x" for name in cls.__struct_fields__ if name not in ("order", "before")
        }
        if tag == "reorder":
            fields["order"] = ["li"]
        if tag == "move":
            fields["before"] = "h1"
        op = msgspec.convert({"op": tag, **fields}, Operation, strict=True)
        assert type(op) is cls
        assert msgspec.to_builtins(op)["op"] == tag
    with pytest.raises(msgspec.ValidationError, match="Invalid value 'set_txt'"):
        msgspec.convert({"op": "set_txt", "selector": "p", "value": "x"}, Operation)


@pytest.mark.parametrize("cls", OPERATIONS.values(), ids=list(OPERATIONS))
def test_each_operation_defines_how_it_applies(cls: type[Op]) -> None:
    assert callable(getattr(cls, "apply_to", None))  # Op itself declares it for typing only
    assert isinstance(cls.start_tag_only, bool) and isinstance(cls.pastes_at_start_tag, bool)


def test_only_attribute_changes_and_insert_before_stay_in_the_start_tag() -> None:
    """What the rewriter need not find the end tag for (the cheaper locate)."""
    start_tag_only = {tag for tag, cls in OPERATIONS.items() if cls.start_tag_only}
    assert start_tag_only == {
        "set_attr", "remove_attr", "add_class", "remove_class", "set_style", "hide",
        "swap_image", "insert_before",
    }  # fmt: skip
    pastes = {tag for tag, cls in OPERATIONS.items() if cls.pastes_at_start_tag}
    assert pastes == {"insert_before", "replace", "remove", "move"}


@pytest.mark.parametrize(
    ("op", "where", "target"),
    [
        (Move("p", before="h1"), "before", "h1"),
        (Move("p", after="#a"), "after", "#a"),
        (Move("p", into="div"), "into", "div"),
    ],
)
def test_move_reads_its_place_from_the_key_given(op: Move, where: str, target: str) -> None:
    assert (op.where, op.target) == (where, target)
