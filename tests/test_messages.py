"""Vernier words every refusal itself; a library's new wording can only make it more generic."""

from __future__ import annotations

import enum
from typing import Annotated, Any, Literal

import msgspec
import pytest

from proxy.messages import allowed_values, duplicate_key, field_error, invalid_value, malformed_json


class Inner(msgspec.Struct, forbid_unknown_fields=True):
    depth: Annotated[float, msgspec.Meta(ge=0.0, le=1.0)]
    name: Annotated[str, msgspec.Meta(max_length=3)] = "a"


class Outer(msgspec.Struct, forbid_unknown_fields=True):
    v: Literal[1]
    id: Annotated[str, msgspec.Meta(pattern="^[a-z]+$")] = "a"
    items: Annotated[list[Inner], msgspec.Meta(min_length=1, max_length=2)] = []
    when: str | dict[str, Any] | None = None
    count: int = 0


def refusal(data: bytes) -> tuple[str, str]:
    with pytest.raises(msgspec.ValidationError) as caught:
        msgspec.json.decode(data, type=Outer)
    return invalid_value(caught.value)


@pytest.mark.parametrize(
    ("body", "path", "what"),
    [
        (b'{"v": "1"}', "$.v", "expected an integer, got a string"),
        (b'{"v": 2}', "$.v", "2 is not one of the allowed values"),
        (b"{}", "$", "missing required field 'v'"),
        (b'{"v": 1, "x": 0}', "$.x", "unknown field 'x'"),
        (b'{"v": 1, "id": "A"}', "$.id", "does not match the pattern '^[a-z]+$'"),
        (b'{"v": 1, "items": []}', "$.items", "must not be empty"),
        (b'{"v": 1, "items": [{"depth": 2}]}', "$.items[0].depth", "must be <= 1.0"),
        (
            b'{"v": 1, "items": [{"depth": 0, "name": "abcd"}]}',
            "$.items[0].name",
            "must have at most 3 characters",
        ),
        (b'{"v": 1, "when": 5}', "$.when", "expected a string, an object or null, got an integer"),
        (b'{"v": ' + b"9" * 400 + b"}", "$.v", "number out of range"),
        (b"[]", "$", "expected an object, got an array"),
    ],
)
def test_validation_refusals_in_vernier_words(body: bytes, path: str, what: str) -> None:
    assert refusal(body) == (path, what)


def test_the_word_for_a_mapping_key_is_the_callers() -> None:
    with pytest.raises(msgspec.ValidationError) as caught:
        msgspec.convert({"v": 1, "colour": "red"}, Outer)
    assert invalid_value(caught.value, field_word="key") == ("$.colour", "unknown key 'colour'")


def test_an_unknown_wording_gets_a_generic_reason_never_the_library_text() -> None:
    new_wording = msgspec.ValidationError("Value is frobnicated beyond repair - at `$.a[0]`")
    assert invalid_value(new_wording) == ("$.a[0]", "invalid value")
    assert invalid_value(msgspec.ValidationError("Totally new")) == ("$", "invalid value")
    assert malformed_json(msgspec.DecodeError("Something else went wrong")) == "malformed"


@pytest.mark.parametrize(
    ("body", "what"),
    [
        (b"{", "truncated"),
        (b'{"v": NaN}', "malformed at byte 6"),
        (b'{"v": "\\x"}', "malformed at byte 9"),
        (b'{"v": "\xff"}', "invalid UTF-8"),
    ],
)
def test_json_refusals_in_vernier_words(body: bytes, what: str) -> None:
    with pytest.raises(msgspec.DecodeError) as caught:
        msgspec.json.decode(body)
    assert malformed_json(caught.value) == what
    assert malformed_json(caught.value, body) == what


