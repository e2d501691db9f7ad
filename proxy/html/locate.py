"""Find the elements Lexbor selected in the original bytes, so a rewrite can splice.

Why splice rather than re-serialise: docs/design.md §3.

Lexbor gives the element; the bytes give where it is. An element is located by its position among
the elements with the same tag name in document order: the N-th such DOM element is the N-th such
start tag the tokenizer meets (outside ``<template>`` contents, which Lexbor's selectors do not
reach). That holds only when the source has exactly as many start tags of that name as the DOM has
elements, and the caller also checks the tag's attributes against the DOM's; anything else (implied
``<tbody>``, a second ``<body>`` merged into the first, adoption-agency clones) makes the caller
fall back to re-serialising.

Counting those start tags needs a tokenizer pass over the whole page (:func:`find_start_tags`),
except for the names no tree-builder step creates without a start tag of that name (not implied
like ``<tbody>`` or ``<p>`` for ``</p>``, not cloned like formatting elements):
for those the DOM's count D is at most the count S of real start tags, itself at most the count R
of ``<name`` byte sequences (real or inside comments, scripts, attribute values). R == D then
proves R == S == D: every ``<name`` is a real start tag, found with ``bytes.find`` alone
(:func:`find_by_count`).

An element's extent (its content and its end tag) is accepted only when the content is balanced
markup (every element in it closed explicitly, nothing closed that it did not open) and the start
tags in it name the same elements, in the same order, as the DOM's descendants. The body's also
takes what the parser appends to it after ``</body>`` (:class:`Extent`), and ``<head>``/``<body>``
start tags are checked to open their element (:func:`opens_element`): a late one is ignored, or
only gives its attributes to the element an earlier token implied.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from selectolax.lexbor import LexborNode

from proxy.html.tokens import (
    COMMENT,
    DOCTYPE,
    END,
    HEAD_ALLOWED,
    NOTHING,
    START,
    TAG_AT,
    TEXT,
    TEXT_ELEMENTS,
    nocase,
    skip_element,
    tag_rest,
    token_at,
)

__all__ = [
    "VOID",
    "Extent",
    "StartTag",
    "element_extent",
    "find_by_count",
    "find_start_tags",
    "opens_element",
    "source_attributes",
    "start_tag_at",
]

VOID = frozenset(
    b"area base basefont bgsound br col embed frame hr img input keygen link meta param source "
    b"track wbr".split()
)
_FOREIGN = (b"svg", b"math")
_SPECIAL = frozenset(TEXT_ELEMENTS) | {b"script", b"plaintext", b"template", *_FOREIGN}
_COMMENT = rb"!--(?:-?>|[^-]*+(?:-(?!-!?>)[^-]*+)*+--!?>)"
_ATTRIBUTE = re.compile(
    rb"([^\t\n\f\r />][^\t\n\f\r />=]*+)(?:[\t\n\f\r ]*+=[\t\n\f\r ]*+"
    rb"""(?:"([^"]*+)"|'([^']*+)'|([^\t\n\f\r >"'][^\t\n\f\r >]*+))?)?"""
)
_TAG_NAME = re.compile(rb"</?[A-Za-z][^\t\n\f\r />]*+")
_SELF_CLOSING = re.compile(rb"/[\t\n\f\r ]*>\Z")
# Start tags that end foreign content (the HTML standard's "in foreign content" breakout list).
_BREAKOUT = frozenset(
    b"b big blockquote body br center code dd div dl dt em embed h1 h2 h3 h4 h5 h6 head hr i img "
    b"li listing menu meta nobr ol p pre ruby s small span strong strike sub sup table tt u ul "
    b"var".split()
)

# Names whose elements the tree builder also makes without a start tag of that name: implied
# (html, head, body, tbody, tr, colgroup; p for "</p>", br for "</br>") or cloned (the formatting
# elements). "img" also comes from "<image>", and any element may be cloned into
# "<selectedcontent>": the caller checks those two.
_CREATED = frozenset(
    b"html head body tbody tr colgroup p br a b big code em font i nobr s small strike strong tt "
    b"u".split()
)
_NAME_ENDS = frozenset((b"\t", b"\n", b"\f", b"\r", b" ", b"/", b">", b""))
_SPACE = re.compile(rb"[\t\n\f\r ]*+")
# End tags that imply the head or the body when they come before its start tag (others are ignored).
_IMPLYING_END = frozenset((b"head", b"body", b"html", b"br"))
_DOCUMENT_END = frozenset((b"body", b"html"))


@dataclass(frozen=True, slots=True)
class StartTag:
    """A start tag in the source: ``buf[start:end]``; ``foreign``: inside ``<svg>``/``<math>``."""

    start: int
    end: int
    foreign: bool


@dataclass(frozen=True, slots=True)
class Extent:
    """Where an element's content ends and its end tag ends (``content_end == end`` if void).

    ``tail``: the whitespace runs after ``</body>`` (up to the end of the document, between
    comments and ``</html>``), which the tree builder appends to the body: in the DOM they are the
    body's last content, after what ``content_end`` ends.
    """

    content_end: int
    end: int
    tail: tuple[tuple[int, int], ...] = ()


