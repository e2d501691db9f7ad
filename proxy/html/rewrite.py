"""Apply operations to an HTML document, keeping every byte outside the changed elements.

The operations run on a Lexbor tree, which decides what they mean: which elements a selector
matches, in the state the earlier operations left. Each changed element that was in the original
document is then found in the original bytes (:mod:`proxy.html.locate`) and only its changed parts
are replaced ("splice"). When any of them cannot be located and verified, or an operation changes
the order of existing elements (move, reorder), the modified tree is serialised instead, behind the
original BOM and doctype and in the original encoding ("reserialise"; DESIGN.md §3).
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from selectolax.lexbor import LexborHTMLParser, LexborNode, SelectolaxError

from proxy.html.edits import ElementEdit, apply
from proxy.html.encodings import is_byte_scannable
from proxy.html.locate import StartTag, element_extent, find_start_tags, source_attributes
from proxy.html.operations import (
    AddClass,
    Hide,
    InsertBefore,
    Op,
    RemoveAttr,
    RemoveClass,
    SetAttr,
    SetStyle,
    SwapImage,
    attribute_allowed,
)
from proxy.html.tokens import COMMENT, DOCTYPE, decode_attribute_value, token_at

__all__ = ["RewriteResult", "rewrite"]

_START_TAG_ONLY = (
    SetAttr,
    RemoveAttr,
    AddClass,
    RemoveClass,
    SetStyle,
    Hide,
    SwapImage,
    InsertBefore,
)
Mode = Literal["splice", "reserialise", "unchanged"]
_BOMS = (codecs.BOM_UTF8, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
_LEADING_SPACE = re.compile(rb"[\t\n\f\r ]*+")
_NEWLINES = re.compile(r"\r\n?")
# Rank of an edit among edits at the same offset: what follows an element comes before what
# precedes the next one; an element's own range edit comes last.
_AFTER, _APPEND, _PREPEND, _BEFORE, _RANGE = range(5)


@dataclass(frozen=True, slots=True)
class RewriteResult:
    """The rewritten body; ``applied``/``missed``: indexes of ops that did / did not apply."""

    body: bytes
    changed: bool
    mode: Mode
    applied: tuple[int, ...]
    missed: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class _Located:
    name: bytes
    tag: StartTag
    extent_end: int  # -1: not located
    content_end: int


@dataclass(frozen=True, slots=True)
class _Edit:
    start: int
    end: int
    rank: int
    owner: int
    text: str
    scope: int = 0  # what a range replaces: 1 the element's content, 2 the whole element


def _select(root: LexborHTMLParser, selector: str) -> list[LexborNode]:
    try:
        return list(root.css(selector))
    except SelectolaxError:
        return []


class _Rewrite:
    """One rewrite: the tree, the original bytes, and which elements the splice must change."""

    def __init__(self, document: bytes, codec: str, values: Mapping[str, str] | None) -> None:
        self.buf = document
        self.codec = codec
        self.values = values
        self.bom = next((b for b in _BOMS if document.startswith(b)), b"")
        text = document[len(self.bom) :].decode(codec, "replace")
        self.parser = LexborHTMLParser(text, scripting=True)
        self.splice = is_byte_scannable(codec) and not self.bom.startswith(b"\xff\xfe")
        self.new_ids: set[int] = set()
        self.located: dict[int, _Located] = {}
        self.edits: dict[int, ElementEdit] = {}

    # The operations' view (proxy.html.operations.Tree).

    def edit(self, node: LexborNode) -> ElementEdit:
        key = node.mem_id
        if key in self.new_ids or key not in self.located:
            self.splice = False
            return ElementEdit()
        return self.edits.setdefault(key, ElementEdit())

    def insert(self, node: LexborNode, html: str, where: str) -> None:
        holder = self.parser.create_node("div")
        holder.inner_html = html
        for element in holder.traverse():
            self.new_ids.add(element.mem_id)
        children = list(holder.iter(include_text=True))
        if where == "after":
            children.reverse()
        for child in children:
            if where == "before":
                node.insert_before(child, move=True)
            elif where == "after":
                node.insert_after(child, move=True)
            else:
                node.insert_child(child, move=True)
        if where == "prepend" and (first := node.child) is not None:
            for child in children:  # insert_child appended them: move them to the front
                first.insert_before(child, move=True)
        holder.decompose()

    def select_first(self, selector: str) -> LexborNode | None:
        found = _select(self.parser, selector)
        return found[0] if found else None

    def no_splice(self) -> None:
        self.splice = False

    # Locating the original elements, before any operation runs.

    def locate(self, selectors: Sequence[str], whole: Sequence[str]) -> None:
        """Find each element the selectors match now in the bytes (DESIGN.md §3), and the end
        of those that the ``whole`` selectors match (for ops that change more than a start tag).
        """
        nodes = {n.mem_id: n for s in selectors for n in _select(self.parser, s)}
        extents = {n.mem_id for s in whole for n in _select(self.parser, s)}
        names = {(n.tag or "").lower().encode() for n in nodes.values()}
        try:
            order = {name: _select(self.parser, name.decode()) for name in names}
            start = len(self.bom)
            found = find_start_tags(self.buf, frozenset(names), start)
        except (UnicodeDecodeError, ValueError):
            self.splice = False
            return
        for name, dom in order.items():
            tags = found[name]
            if len(tags) != len(dom):
                continue
            for node, tag in zip(dom, tags, strict=True):
                if node.mem_id in nodes and self._same_attributes(node, tag):
                    extent = None
                    if node.mem_id in extents:
                        extent = element_extent(self.buf, name, tag, node)
                    self.located[node.mem_id] = _Located(
                        name, tag, -1 if extent is None else extent.end,
                        -1 if extent is None else extent.content_end,
                    )  # fmt: skip

    def _same_attributes(self, node: LexborNode, tag: StartTag) -> bool:
        source: dict[str, str] = {}
        for name, _, _, raw in source_attributes(self.buf, tag.start, tag.end):
            key = name.decode(self.codec, "replace")
            if key not in source:
                value = decode_attribute_value(raw, self.codec).replace("\0", "\ufffd")
                source[key] = _NEWLINES.sub("\n", value)
        return source == {k: v or "" for k, v in node.attributes.items()}

    # Splicing.

    def _encode(self, text: str) -> bytes:
        return text.encode(self.codec, "xmlcharrefreplace")

    def _start_tag(self, at: _Located, attrs: dict[str, str | None]) -> str:
        buf, codec, tag = self.buf, self.codec, at.tag
        parts = [buf[tag.start : tag.start + 1 + len(at.name)].decode(codec)]
        cursor, seen = tag.start + 1 + len(at.name), set()
        original: dict[str, str] = {}
        for name, a, b, raw in source_attributes(buf, tag.start, tag.end):
            key = name.decode(codec, "replace")
            gap = buf[cursor:a].decode(codec)
            cursor = b
            if key in seen or key not in attrs:
                if key in seen and key in attrs and attrs[key] == original[key]:
                    parts.append(gap + buf[a:b].decode(codec))
                continue
            seen.add(key)
            original[key] = decode_attribute_value(raw, codec)
            if (attrs[key] or "") == original[key]:
                parts.append(gap + buf[a:b].decode(codec))
            else:
                parts.append(gap + _attribute(buf[a:b].split(b"=")[0].decode(codec), attrs[key]))
        parts.extend(" " + _attribute(k, v) for k, v in attrs.items() if k not in seen)
        parts.append(buf[cursor : tag.end].decode(codec))
        return "".join(parts)

    def _spliced(self) -> bytes | None:
        edits: list[_Edit] = []
        for key, edit in self.edits.items():
            at = self.located[key]
            s, e, end, ce = at.tag.start, at.tag.end, at.extent_end, at.content_end
            if edit.needs_extent and end < 0:
                return None
            if edit.before:
                edits.append(_Edit(s, s, _BEFORE, key, "".join(edit.before)))
            if edit.outer is not None:
                edits.append(_Edit(s, end, _RANGE, key, edit.outer, 2))
            else:
                if edit.attrs is not None:
                    edits.append(_Edit(s, e, _RANGE, key, self._start_tag(at, edit.attrs)))
                if edit.content is not None:
                    edits.append(_Edit(e, ce, _RANGE, key, edit.content, 1))
                if edit.prepend:
                    edits.append(_Edit(e, e, _PREPEND, key, "".join(edit.prepend)))
                if edit.append:
                    edits.append(_Edit(ce, ce, _APPEND, key, "".join(edit.append)))
            if edit.after:
                edits.append(_Edit(end, end, _AFTER, key, "".join(edit.after)))
        return self._join(_drop_overwritten(edits))

    def _join(self, edits: list[_Edit]) -> bytes | None:
        edits.sort(key=lambda x: (x.start, x.rank))
        out: list[bytes] = []
        cursor = 0
        for x in edits:
            if x.start < cursor:
                return None
            out += (self.buf[cursor : x.start], self._encode(x.text))
            cursor = x.end
        out.append(self.buf[cursor:])
        return b"".join(out)

    def reserialised(self) -> bytes:
        """The modified tree as HTML behind the original BOM and doctype, in the original codec."""
        doctype = _doctype(self.buf, len(self.bom))
        parts = [self.bom]
        root = self.parser.root
        document = None if root is None else root.parent
        for node in [] if document is None else document.iter(include_text=True):
            if node.tag == "-doctype" and doctype is not None:
                parts.append(doctype)
            else:
                parts.append(self._encode(node.html or ""))
        return b"".join(parts)


def _attribute(name: str, value: str | None) -> str:
    if value is None:
        return name
    escaped = value.replace("&", "&amp;").replace('"', "&quot;")
    return f'{name}="{escaped}"'


def _drop_overwritten(edits: list[_Edit]) -> list[_Edit]:
    """Without the edits inside content or an element that another edit replaces: they come from
    earlier ops on elements that are gone (a later op cannot select them)."""
    ranges = [x for x in edits if x.scope]
    return [x for x in edits if not any(_inside(x, r) for r in ranges)]


def _inside(x: _Edit, r: _Edit) -> bool:
    if x.owner == r.owner:
        return False
    if r.scope == 1:  # a descendant's edits may touch the content's ends
        return r.start <= x.start and x.end <= r.end
    return r.start < x.start and x.end < r.end  # neighbours' edits may touch the element's ends


def _doctype(buf: bytes, pos: int) -> bytes | None:
    """The original doctype token, if it comes first (after whitespace and comments)."""
    while True:
        space = _LEADING_SPACE.match(buf, pos)
        pos = pos if space is None else space.end()
        if not buf.startswith(b"<!", pos):
            return None
        kind, _, end = token_at(buf, pos)
        if kind == DOCTYPE:
            return buf[pos:end]
        if kind != COMMENT:
            return None
        pos = end


def rewrite(
    document: bytes,
    codec: str,
    ops: Sequence[Op],
    *,
    mark: Mapping[str, Mapping[str, str]] | None = None,
    fill: Mapping[str, str] | None = None,
    splice: bool = True,
) -> RewriteResult:
    """Apply ``ops`` in order (then ``mark``: attributes for the first element a selector matches)
    to ``document`` encoded in ``codec`` (a Python codec name); see the module doc for the modes.
    ``splice=False`` always re-serialises (tests compare the two modes)."""
    if not ops and not mark:
        return RewriteResult(document, False, "unchanged", (), ())
    run = _Rewrite(document, codec, fill)
    run.splice &= splice
    marks = dict(mark or {})
    if run.splice:
        whole = [op.selector for op in ops if not isinstance(op, _START_TAG_ONLY)]
        run.locate([*(op.selector for op in ops), *marks], whole)
    applied: list[int] = []
    missed: list[int] = []
    for index, op in enumerate(ops):
        nodes = _select(run.parser, op.selector)
        (applied if nodes and apply(run, nodes, op) else missed).append(index)
    marked = False
    for selector, attrs in marks.items():
        node = run.select_first(selector)
        if node is not None and all(attribute_allowed(k, v) for k, v in attrs.items()):
            for name, value in attrs.items():
                node.attrs[name] = value
            run.edit(node).attrs = dict(node.attributes)
            marked = True
    if not applied and not marked:
        return RewriteResult(document, False, "unchanged", (), tuple(missed))
    body = run._spliced() if run.splice else None
    mode: Mode = "splice"
    if body is None:
        body, mode = run.reserialised(), "reserialise"
    return RewriteResult(body, body != document, mode, tuple(applied), tuple(missed))
