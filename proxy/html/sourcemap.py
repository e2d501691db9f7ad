"""Where a tree's original elements are in the original bytes, found only for the elements asked.

An element is located by its position among the elements with the same tag name
(:mod:`proxy.html.locate`), so it must be asked for while the tree still has exactly its original
elements: the rewrite locates the elements an operation selected just before it runs, and
everything the later operations select just before an operation adds, removes or moves an element.
A located start tag is then checked against the element's attributes; its extent (content and end
tag) is found and verified only for operations that change more than the start tag.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace

from selectolax.lexbor import LexborHTMLParser, LexborNode, SelectolaxError

from proxy.html.locate import (
    StartTag,
    element_extent,
    find_by_count,
    find_start_tags,
    opens_element,
    source_attributes,
    start_tag_at,
)
from proxy.html.tokens import COMMENT, DOCTYPE, decode_attribute_value, token_at

__all__ = [
    "LEADING_NEWLINE",
    "UNKNOWN",
    "Located",
    "SourceMap",
    "dropped_newline",
    "in_foreign",
    "original_doctype",
    "select",
]

UNKNOWN = -2  # Located.extent_end before the extent was looked for (-1: it cannot be had)
LEADING_NEWLINE = frozenset((b"pre", b"textarea", b"listing"))
"""Elements whose start tag makes the parser drop the newline right after it."""
_NAME = re.compile(r"[a-z][a-z0-9._:-]*+")  # tag names this locates (custom elements included)
_TYPE_SELECTOR = re.compile(r"[a-z][a-z0-9-]*+")
_NEWLINES = re.compile(r"\r\n?")
_LEADING_SPACE = re.compile(rb"[\t\n\f\r ]*+")


@dataclass(frozen=True, slots=True)
class Located:
    """An original element's start tag ``tag`` (named ``name``), its attributes before any
    operation, and, when known, its extent."""

    name: bytes
    tag: StartTag
    attributes: dict[str, str]  # as the DOM had them (and the start tag says, decoded)
    extent_end: int = UNKNOWN
    content_end: int = UNKNOWN
    tail: tuple[tuple[int, int], ...] = ()  # see proxy.html.locate.Extent
    newline: int = 0  # LEADING_NEWLINE: the length of the newline the parser drops, if any


def select(root: LexborHTMLParser | LexborNode, selector: str) -> list[LexborNode]:
    """The elements ``selector`` matches, none when it is not a selector Lexbor accepts."""
    try:
        return list(root.css(selector))
    except SelectolaxError:
        return []


class SourceMap:
    """The located elements of one rewrite, keyed by ``mem_id``."""

    def __init__(self, buf: bytes, start: int, codec: str, parser: LexborHTMLParser) -> None:
        self.buf, self.start, self.codec, self.parser = buf, start, codec, parser
        self.located: dict[int, Located] = {}
        self._failed: set[int] = set()
        self._order: dict[bytes, dict[int, int]] = {}
        self._tags: dict[bytes, list[StartTag] | list[int] | None] = {}
        self._lowered: bytes | None = None  # the page ASCII-lowercased, if it can prove counts

    def know_order(self, name: str, nodes: list[LexborNode]) -> None:
        """``nodes`` are every element named ``name`` in document order (a selector that is just
        the name matched them): saves looking them up again."""
        name = name.lower()
        if _TYPE_SELECTOR.fullmatch(name) is not None and name.encode() not in self._order:
            self._order[name.encode()] = {n.mem_id: i for i, n in enumerate(nodes)}

    def locate(self, node: LexborNode, *, whole: bool) -> None:
        """Locate ``node`` (and its extent if ``whole``); it stays unlocated when unverifiable."""
        key = node.mem_id
        at = self.located.get(key)
        if at is not None:
            if whole and at.extent_end == UNKNOWN:
                self.located[key] = self._with_extent(at, node)
            return
        if key in self._failed:
            return
        at = self._find(node)
        if at is None:
            self._failed.add(key)
            return
        self.located[key] = self._with_extent(at, node) if whole else at

    def prefetch(
        self,
        nodes: Iterable[LexborNode],
        upcoming: Callable[[], Iterable[LexborNode]] = tuple,
    ) -> None:
        """Find the start tags of the names of ``nodes``. The names whose count ``bytes.find``
        cannot prove need a tokenizer scan of the page: when one is needed, the names of the
        ``upcoming`` elements (those later operations will select) share it."""
        slow = self._try_fast(nodes)
        if slow:
            slow += self._try_fast(upcoming())
            try:
                found = find_start_tags(self.buf, frozenset(slow), self.start)
            except (UnicodeDecodeError, ValueError):
                found = {}
            for name in slow:
                tags = found.get(name)
                self._tags[name] = tags if tags and len(tags) == len(self._order_of(name)) else None

    def _try_fast(self, nodes: Iterable[LexborNode]) -> list[bytes]:
        """Find the start tags of the new names of ``nodes`` by count; the names that need a scan."""
        slow: list[bytes] = []
        for name in {_name(node) for node in nodes} - {b""} - self._tags.keys():
            if self._lowered is None:  # elements of any name may be cloned into selectedcontent
                clones = self.parser.tags("selectedcontent")
                self._lowered = b"" if clones else self.buf.lower()
            count = len(self._order_of(name))
            offsets = find_by_count(self._lowered, name, count) if self._lowered else None
            if offsets is None:
                slow.append(name)
            self._tags[name] = offsets
        return slow

    def _order_of(self, name: bytes) -> dict[int, int]:
        """``mem_id`` -> position among the elements named ``name``, in document order."""
        order = self._order.get(name)
        if order is None:
            order = {n.mem_id: i for i, n in enumerate(self.parser.tags(name.decode()))}
            self._order[name] = order
        return order

    def _find(self, node: LexborNode) -> Located | None:
        name = _name(node)
        if not name:
            return None
        if name not in self._tags:
            self.prefetch((node,))
        index, tags = self._order_of(name).get(node.mem_id), self._tags[name]
        if index is None or tags is None:
            return None
        found = tags[index]
        tag = start_tag_at(self.buf, found) if isinstance(found, int) else found
        if tag is None or (
            name == b"head" and not opens_element(self.buf, name, self.start, tag.start)
        ):
            return None  # an ignored <head> (the head was implied before it)
        attributes = {k: v or "" for k, v in node.attributes.items()}
        if self._source_attributes(tag) != attributes:
            return None
        return Located(name, tag, attributes)

    def _with_extent(self, at: Located, node: LexborNode) -> Located:
        foreign = at.tag.foreign or in_foreign(node)
        extent = None if foreign else element_extent(self.buf, at.name, at.tag, node)
        if extent is not None and at.name == b"body":
            # a stray <body> gives the implied body its attributes, not its content
            extent = extent if opens_element(self.buf, at.name, self.start, at.tag.start) else None
        if extent is None:
            return replace(at, extent_end=-1, content_end=-1)
        newline = dropped_newline(self.buf, at.name, at.tag.end)
        return replace(
            at,
            extent_end=extent.end,
            content_end=extent.content_end,
            tail=extent.tail,
            newline=newline,
        )

    def _source_attributes(self, tag: StartTag) -> dict[str, str]:
        """The attributes of ``tag`` as the tokenizer reads them (the first of a name wins)."""
        source: dict[str, str] = {}
        for name, _, _, raw in source_attributes(self.buf, tag.start, tag.end):
            key = name.decode(self.codec, "replace")
            if key not in source:
                value = decode_attribute_value(raw, self.codec).replace("\0", "\ufffd")
                source[key] = _NEWLINES.sub("\n", value)
        return source

    def start_tag(self, at: Located, attrs: dict[str, str | None]) -> str:
        """The start tag of ``at`` with attributes ``attrs``: unchanged ones keep their bytes."""
        buf, codec, tag = self.buf, self.codec, at.tag
        parts = [buf[tag.start : tag.start + 1 + len(at.name)].decode(codec)]
        cursor, seen = tag.start + 1 + len(at.name), set()
        original = at.attributes
        dropped = False  # the attribute before was left out, and the space before it
        for name, a, b, _ in source_attributes(buf, tag.start, tag.end):
            key = name.decode(codec, "replace")
            gap = buf[cursor:a].decode(codec) or (" " if dropped else "")  # as in a='x'b
            cursor, dropped = b, False
            if key in seen or key not in attrs:
                if key in seen and key in attrs and attrs[key] == original[key]:
                    parts.append(gap + buf[a:b].decode(codec))
                else:
                    dropped = True
                continue
            seen.add(key)
            if (attrs[key] or "") == original[key]:
                parts.append(gap + buf[a:b].decode(codec))
            else:
                parts.append(gap + _attribute(buf[a:b].split(b"=")[0].decode(codec), attrs[key]))
        parts.extend(" " + _attribute(k, v) for k, v in attrs.items() if k not in seen)
        parts.append(buf[cursor : tag.end].decode(codec))
        return "".join(parts)


def _name(node: LexborNode) -> bytes:
    """The element's tag name as the source spells it (lower case), b"" if not locatable."""
    name = (node.tag or "").lower()
    return name.encode() if _NAME.fullmatch(name) is not None else b""


