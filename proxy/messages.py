"""Vernier's own words for input that a parser or validator refused.

The collector's 400 reasons, the decision and admin APIs' errors and config/rules load errors are
part of Vernier's interface: a tracker developer or an operator reads them, and tests assert them.
They must not change when a library words its exceptions differently (msgspec 0.23 rewrote its
UTF-8 message, for one). So the library's exception is only *classified* here — by its type and a
few known shapes of its text — and the answer is always written by Vernier; an error of a shape
not recognised gets a generic Vernier reason, never the library's text.

What is kept from the library is data about the *input*: the JSON path of the offending value
(``$.events[0].depth``), a byte offset, a bound or field name written in the input's schema.
"""

from __future__ import annotations

import re

import msgspec

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

_LENGTH_UNITS = {"str": "characters", "array": "items", "object": "keys", "bytes": "bytes"}


def invalid_value(err: msgspec.ValidationError, *, field_word: str = "field") -> tuple[str, str]:
    """(JSON path, what is wrong) for a value that does not fit its type, in Vernier's words.

    ``field_word`` is what a mapping key is called where the answer is read ("key" in config
    files, "field" in JSON bodies). An unknown field's path names the field itself; a missing
    one's names the object that lacks it.
    """
    message = str(err)
    found = _PATH.search(message)
    path = found.group(1) if found else "$"
    text = message[: found.start()] if found else message
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
        limit = "at most" if op == "<=" else "at least"
        return path, f"must have {limit} {bound} {_LENGTH_UNITS.get(kind, 'items')}"
    if match := _BOUND.match(text):
        _, op, bound = match.groups()
        return path, f"must be {op} {bound}"
    if match := _PATTERN.match(text):  # the pattern is Vernier's own schema
        return path, f"does not match the pattern {match.group(1)!r}"
    if match := _CHOICE.match(text):  # the value is the sender's input
        return path, f"{match.group(1)} is not one of the allowed values"
    if _RANGE.match(text):
        return path, "number out of range"
    return path, "invalid value"


def malformed_json(err: msgspec.DecodeError | UnicodeDecodeError | RecursionError) -> str:
    """What is wrong with bytes that are not JSON, in Vernier's words (no path: there is none)."""
    if isinstance(err, UnicodeDecodeError) or "UTF-8" in str(err):
        return "invalid UTF-8"
    if isinstance(err, RecursionError):
        return "nested too deeply"
    message = str(err)
    if "truncated" in message:
        return "truncated"
    if "out of range" in message:
        return "number out of range"
    if "depth" in message or "recursion" in message.lower():
        return "nested too deeply"
    if found := _BYTE.search(message):
        return f"malformed at byte {found.group(1)}"
    return "malformed"


def _article(noun: str) -> str:
    if noun == "null":
        return noun
    return f"an {noun}" if noun[:1] in "aeiou" else f"a {noun}"