@lru_cache(maxsize=128)
def _plain_run(names: frozenset[bytes]) -> re.Pattern[bytes]:
    """Text, comments and tags whose name is neither wanted nor changes the tokenizer's state."""
    stop = b"|".join(nocase(n) for n in sorted(names | _SPECIAL))
    return re.compile(
        rb"(?:[^<]++|<(?:/?(?!(?:%s)[\t\n\f\r />])[A-Za-z][^\t\n\f\r />]*+%s|%s))*+"
        % (stop, tag_rest(), _COMMENT)
    )


def _skip_cdata_or_token(buf: bytes, i: int, foreign: bool) -> tuple[int, bytes, int]:
    if foreign and buf.startswith(b"<![CDATA[", i):
        close = buf.find(b"]]>", i)
        return (COMMENT, b"", -1 if close < 0 else close + 3)
    return token_at(buf, i)


def find_start_tags(buf: bytes, names: frozenset[bytes], pos: int) -> dict[bytes, list[StartTag]]:
    """Every start tag named in ``names`` (lower case) from ``pos``, in document order.

    Stops early (returning what it found) at ``<plaintext>`` or a token cut off by the end, after
    which nothing is a tag; the caller's count check then decides.
    """
    found: dict[bytes, list[StartTag]] = {name: [] for name in names}
    run = _plain_run(names)
    template = foreign = 0
    while True:
        m = run.match(buf, pos)
        i = pos if m is None else m.end()
        if i >= len(buf):
            return found
        kind, name, end = _skip_cdata_or_token(buf, i, foreign > 0)
        if kind == START:
            closed = _SELF_CLOSING.search(buf, i, end) is not None
            if name == b"template" and not foreign:
                template += 1
            elif foreign and name in _BREAKOUT:
                foreign = 0
            if name in names and not template:
                found[name].append(StartTag(i, end, foreign > 0))
            if name in _FOREIGN and not closed:
                foreign += 1
            elif name == b"plaintext" and not foreign:
                return found
            elif not foreign and (name in TEXT_ELEMENTS or name == b"script"):
                end = skip_element(buf, name, end)
        elif kind == END:
            if name == b"template" and template and not foreign:
                template -= 1
            elif name in _FOREIGN and foreign:
                foreign -= 1
        elif kind not in (COMMENT, DOCTYPE, NOTHING, TEXT):
            return found
        if end < 0:
            return found
        pos = end


def find_by_count(lowered: bytes, name: bytes, count: int) -> list[int] | None:
    """The offsets of the start tags of ``name`` when ``count`` (the DOM's) proves that every
    ``<name`` in ``lowered`` (the page ASCII-lowercased) is one (see the module doc); None when
    it cannot. The caller checks first that the DOM has no ``<selectedcontent>`` (see
    ``_CREATED``), and reads a tag with :func:`start_tag_at`."""
    if name in _CREATED:
        return None
    # "<image" makes an img too: one search for "<im" sees both (one pass over the page each)
    needle = b"<im" if name == b"img" else b"<" + name
    rest = name[len(needle) - 1 :]  # what follows the needle in "<name"
    found: list[int] = []
    i = lowered.find(needle)
    while i >= 0:
        after = i + len(needle)
        end = after + len(rest)
        if lowered[end : end + 1] in _NAME_ENDS and lowered[after:end] == rest:
            if len(found) == count:
                return None
            found.append(i)
        elif (
            rest
            and lowered[after : after + 3] == b"age"
            and lowered[after + 3 : after + 4] in _NAME_ENDS
        ):
            return None  # an "<image" (the "g" of "<img" would be at "after")
        i = lowered.find(needle, after)
    return found if len(found) == count else None


def start_tag_at(buf: bytes, offset: int) -> StartTag | None:
    """The start tag at ``offset`` (known to be one), or None when it is cut off by the end.
    ``foreign`` is left False: the caller knows it from the DOM."""
    tag = TAG_AT.match(buf, offset)
    return None if tag is None or tag.group(1) else StartTag(offset, tag.end(), False)


def source_attributes(buf: bytes, start: int, end: int) -> list[tuple[bytes, int, int, bytes]]:
    """A start tag's attributes as written: (lowercased name, span start, span end, raw value)."""
    name = _TAG_NAME.match(buf, start)
    found: list[tuple[bytes, int, int, bytes]] = []
    for m in _ATTRIBUTE.finditer(buf, start + 1 if name is None else name.end(), end - 1):
        value = m.group(2) or m.group(3) or m.group(4) or b""
        found.append((m.group(1).lower(), m.start(), m.end(), value))
    return found


