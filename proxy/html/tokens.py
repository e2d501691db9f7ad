"""The HTML5 tokenizer, one token at a time, over raw bytes: what :mod:`proxy.html.scan` steps on.

Each helper reads exactly what a browser's tokenizer reads from a given offset: a tag with quoted
attribute values that may hold ``>``, a comment (with its abrupt ``<!-->`` and ``--!>`` forms), a
doctype or bogus comment, the contents of a script (escaped and double-escaped states) or of a
RAWTEXT/RCDATA element. Offsets are into the caller's buffer; nothing here slices a copy of it.

Speed: the contents of scripts and styles are most of a real head, so they are skipped with
``bytes.find(b"<")`` (memchr) and a check at each ``<``, falling back to one regex search when the
``<`` are dense.
"""

from __future__ import annotations

import html
import re
from html.entities import html5 as html5_entities

__all__ = [
    "CLOSES_HEAD",
    "COMMENT",
    "DOCTYPE",
    "END",
    "HEAD_ALLOWED",
    "NOTHING",
    "OPEN_COMMENT",
    "OPEN_DOCTYPE",
    "OPEN_TAG",
    "START",
    "TAG_AT",
    "TEXT",
    "TEXT_ELEMENTS",
    "TRACKER_PATH",
    "UNTRACKABLE",
    "attributes",
    "decode_attribute_value",
    "nocase",
    "skip_element",
    "tag_rest",
    "tags_of",
    "token_at",
]

TRACKER_PATH = b"/__vernier/t.js"
"""A ``<script>`` whose src contains this is our tracker: such a page is not injected again."""


def nocase(word: bytes) -> bytes:
    """Pattern for the ASCII ``word`` in any case, one class per letter: unlike ``(?i:...)``, a
    branch that starts with a class is skipped in C when the next byte does not fit."""
    return b"".join(
        b"[%c%c]" % (c, c ^ 0x20) if 0x61 <= c <= 0x7A else re.escape(bytes((c,)))
        for c in word.lower()
    )


def tag_rest() -> bytes:
    """Pattern for a tag after its name, up to ``>``, as the tokenizer reads it: an ``=`` after a
    name must be followed by a complete value, and quotes only open a value right after ``=``."""
    value = rb"""(?:"[^"]*+"|'[^']*+'|[^\t\n\f\r >"'][^\t\n\f\r >]*+|(?=>))"""
    name = rb"[^\t\n\f\r />][^\t\n\f\r />=]*+"
    ws_eq = rb"[\t\n\f\r ]*+="
    return rb"(?:[\t\n\f\r /]++|%s(?:%s[\t\n\f\r ]*+%s|(?!%s)))*+>" % (name, ws_eq, value, ws_eq)


TAG_AT = re.compile(rb"<(/?)([A-Za-z][^\t\n\f\r />]*+)" + tag_rest())
_TAG_NAME = re.compile(rb"</?[A-Za-z][^\t\n\f\r />]*+")
_ATTRIBUTE = re.compile(
    rb"([^\t\n\f\r />][^\t\n\f\r />=]*+)(?:[\t\n\f\r ]*+=[\t\n\f\r ]*+"
    rb"""(?:"([^"]*+)"|'([^']*+)'|([^\t\n\f\r >"'][^\t\n\f\r >]*+))?)?"""
)
_COMMENT_CLOSE = re.compile(rb"--!?>")
_SCRIPT_DATA = re.compile(rb"<(?:/%s[\t\n\f\r />]|!--)" % nocase(b"script"))
_SCRIPT_TAG = re.compile(rb"<(/?)%s[\t\n\f\r />]" % nocase(b"script"))
TEXT_ELEMENTS = {
    name: re.compile(rb"</%s[\t\n\f\r />]" % nocase(name))
    for name in b"style noframes noscript title textarea xmp iframe noembed".split()
}
"""RAWTEXT/RCDATA elements: the pattern of the end tag that closes each."""

HEAD_ALLOWED = frozenset(
    b"html head base basefont bgsound link meta noframes script style template title noscript"
    .split()
)  # fmt: skip
CLOSES_HEAD = frozenset((b"head", b"body", b"html", b"br"))
UNTRACKABLE = frozenset((b"svg", b"math", b"select", b"plaintext", b"template"))
"""Start tags after which this light tokenizer cannot tell where text ends: foreign content (CDATA,
no RAWTEXT), ``<select>`` (ignores some RAWTEXT starts), ``<plaintext>``, nested ``<template>``."""

# Token kinds returned by token_at ("open": cut off by the end of the document).
START, END, COMMENT, DOCTYPE, NOTHING, TEXT = range(6)
OPEN_TAG, OPEN_COMMENT, OPEN_DOCTYPE = range(6, 9)

_DENSE = 8  # "<" that are not the end, checked one by one before one regex search takes over