def dropped_newline(buf: bytes, name: bytes, end: int) -> int:
    """The length of the newline at ``end``, right after a start tag named ``name``, that the
    parser drops (``LEADING_NEWLINE``); 0 if there is none."""
    if name not in LEADING_NEWLINE or buf[end : end + 1] not in (b"\r", b"\n"):
        return 0
    return 2 if buf.startswith(b"\r\n", end) else 1


def in_foreign(node: LexborNode) -> bool:
    """Whether ``node`` is inside ``<svg>`` or ``<math>`` (``css_matches("svg *")`` would also
    be true for an element that merely contains one)."""
    parent = node.parent
    while parent is not None:
        if parent.tag in ("svg", "math"):
            return True
        parent = parent.parent
    return False


def _attribute(name: str, value: str | None) -> str:
    if value is None:
        return name
    escaped = value.replace("&", "&amp;").replace('"', "&quot;").replace("\r", "&#13;")
    return f'{name}="{escaped}"'


def original_doctype(buf: bytes, pos: int) -> bytes | None:
    """The original doctype token, if it comes first (after whitespace, comments and an XML
    declaration, which HTML reads as a bogus comment up to its first ``>``)."""
    while True:
        space = _LEADING_SPACE.match(buf, pos)
        pos = pos if space is None else space.end()
        if buf.startswith(b"<?", pos):
            end = buf.find(b">", pos)
            if end < 0:
                return None
            pos = end + 1
            continue
        if not buf.startswith(b"<!", pos):
            return None
        kind, _, end = token_at(buf, pos)
        if kind == DOCTYPE:
            return buf[pos:end]
        if kind != COMMENT:
            return None
        pos = end