@pytest.mark.parametrize(
    "body",
    [
        b'{"name": "a\\ud800b"}',
        b'{"name": "\\udbff"}',
        b'{"name": "\\udc00"}',
        b'{"name": "\\ud800\\u0041"}',
        b'["\\ud800\\ud800"]',
    ],
)
def test_an_unpaired_surrogate_is_named(body: bytes) -> None:
    """msgspec reports a high surrogate escape with no low one after it as truncated input, the
    other unpaired ones as an invalid pair at some byte: each is called what it is."""
    with pytest.raises(msgspec.DecodeError) as caught:
        msgspec.json.decode(body)
    assert malformed_json(caught.value, body) == "unpaired surrogate escape"
    assert malformed_json(msgspec.DecodeError("Input data was truncated"), b'{"a": "\\ud') == (
        "truncated"
    )


def test_python_level_decode_failures() -> None:
    assert malformed_json(UnicodeDecodeError("utf-8", b"\xff", 0, 1, "bad")) == "invalid UTF-8"
    assert malformed_json(RecursionError()) == "nested too deeply"


class Colour(enum.Enum):
    RED = "red"
    BLUE = "blue"


class Calm(msgspec.Struct, tag="calm", forbid_unknown_fields=True):
    level: int = 0


class Bold(msgspec.Struct, tag="bold", forbid_unknown_fields=True):
    pass


class Checked(msgspec.Struct, forbid_unknown_fields=True):
    """A struct whose ``__post_init__`` refuses an item of a list, as BanditPolicy does."""

    tones: list[str] = []

    def __post_init__(self) -> None:
        for i, tone in enumerate(self.tones):
            if tone.isupper():
                raise field_error(f"tones[{i}]", f"{tone!r} must be lower case")
        if len(self.tones) > 2:
            raise field_error("", "at most two tones")


class Choices(msgspec.Struct, forbid_unknown_fields=True):
    level: Annotated[Literal["low", "high"], msgspec.Meta(description="how much")] = "low"
    colours: dict[str, list[Colour]] = {}
    mood: Calm | Bold | None = None
    checked: list[Checked] = []


@pytest.mark.parametrize(
    ("data", "path", "what"),
    [
        ({"level": "mid"}, "$.level", "'mid' is not one of the allowed values (high, low)"),
        (
            {"colours": {"a": ["red", "green"]}},
            "$.colours[...][1]",  # msgspec does not name the key; rules/decode.py resolves it
            "'green' is not one of the allowed values (red, blue)",
        ),
        (
            {"mood": {"type": "angry"}},
            "$.mood.type",
            "'angry' is not one of the allowed values (calm, bold)",
        ),
        ({"checked": [{"tones": ["a", "B"]}]}, "$.checked[0].tones[1]", "'B' must be lower case"),
        ({"checked": [{"tones": ["a", "b", "c"]}]}, "$.checked[0]", "at most two tones"),
    ],
)
def test_enumerations_list_their_values_and_struct_checks_name_their_key(
    data: dict[str, Any], path: str, what: str
) -> None:
    with pytest.raises(msgspec.ValidationError) as caught:
        msgspec.convert(data, Choices)
    assert invalid_value(caught.value, schema=Choices) == (path, what)


def test_allowed_values_of_what_is_no_enumeration_are_none() -> None:
    assert allowed_values(Choices, "$.checked[0].tones[0]") == ()
    assert allowed_values(Choices, "$.nothing.here") == ()
    assert allowed_values(Choices, "$.level") == ("high", "low")


@pytest.mark.parametrize(
    ("body", "repeated"),
    [
        (b'{"a": 1, "b": 2}', None),
        (b'{"a": 1, "a": 2}', "a"),
        (b'{"x": [{"k": 1}, {"k": 2, "k": 3}]}', "k"),  # nested, in one object only
        (b'{"\\u0061": 1, "a": 2}', "a"),  # the same key, escaped once
    ],
)
def test_duplicate_key_names_a_key_written_twice(body: bytes, repeated: str | None) -> None:
    assert duplicate_key(body) == repeated


def test_duplicate_key_refuses_what_is_no_json() -> None:
    with pytest.raises(ValueError):
        duplicate_key(b"{")