def token_at(buf: bytes, i: int) -> tuple[int, bytes, int]:
    """The token that starts at ``buf[i] == b"<"``: (kind, lowercased tag name, end offset)."""
    tag = TAG_AT.match(buf, i)
    if tag is not None:
        return (END if tag.group(1) else START), tag.group(2).lower(), tag.end()
    following = buf[i + 1 : i + 2]
    if following == b"!":
        if buf.startswith(b"<!--", i):
            if buf.startswith(b">", i + 4) or buf.startswith(b"->", i + 4):
                return COMMENT, b"", buf.index(b">", i + 4) + 1
            close = _COMMENT_CLOSE.search(buf, i + 4)
            return (COMMENT, b"", close.end()) if close else (OPEN_COMMENT, b"", -1)
        end = buf.find(b">", i + 2) + 1
        if buf[i + 2 : i + 9].lower() == b"doctype":
            return (DOCTYPE, b"", end) if end else (OPEN_DOCTYPE, b"", -1)
        return (COMMENT, b"", end) if end else (OPEN_COMMENT, b"", -1)
    if following == b"/":
        after = buf[i + 2 : i + 3]
        if after == b">":
            return NOTHING, b"", i + 3
        if not after:
            return TEXT, b"", i + 1
        if after.isalpha():
            return OPEN_TAG, b"", -1
    elif following.isalpha():
        return OPEN_TAG, b"", -1
    elif following != b"?":
        return TEXT, b"", i + 1
    end = buf.find(b">", i + 2) + 1  # bogus comment: "<?", "</" + non-letter
    return (COMMENT, b"", end) if end else (OPEN_COMMENT, b"", -1)


def _find_at_lt(buf: bytes, pattern: re.Pattern[bytes], pos: int) -> int:
    """Offset of the first match of ``pattern`` (which starts with "<") at or after ``pos``."""
    for _ in range(_DENSE):
        i = buf.find(b"<", pos)
        if i < 0 or pattern.match(buf, i) is not None:
            return i
        pos = i + 1
    m = pattern.search(buf, pos)
    return -1 if m is None else m.start()


def _script_end(buf: bytes, pos: int) -> int:
    """Offset of the ``</script`` that closes script data starting at ``pos``, or -1 (EOF)."""
    escaped = double = False  # after "<!--"; after "<!--" then "<script"
    leave = -2  # the next "-->" at or after pos (-1: none), found once per stretch: no rescans
    while True:
        if not escaped:
            i = _find_at_lt(buf, _SCRIPT_DATA, pos)
            if i < 0 or buf[i + 1] == 0x2F:
                return i
            escaped, pos = True, i + 2  # the "--" of "<!--" may already start "-->"
            continue
        if leave != -1 and leave < pos:
            leave = buf.find(b"-->", pos)
        m = _SCRIPT_TAG.search(buf, pos, len(buf) if leave < 0 else leave)
        if m is None:
            if leave < 0:
                return -1
            escaped = double = False
            pos = leave + 3
        elif m.group(1) and not double:
            return m.start()
        else:  # "<script" enters the double-escaped state, "</script" leaves it
            double, pos = not m.group(1), m.end()


def skip_element(buf: bytes, name: bytes, pos: int) -> int:
    """Offset after the end tag of the script/RAWTEXT/RCDATA element whose content is at ``pos``."""
    if name == b"script":
        close = _script_end(buf, pos)
    else:
        close = _find_at_lt(buf, TEXT_ELEMENTS[name], pos)
    end_tag = None if close < 0 else TAG_AT.match(buf, close)
    return -1 if end_tag is None else end_tag.end()


def tags_of(buf: bytes) -> list[tuple[int, bytes]] | None:
    """The start and end tags of ``buf``, as (kind, lowercased name) in order; None when a
    token is cut off by the end (an open comment, tag, script...)."""
    found: list[tuple[int, bytes]] = []
    pos = 0
    while (i := buf.find(b"<", pos)) >= 0:
        kind, name, end = token_at(buf, i)
        if kind in (START, END):
            found.append((kind, name))
            if kind == START and (name in TEXT_ELEMENTS or name == b"script"):
                end = skip_element(buf, name, end)
        if end < 0:
            return None
        pos = end
    return found


def attributes(buf: bytes, start: int, end: int) -> dict[bytes, tuple[int, int, bytes]]:
    """A start tag's attributes: lowercased name -> (value start, value end, quote); first wins."""
    name = _TAG_NAME.match(buf, start)
    found: dict[bytes, tuple[int, int, bytes]] = {}
    for m in _ATTRIBUTE.finditer(buf, start + 1 if name is None else name.end(), end - 1):
        key = m.group(1).lower()
        if key in found:
            continue
        for group, quote in ((2, b'"'), (3, b"'"), (4, b"")):
            if m.start(group) >= 0:
                found[key] = (m.start(group), m.end(group), quote)
                break
        else:
            found[key] = (m.end(), m.end(), b"")
    return found


_CHARACTER_REFERENCE = re.compile(r"&(#[0-9]+;?|#[xX][0-9a-fA-F]+;?|[A-Za-z][A-Za-z0-9]{0,31};?)")


def _resolve_reference(m: re.Match[str]) -> str:
    ref = m.group(1)
    if ref[0] == "#":
        return html.unescape(m.group())
    for length in range(len(ref), 1, -1):
        name = ref[:length]
        if name in html5_entities:
            if name[-1] != ";":  # legacy reference: kept literally before "=" or alphanumerics
                following = ref[length : length + 1] or m.string[m.end() : m.end() + 1]
                if following == "=" or (following.isascii() and following.isalnum()):
                    return m.group()
            return html5_entities[name] + ref[length:]
    return m.group()


def decode_attribute_value(raw: bytes, codec: str = "utf-8") -> str:
    """An attribute value as the tokenizer reads it: decoded, character references resolved."""
    text = raw.decode(codec, "replace")
    return _CHARACTER_REFERENCE.sub(_resolve_reference, text) if "&" in text else text
