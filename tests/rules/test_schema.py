"""The rules file's types and its JSON Schema."""

from __future__ import annotations

import msgspec
import pytest

from proxy.html.ops.registry import OPERATION_TAGS, Hide, Move, SetText, SwapImage
from proxy.rules.jsonschema import rules_json_schema
from proxy.rules.schema import Compound, RulesFile


def convert(data: object) -> RulesFile:
    return msgspec.convert(data, RulesFile, strict=True)


def test_operations_are_the_spec_table() -> None:
    spec_table = {
        "set_text", "set_html", "set_attr", "remove_attr", "add_class", "remove_class",
        "set_style", "hide", "remove", "insert_before", "insert_after", "prepend", "append",
        "replace", "move", "reorder", "swap_image",
    }  # fmt: skip
    assert spec_table == OPERATION_TAGS


def test_a_full_file_converts_to_frozen_structs() -> None:
    parsed = convert(
        {
            "rules": [
                {
                    "id": "r-1",
                    "when": {"all": ["a", {"not": "b"}]},
                    "then": [{"op": "move", "selector": "#a", "into": "#b"}],
                }
            ],
            "slots": [
                {
                    "id": "hero",
                    "selector": "#hero",
                    "control": "a",
                    "variants": {"a": [], "b": [{"op": "hide", "selector": "p"}]},
                    "pin": [{"when": "hour > 18", "variant": "b"}],
                }
            ],
        }
    )
    rule = parsed.rules[0]
    assert rule.priority == 0 and rule.where is None
    assert rule.when == Compound(all=("a", Compound(not_="b")))
    assert rule.then == (Move(selector="#a", into="#b"),)
    assert parsed.slots[0].variants["b"] == (Hide(selector="p"),)
    with pytest.raises(AttributeError):
        rule.id = "x"  # type: ignore[misc]


@pytest.mark.parametrize(
    "op",
    [
        {"op": "set_text", "selector": "p"},  # value missing
        {"op": "hide", "selector": "p", "value": "x"},  # no such field on hide
        {"op": "swap_image", "selector": "img", "src": "/a.svg", "title": "x"},
        {"op": "reorder", "selector": "ul", "order": []},
        {"op": "set_text", "selector": "", "value": "x"},
    ],
)
def test_operations_have_exactly_their_fields(op: dict[str, object]) -> None:
    with pytest.raises(msgspec.ValidationError):
        convert({"rules": [{"id": "r", "then": [op]}]})


def test_optional_operation_fields() -> None:
    parsed = convert(
        {"rules": [{"id": "r", "then": [{"op": "swap_image", "selector": "img", "src": "/a"}]}]}
    )
    assert parsed.rules[0].then == (SwapImage(selector="img", src="/a"),)
    assert SetText(selector="p", value="v").value == "v"


def test_json_schema_describes_rules_and_operations() -> None:
    schema = rules_json_schema()
    assert schema["$schema"].endswith("2020-12/schema")
    defs = schema["$defs"]
    assert defs["RulesFile"]["additionalProperties"] is False
    assert set(defs["SetAttr"]["required"]) == {"op", "selector", "name", "value"}
    assert defs["SetAttr"]["properties"]["op"] == {"enum": ["set_attr"]}
    assert defs["Compound"]["properties"].keys() == {"all", "any", "not"}
    assert msgspec.json.encode(schema).startswith(b"{")  # serialisable for `vernier schema`