def _skip_nested(buf: bytes, names: tuple[bytes, ...], pos: int) -> int:
    """Offset after the end tag closing an element of ``names`` whose content starts at ``pos``."""
    depth = 1
    while (i := buf.find(b"<", pos)) >= 0:
        kind, name, end = _skip_cdata_or_token(buf, i, names == _FOREIGN)
        if end < 0:
            return -1
        if kind == START and name in names:
            depth += _SELF_CLOSING.search(buf, i, end) is None
        elif kind == END and name in names:
            depth -= 1
            if depth == 0:
                return end
        elif kind == START and names == _FOREIGN and name in _BREAKOUT:
            return -1
        pos = end
    return -1


def _source_children(buf: bytes, target: bytes, pos: int) -> tuple[list[bytes], Extent] | None:
    """The start tag names in the content from ``pos`` and the extent, when balanced; else None."""
    names: list[bytes] = []
    stack: list[bytes] = []
    while (i := buf.find(b"<", pos)) >= 0:
        kind, name, end = token_at(buf, i)
        if kind == START:
            names.append(name)
            if name in TEXT_ELEMENTS or name == b"script":
                end = skip_element(buf, name, end)
            elif name == b"template":
                end = _skip_nested(buf, (b"template",), end)
            elif name in _FOREIGN:
                if _SELF_CLOSING.search(buf, i, end) is None:
                    end = _skip_nested(buf, _FOREIGN, end)
            elif name == b"plaintext":
                return None
            elif name not in VOID:
                stack.append(name)
        elif kind == END:
            if stack and stack[-1] == name:
                stack.pop()
            elif not stack and name == target:
                return names, Extent(i, end)
            else:
                return None
        elif kind not in (COMMENT, DOCTYPE, NOTHING, TEXT):
            return None
        if end < 0:
            return None
        pos = end
    return None


def _dom_children(node: LexborNode, out: list[bytes]) -> None:
    for child in node.iter():
        tag = child.tag
        if tag is None or tag.startswith("-"):
            continue
        out.append(tag.lower().encode())
        if tag not in ("svg", "math", "template"):
            _dom_children(child, out)


def element_extent(buf: bytes, name: bytes, tag: StartTag, node: LexborNode) -> Extent | None:
    """The verified extent of ``node`` whose start tag is ``tag``, or None if it cannot be had."""
    if name in VOID:
        return Extent(tag.end, tag.end)
    if tag.foreign or name in _FOREIGN or name in (b"template", b"plaintext"):
        return None
    if name in TEXT_ELEMENTS or name == b"script":
        end = skip_element(buf, name, tag.end)
        return None if end < 0 else Extent(buf.rfind(b"</", tag.end, end), end)
    source = _source_children(buf, name, tag.end)
    if source is None:
        return None
    dom: list[bytes] = []
    _dom_children(node, dom)
    if dom != source[0]:
        return None
    if name != b"body":
        return source[1]
    tail = _body_tail(buf, source[1].end)
    return None if tail is None else Extent(source[1].content_end, source[1].end, tail)


def _body_tail(buf: bytes, pos: int) -> tuple[tuple[int, int], ...] | None:
    """The whitespace runs from ``pos`` (after ``</body>``) to the end, when everything else there
    leaves the body alone: comments (they go to ``<html>`` or the document), doctypes and
    ``</body>``/``</html>`` (ignored). None when anything else follows: text or an element
    there would be the body's last content too (the "after body" insertion mode)."""
    runs: list[tuple[int, int]] = []
    while pos < len(buf):
        space = _SPACE.match(buf, pos)
        if space is not None and space.end() > pos:
            runs.append((pos, space.end()))
            pos = space.end()
            continue
        if buf[pos] != 0x3C:  # "<"
            return None
        kind, name, end = token_at(buf, pos)
        if not (kind in (COMMENT, DOCTYPE, NOTHING) or (kind == END and name in _DOCUMENT_END)):
            return None
        pos = end
    return tuple(runs)


def opens_element(buf: bytes, name: bytes, pos: int, start: int) -> bool:
    """Whether the ``<head>`` or ``<body>`` start tag at ``start`` opens that element, given the
    document from ``pos``: once anything before it implied the element (text, a start tag that
    has no place before it, ``</br>``...), the tag is a stray one (ignored for ``<head>``; for
    ``<body>`` only its attributes count). Tokens are followed from ``pos``: cheap for the
    head; for the body the head's scripts and styles are skipped by
    :func:`~proxy.html.tokens.skip_element`."""
    allowed = HEAD_ALLOWED if name == b"body" else frozenset((b"html",))
    while True:
        space = _SPACE.match(buf, pos)
        pos = pos if space is None else space.end()
        if pos >= start:
            return pos == start
        if buf[pos] != 0x3C:  # "<"
            return False
        kind, tag, end = token_at(buf, pos)
        if kind == START:
            if tag not in allowed or tag == b"template":
                return False
            if tag in TEXT_ELEMENTS or tag == b"script":
                end = skip_element(buf, tag, end)
        elif kind == END:
            if tag in _IMPLYING_END and not (name == b"body" and tag == b"head"):
                return False
        elif kind not in (COMMENT, DOCTYPE, NOTHING):
            return False
        if end < 0:
            return False
        pos = end
