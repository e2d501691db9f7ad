"""The ``<meta>`` charset declarations a browser honours: the 1024-byte prescan and the head's rules.

:func:`prescan_meta_charset` is the WHATWG "prescan a byte stream to determine its encoding";
:func:`charset_from_meta_attributes` is what the tree builder takes from one ``<meta>`` in the head
("change the encoding"). Both return WHATWG encoding names (:mod:`proxy.html.encodings`).

Speed: one compiled pattern (``_SKIP``) steps over text, comments and tags other than ``<meta>`` in
C, exactly as the prescan's own loop would; the loop handles what is left.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from proxy.html.encodings import whatwg_encoding

__all__ = [
    "PRESCAN_BYTES",
    "MetaCharset",
    "charset_from_meta_attributes",
    "prescan_meta_charset",
]

PRESCAN_BYTES = 1024
"""Browsers look for a ``<meta>`` charset declaration only this far into the document."""


@dataclass(frozen=True, slots=True)
class MetaCharset:
    """A ``<meta>`` that the prescan took the encoding from: its WHATWG name and byte span."""

    encoding: str
    tag_start: int
    tag_end: int


# WHATWG "get an attribute" in one match: None or an empty name when at ">" (or cut off).
_NAMED_ATTRIBUTE = (
    rb"([^\t\n\f\r />][^\t\n\f\r /=>]*+)(?:[\t\n\f\r ]*+=[\t\n\f\r ]*+"
    rb"""(?:"([^"]*+)"|'([^']*+)'|(?=>)|([^\t\n\f\r >"'][^\t\n\f\r >]*+)(?=[\t\n\f\r >]))"""
    rb"|(?![\t\n\f\r ]*+=))"
)
_PRESCAN_ATTRIBUTE = re.compile(rb"[\t\n\f\r /]*+(?:(?=>)|%s)" % _NAMED_ATTRIBUTE)
_PRESCAN_WS = re.compile(rb"[\t\n\f\r ]*+")
_PRESCAN_TAG_NAME = re.compile(rb"</?[A-Za-z][^\t\n\f\r >]*+")
_META_START = re.compile(rb"<meta[\t\n\f\r /]", re.IGNORECASE)
_CHARSET_IN_CONTENT = re.compile(rb"charset", re.IGNORECASE)
# What the loop in prescan_meta_charset steps over without a decision (same order, same ends):
# text, closed comments, complete tags but <meta, "<!", "</", "<?" up to ">", a lone "<".
_SKIP = re.compile(
    rb"(?:[^<]++|<(?:!(?=--)(?:[^-]++|-(?!->))*+-->"
    rb"|(?![mM][eE][tT][aA][\t\n\f\r /])/?[A-Za-z][^\t\n\f\r >]*+"
    rb"(?:[\t\n\f\r /]*+" + re.sub(rb"\((?!\?)", b"(?:", _NAMED_ATTRIBUTE) + rb")*+[\t\n\f\r /]*+>"
    rb"|(?:!(?!--)|/(?![A-Za-z])|\?)[^>]*+>|(?![A-Za-z!/?])))*+"
)


def _skip(pattern: re.Pattern[bytes], buf: bytes, pos: int) -> int:
    """End of the (always matching, possibly empty) run of ``pattern`` at ``pos``."""
    m = pattern.match(buf, pos)
    return pos if m is None else m.end()


class _Eof(Exception):
    """The prescan ran out of bytes inside a tag: it finds nothing (WHATWG prescan)."""


def _get_attribute(buf: bytes, pos: int) -> tuple[bytes, bytes, int]:
    """WHATWG "get an attribute": (name, value, next position), lowercased; name b"" at ``>``."""
    m = _PRESCAN_ATTRIBUTE.match(buf, pos)
    if m is None or m.end() >= len(buf):
        raise _Eof
    name, double, single, unquoted = m.groups()
    return (name or b"").lower(), (double or single or unquoted or b"").lower(), m.end()


def _charset_from_meta_content(value: bytes) -> str | None:
    """WHATWG "extract a character encoding from a meta element" (returns a WHATWG name)."""
    pos = 0
    while (m := _CHARSET_IN_CONTENT.search(value, pos)) is not None:
        pos = _skip(_PRESCAN_WS, value, m.end())
        if value[pos : pos + 1] != b"=":
            continue
        pos = _skip(_PRESCAN_WS, value, pos + 1)
        if pos >= len(value):
            return None
        quote = value[pos]
        if quote in b"\"'":
            close = value.find(bytes((quote,)), pos + 1)
            return None if close < 0 else _label(value[pos + 1 : close])
        end = pos
        while end < len(value) and value[end] not in b"\t\n\f\r ;":
            end += 1
        return _label(value[pos:end])
    return None


def _label(raw: bytes) -> str | None:
    return whatwg_encoding(raw.decode("latin-1"))


def _fix_meta_encoding(name: str) -> str:
    """A ``<meta>`` cannot switch to UTF-16 (it would not be readable) nor to x-user-defined."""
    return {"utf-16le": "utf-8", "utf-16be": "utf-8", "x-user-defined": "windows-1252"}.get(
        name, name
    )


def charset_from_meta_attributes(
    charset: bytes | None, http_equiv: bytes | None, content: bytes | None
) -> str | None:
    """The encoding the tree builder takes from one ``<meta>`` ("in head" rules), a WHATWG name."""
    found = None if charset is None else _label(charset)
    if found is None and content is not None and (http_equiv or b"").lower() == b"content-type":
        found = _charset_from_meta_content(content)
    return None if found is None else _fix_meta_encoding(found)


def _meta_charset(buf: bytes, pos: int) -> tuple[str | None, int]:
    """Read one ``<meta`` tag's attributes; the encoding it declares (if any) and its end."""
    seen: set[bytes] = set()
    got_pragma = False
    need_pragma: bool | None = None
    charset: str | None = None
    while True:
        name, value, pos = _get_attribute(buf, pos)
        if not name:
            break
        if name in seen:
            continue
        seen.add(name)
        if name == b"http-equiv":
            got_pragma = got_pragma or value == b"content-type"
        elif name == b"content":
            found = _charset_from_meta_content(value)
            if found is not None and charset is None:
                charset, need_pragma = found, True
        elif name == b"charset":
            charset, need_pragma = _label(value), False
    if need_pragma is None or (need_pragma and not got_pragma) or charset is None:
        return None, pos
    return _fix_meta_encoding(charset), pos


def prescan_meta_charset(body: bytes) -> MetaCharset | None:
    """WHATWG "prescan a byte stream to determine its encoding" over the first 1024 bytes."""
    buf = body[:PRESCAN_BYTES]
    pos = 0
    try:
        while (pos := buf.find(b"<", _skip(_SKIP, buf, pos))) >= 0:  # one the skip left
            if buf.startswith(b"<!--", pos):
                close = buf.find(b"-->", pos + 2)
                if close < 0:
                    return None
                pos = close + 3
            elif _META_START.match(buf, pos):
                encoding, end = _meta_charset(buf, pos + 5)
                if encoding is not None:
                    return MetaCharset(encoding, pos, end + 1)
                pos = end + 1
            elif (tag := _PRESCAN_TAG_NAME.match(buf, pos)) is not None:
                name, _, pos = _get_attribute(buf, tag.end())
                while name:
                    name, _, pos = _get_attribute(buf, pos)
                pos += 1
            elif buf[pos + 1 : pos + 2] in (b"!", b"/", b"?"):
                close = buf.find(b">", pos + 1)
                if close < 0:
                    return None
                pos = close + 1
            else:
                pos += 1
    except _Eof:
        return None
    return None
