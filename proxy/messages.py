"""Vernier's own words for input that a parser or validator refused.

The collector's 400 reasons, the decision and admin APIs' errors and config/rules load errors are
part of Vernier's interface: a tracker developer or an operator reads them, and tests assert them.
They must not change when a library words its exceptions differently (msgspec 0.23 rewrote its
UTF-8 message, for one). So the library's exception is only *classified* here — by its type and a
few known shapes of its text — and the answer is always written by Vernier; an error of a shape
not recognised gets a generic Vernier reason, never the library's text.

What is kept from the library is data about the *input*: the JSON path of the offending value
(``$.events[0].depth``), a byte offset, a bound or field name written in the input's schema.
A value outside an enumeration (a ``Literal``, an ``Enum``, the tag of a tagged union) is answered
with the allowed values, read from the schema the caller names. A check a ``Struct`` makes in
its ``__post_init__`` raises :func:`field_error`, which carries Vernier's message and the key
inside the struct it is about, so the answer names that key
(``$.slots[0].bandit.interactions[0]``) rather than the whole struct.
"""

from __future__ import annotations

import json
import re
from typing import Any

import msgspec
import msgspec.inspect as schema_info
import orjson

# msgspec's type names → the JSON words a sender of JSON understands
_JSON_TYPES = {
    "int": "integer",
    "float": "number",
    "str": "string",
    "bool": "boolean",
    "object": "object",
    "array": "array",
    "null": "null",
}

_PATH = re.compile(r" - at `(?:key` in `)?(\$[^`]*)`$")
_TYPE = re.compile(r"^Expected `([\w |]+)`, got `(\w+)`$")
_MISSING = re.compile(r"^Object missing required field `([^`]*)`$")
_UNKNOWN = re.compile(r"^Object contains unknown field `([^`]*)`$")
_LENGTH = re.compile(r"^Expected `(\w+)` of length (<=|>=) (\d+)$")
_BOUND = re.compile(r"^Expected `(\w+)` (<=|>=|<|>) (-?[\d.e+]+)$")
_PATTERN = re.compile(r"^Expected `str` matching regex '(.*)'$")
_CHOICE = re.compile(r"^Invalid (?:enum )?value (.+)$")
_RANGE = re.compile(r"^(Number|Integer value) out of range")
_BYTE = re.compile(r"\(byte (\d+)\)")
# what field_error writes: a marker no library message starts with, the key, Vernier's message
_OWN_MARK = "\x1fvernier\x1f"
_OWN = re.compile(r"^\x1fvernier\x1f([^\x1f]*)\x1f(.*)$", re.S)
_STEP = re.compile(r"\.([^.\[]+)|\[(\d+|\.\.\.)\]")

_LENGTH_UNITS = {"str": "characters", "array": "items", "object": "keys", "bytes": "bytes"}


def field_error(key: str, message: str) -> ValueError:
    """What a ``Struct``'s ``__post_init__`` raises to refuse the value at ``key`` inside it
    (``interactions[0]``, ``""`` for the struct itself) with ``message``, Vernier's own words;
    msgspec turns it into a ``ValidationError`` at the struct, and :func:`invalid_value` reads
    both back."""
    return ValueError(f"{_OWN_MARK}{key}\x1f{message}")


def invalid_value(
    err: msgspec.ValidationError, *, field_word: str = "field", schema: Any = None
) -> tuple[str, str]:
    """(JSON path, what is wrong) for a value that does not fit its type, in Vernier's words.

    ``field_word`` is what a mapping key is called where the answer is read ("key" in config
    files, "field" in JSON bodies). An unknown field's path names the field itself; a missing
    one's names the object that lacks it. ``schema``, the type the input was decoded as, lets a
    value outside an enumeration be answered with the allowed values.
    """
    message = str(err)
    found = _PATH.search(message)
    path = found.group(1) if found else "$"
    text = message[: found.start()] if found else message
    if match := _OWN.match(text):
        key = match.group(1)
        return path + (f".{key}" if key and not key.startswith("[") else key), match.group(2)
    if match := _MISSING.match(text):
        return path, f"missing required {field_word} '{match.group(1)}'"
    if match := _UNKNOWN.match(text):
        return f"{path}.{match.group(1)}", f"unknown {field_word} '{match.group(1)}'"
    if match := _TYPE.match(text):
        expected = [_article(_JSON_TYPES.get(name, name)) for name in match.group(1).split(" | ")]
        got = _article(_JSON_TYPES.get(match.group(2), match.group(2)))
        either = " or ".join(
            [", ".join(expected[:-1]), expected[-1]] if len(expected) > 1 else expected
        )
        return path, f"expected {either}, got {got}"
    if match := _LENGTH.match(text):
        kind, op, bound = match.groups()
        if (op, bound) == (">=", "1"):
            return path, "must not be empty"
        limit = "at most" if op == "<=" else "at least"
        return path, f"must have {limit} {bound} {_LENGTH_UNITS.get(kind, 'items')}"
    if match := _BOUND.match(text):
        _, op, bound = match.groups()
        return path, f"must be {op} {bound}"
    if match := _PATTERN.match(text):  # the pattern is Vernier's own schema
        return path, f"does not match the pattern {match.group(1)!r}"
    if match := _CHOICE.match(text):  # the value is the sender's input
        allowed = allowed_values(schema, path) if schema is not None else ()
        listed = f" ({', '.join(allowed)})" if allowed else ""
        return path, f"{match.group(1)} is not one of the allowed values{listed}"
    if _RANGE.match(text):
        return path, "number out of range"
    return path, "invalid value"


def malformed_json(
    err: msgspec.DecodeError | UnicodeDecodeError | RecursionError, body: bytes | None = None
) -> str:
    """What is wrong with bytes that are not JSON, in Vernier's words (no path: there is none);
    ``body``, the bytes, tells a cut-off document from msgspec's other "truncated"."""
    if isinstance(err, UnicodeDecodeError) or "UTF-8" in str(err):
        return "invalid UTF-8"
    if isinstance(err, RecursionError):
        return "nested too deeply"
    message = str(err)
    if "truncated" in message:
        # msgspec says so too of a \ud800-\udbff escape with no low surrogate after it
        return "unpaired surrogate escape" if body and _unpaired_surrogate(body) else "truncated"
    if "surrogate" in message:  # a low one alone, or a high one before anything but a low one
        return "unpaired surrogate escape"
    if "out of range" in message:
        return "number out of range"
    if "depth" in message or "recursion" in message.lower():
        return "nested too deeply"
    if found := _BYTE.search(message):
        return f"malformed at byte {found.group(1)}"
    return "malformed"


def _unpaired_surrogate(body: bytes) -> bool:
    try:
        orjson.loads(body)
    except orjson.JSONDecodeError as err:
        return "surrogate" in str(err)
    return False


def _article(noun: str) -> str:
    if noun == "null":
        return noun
    return f"an {noun}" if noun[:1] in "aeiou" else f"a {noun}"


def allowed_values(schema: Any, path: str) -> tuple[str, ...]:
    """The values the enumeration at ``path`` (``$.slots[0].policy``) of ``schema`` allows, in
    the order the schema declares them; ``()`` if ``path`` is no enumeration of it. The tag of a
    tagged union (``$.explorer.type``) allows the tags of its members."""
    found: list[Any] = [schema_info.type_info(schema)]
    for name, index in _STEP.findall(path.removeprefix("$")):
        found = [inner for outer in found for inner in _inside(outer, name, index)]
    values: list[str] = []
    for info in (member for outer in found for member in _members(outer)):
        if isinstance(info, schema_info.LiteralType):
            values += [str(v) for v in info.values]
        elif isinstance(info, schema_info.EnumType):
            values += [str(e.value) for e in info.cls]
    return tuple(dict.fromkeys(values))


def _members(info: Any) -> tuple[Any, ...]:
    """``info`` without its metadata, as the types of a union (one type: a tuple of one)."""
    while isinstance(info, schema_info.Metadata):
        info = info.type
    if isinstance(info, schema_info.UnionType):
        return tuple(m for t in info.types for m in _members(t))
    return (info,)


def _inside(info: Any, name: str, index: str) -> list[Any]:
    """The types a step of a path (a key ``name``, or an ``index``) leads to from ``info``."""
    out: list[Any] = []
    members = _members(info)
    for member in members:
        if name and isinstance(member, schema_info.StructType):
            if member.tag_field == name:  # the tag: one of the union's members' tags
                tags = [m.tag for m in members if isinstance(m, schema_info.StructType) and m.tag]
                out.append(schema_info.LiteralType(values=tuple(tags)))
            out += [f.type for f in member.fields if f.encode_name == name]
        elif isinstance(member, schema_info.DictType):
            out.append(member.value_type)
        elif index and isinstance(member, schema_info.TupleType):
            types = member.item_types
            out += list(types) if index == "..." else list(types[int(index) : int(index) + 1])
        elif index and hasattr(member, "item_type"):  # list, tuple, set, frozenset
            out.append(member.item_type)
    return out


def duplicate_key(body: bytes) -> str | None:
    """The first key an object in the JSON ``body`` writes twice (``{"a": 1, "a": 2}``: ``a``),
    or None. msgspec keeps the last of two (as most parsers do, but not all: two parsers could
    read such a body two ways), so a body it accepted is checked here. Raises ``ValueError``
    (``UnicodeDecodeError`` included) or ``RecursionError`` for a body that is no JSON."""
    try:
        json.loads(body.decode("utf-8"), object_pairs_hook=_unique_pairs)
    except _DuplicateKey as exc:
        return exc.key
    return None


class _DuplicateKey(Exception):
    def __init__(self, key: str) -> None:
        self.key = key


def _unique_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _DuplicateKey(key)
            seen.add(key)
    return result
