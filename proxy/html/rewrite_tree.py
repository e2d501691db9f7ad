"""One rewrite in progress: the tree the operations run on, and what the splice must change.

:class:`RewriteTree` is what an operation sees of the document (:class:`proxy.html.edits.Tree`,
:class:`proxy.html.ops.base.Locator`): a Lexbor tree of the page, where each of its original
elements is in the original bytes (:mod:`proxy.html.sourcemap`), and the record of what the
operations changed in them, moved or reordered. As the operations run it keeps deciding whether
the original bytes can still be spliced (``splice``: a change it cannot place, or bytes that
would be read differently where they land, turns it off), and at the end it gives the spliced
bytes (:meth:`RewriteTree.spliced`) or the re-serialised tree. :func:`proxy.html.rewrite.rewrite`
runs the operations over it and chooses the mode.
"""

from __future__ import annotations

import codecs
import itertools
import re
from collections.abc import Mapping, Sequence

from selectolax.lexbor import LexborHTMLParser, LexborNode

from proxy.html.edits import ElementEdit
from proxy.html.encodings import is_byte_scannable
from proxy.html.locate import VOID
from proxy.html.ops.base import Op
from proxy.html.reserialise import reserialise
from proxy.html.sourcemap import (
    Located,
    SourceMap,
    dropped_newline,
    in_foreign,
    select,
)
from proxy.html.splice import (
    AFTER,
    APPEND,
    BEFORE,
    CARRIED,
    PREPEND,
    RANGE,
    Edit,
    element_edits,
    join,
)
from proxy.html.tokens import HEAD_ALLOWED, TAG_AT, TEXT_ELEMENTS, tags_of

__all__ = ["RewriteTree"]

_OPEN_REFERENCE = re.compile(r"&[#A-Za-z0-9]*\Z")  # the page's next bytes could complete it
_NO_CHILDREN = VOID | set(TEXT_ELEMENTS) | {b"script", b"template", b"plaintext"}
_DOCUMENT = frozenset((b"html", b"head", b"body"))  # often implied: their tags may be stray ones
# Moved bytes are parsed again where they land: before <body> these would go to the head.
_UNMOVABLE = HEAD_ALLOWED | _DOCUMENT
_BOMS = (codecs.BOM_UTF8, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)


def _parse(document: bytes, start: int, codec: str) -> LexborHTMLParser:
    """The tree of ``document[start:]``: from the bytes when they are valid UTF-8 (Lexbor then
    reads them as Python does, without a decode and re-encode), else from the decoded text."""
    body = document[start:] if start else document
    if codecs.lookup(codec).name == "utf-8":
        try:
            body.decode("utf-8")
        except UnicodeDecodeError:
            pass
        else:
            return LexborHTMLParser(body, scripting=True)
    return LexborHTMLParser(body.decode(codec, "replace"), scripting=True)


class RewriteTree:
    """One rewrite: the tree, where its original elements are, and what the splice must change."""

    def __init__(self, document: bytes, codec: str, values: Mapping[str, str] | None) -> None:
        self.buf = document
        self.codec = codec
        self.values = values
        self.bom = next((b for b in _BOMS if document.startswith(b)), b"")
        self.parser = _parse(document, len(self.bom), codec)
        self.splice = is_byte_scannable(codec) and not self.bom.startswith(b"\xff\xfe")
        self.source = SourceMap(document, len(self.bom), codec, self.parser)
        self.original = True  # no element added, removed or moved yet: elements can be located
        self.pending: Sequence[Op] = ()  # the ops after the current one
        self.marks: Sequence[str] = ()
        self.new_ids: set[int] = set()
        self.edits: dict[int, ElementEdit] = {}
        self.moves: list[tuple[int, int, str]] = []  # (element, target, where)
        self.slots: list[tuple[int, int]] = []  # reorder: (element in the slot, its new occupant)
        self.moving: set[int] = set()
        self.ends_before: dict[int, bool] = {}  # see check_ends_before
        self._ids: dict[int, int] = {}
        self._next_id = itertools.count()
        self._closed_markup: dict[str, bool] = {}

    # The operations' view (proxy.html.edits.Tree).

    def identity(self, node: LexborNode) -> int:
        key = node.mem_id
        if key not in self._ids:
            self._ids[key] = next(self._next_id)
        return self._ids[key]

    def edit(self, node: LexborNode) -> ElementEdit:
        key = node.mem_id
        if key in self.new_ids or key not in self.source.located:
            self.splice = False
            return ElementEdit()
        return self.edits.setdefault(key, ElementEdit())

    def insert(self, node: LexborNode, html: str, where: str) -> None:
        self.restructure()
        if self.splice and not self._closed(html):
            self.splice = False
        holder = self.parser.create_node("div")
        holder.inner_html = html
        for element in holder.traverse():
            self.new_ids.add(element.mem_id)
            self._ids.pop(element.mem_id, None)  # a removed element's address, reused
        children = list(holder.iter(include_text=True))
        if where == "after":
            children.reverse()
        first = node.child if where == "prepend" else None  # None: prepend into empty = append
        for child in children:
            if where == "before":
                node.insert_before(child, move=True)
            elif where == "after":
                node.insert_after(child, move=True)
            elif first is not None:
                first.insert_before(child, move=True)
            else:
                node.insert_child(child, move=True)
        holder.decompose()

    def _closed(self, html: str) -> bool:
        """Whether ``html`` is read the same wherever it is spliced: it must close what it opens
        (comment, tag, element, character reference) and have no tag its own parse drops, as
        ``<!--``, ``<b>x`` or ``</div>`` would, which take in or close the page's elements.
        Checked by comparing its tags with those of its parse (written out by Lexbor)."""
        closed = self._closed_markup.get(html)
        if closed is None:
            probe = self.parser.create_node("div")
            probe.inner_html = html
            tags = tags_of(html.encode())
            closed = tags is not None and tags == tags_of((probe.inner_html or "").encode())
            closed = closed and _OPEN_REFERENCE.search(html) is None
            probe.decompose()
            self._closed_markup[html] = closed
        return closed

    def select_first(self, selector: str) -> LexborNode | None:
        found = select(self.parser, selector)
        return found[0] if found else None

    def restructure(self) -> None:
        if self.original and self.splice:
            selected = [(op, select(self.parser, op.selector)) for op in self.pending]
            self.source.prefetch([node for _, nodes in selected for node in nodes], self._marked)
            for op, nodes in selected:
                self.prepare(op, nodes)
            for node in self._marked():
                self.source.locate(node, whole=False)
        self.original = False

    def _marked(self) -> list[LexborNode]:
        return [node for s in self.marks if (node := self.select_first(s)) is not None]

    def _upcoming(self) -> list[LexborNode]:
        """The elements the later operations select now (only to share a scan: see prefetch)."""
        return [n for op in self.pending for n in select(self.parser, op.selector)] + self._marked()

    def moved(self, node: LexborNode, target: LexborNode, where: str) -> None:
        key, to = node.mem_id, target.mem_id
        located = self.source.located
        at, moved = located.get(to), located.get(key)
        if (
            key in self.moving
            or (where != "into" and to in self.moving)
            or moved is None
            or at is None
            or moved.name in _UNMOVABLE
            or (where != "into" and at.name in _DOCUMENT)
            or (where == "into" and (at.name in _NO_CHILDREN or self._content_set(to)))
            or (where == "before" and not self.ends_before.get(to, False))
            or not self.ends_before.get(key, False)  # what follows it would go where it went
        ):
            self.splice = False
        self.moving.add(key)
        self.moves.append((key, to, where))

    def check_ends_before(self, target: LexborNode) -> None:
        """Record whether bytes pasted at ``target``'s start tag land just before it in its
        parent: not when its start tag is what ends the element before it (``<p>a<p>b``) or
        creates its parent (the body ``<div>`` implies, where other bytes would be read in the
        head's context): the previous element must end, or the parent's start tag, right there.
        Never inside ``<svg>``/``<math>``, where HTML markup is read otherwise.
        """
        if target.mem_id in self.ends_before:
            return
        previous, start = target.prev, self.source.located.get(target.mem_id)
        ends = True  # after text or a comment, which are in the parent
        if start is None or in_foreign(target):  # markup there is read otherwise
            ends = False
        elif previous is not None and previous.is_element_node:
            self.source.locate(previous, whole=True)
            at = self.source.located.get(previous.mem_id)
            ends = at is not None and at.extent_end == start.tag.start
        elif previous is None:
            ends = (parent := target.parent) is not None and self._opened_at(parent, start)
        self.ends_before[target.mem_id] = ends

    def _opened_at(self, parent: LexborNode, child: Located) -> bool:
        """Whether the token right before the start tag of ``child`` (its parent's first child)
        is a start tag named as ``parent``: then the parent is open there, not implied by
        ``child``. That token is real, as ``child`` is: a comment or a tag cannot end in
        another tag's ``>`` without holding ``child`` too, and a ``<`` in the parent's
        attribute values only makes this say no."""
        buf, end = self.buf, child.tag.start
        tag = TAG_AT.match(buf, max(0, buf.rfind(b"<", 0, end)))
        name = (parent.tag or "").lower().encode()
        if tag is None or tag.group(1) or tag.group(2).lower() != name:
            return False
        return tag.end() + dropped_newline(buf, name, tag.end()) == end

    def _content_set(self, key: int) -> bool:
        edit = self.edits.get(key)
        return edit is not None and edit.content is not None

    def reordered(self, slots: Sequence[LexborNode], wanted: Sequence[LexborNode]) -> None:
        for slot, node in zip(slots, wanted, strict=True):
            if slot.mem_id == node.mem_id:
                continue
            at = self.source.located.get(node.mem_id)
            if (
                slot.mem_id in self.moving
                or at is None
                or at.name in _UNMOVABLE
                or not self.ends_before.get(slot.mem_id, False)
            ):
                self.splice = False
            self.slots.append((slot.mem_id, node.mem_id))
        self.moving.update(node.mem_id for node in wanted)

    # Locating (proxy.html.sourcemap), while the tree has its original elements.

    def prepare(self, op: Op, nodes: list[LexborNode]) -> None:
        """Locate what ``op`` may change in ``nodes``, before it runs (see :meth:`Op.locate`)."""
        if not (self.splice and self.original):
            return
        self.source.know_order(op.selector.strip(), nodes)
        self.source.prefetch(nodes, self._upcoming)
        op.locate(self, nodes)

    def locate(self, node: LexborNode, *, whole: bool) -> None:
        """The operations' view of the source map (proxy.html.ops.base.Locator, with
        :meth:`select_first` and :meth:`check_ends_before`)."""
        self.source.locate(node, whole=whole)

    # Splicing.

    def _encode(self, text: str) -> bytes:
        return text.encode(self.codec, "xmlcharrefreplace")

    def _fold_tail(self, edits: list[Edit], key: int, at: Located, *, keep: bool) -> None:
        """The whitespace after ``</body>`` is the body's last content in the DOM (see
        :class:`~proxy.html.locate.Extent`): when the body's content is replaced it goes; when
        content is added at its end, it moves before what is added (``keep``)."""
        for a, b in at.tail:
            edits.append(Edit(a, b, RANGE, key))
        if keep:
            space = b"".join(self.buf[a:b] for a, b in at.tail).decode("ascii")
            # after the last child's "after" insertions and an empty body's prepends
            edits.append(Edit(at.content_end, at.content_end, PREPEND, key, space, order=1))

    def spliced(self) -> bytes | None:
        edits: list[Edit] = []
        located = self.source.located
        folded: set[int] = set()
        for key, edit in self.edits.items():
            at = located[key]
            if key in self.moving and (edit.before or edit.after):
                return None  # they went where the element was: the splice would move them
            if (edit.before or edit.outer is not None) and not self.ends_before.get(key, False):
                return None  # its start tag ends the previous element: they would land in it
            if (edit.before or edit.after) and at.name in _DOCUMENT:
                return None  # beside <html>, <head> or <body> is not a place a parser leaves
            attrs = None if edit.attrs is None else self.source.start_tag(at, edit.attrs)
            if not element_edits(edits, key, edit, at, attrs):
                return None
            if at.tail and (edit.content is not None or edit.append):
                self._fold_tail(edits, key, at, keep=edit.content is None)
                folded.add(key)
        for order, (key, to, where) in enumerate(self.moves, 1):
            at, target = located[key], located[to]
            pos, rank = {
                "before": (target.tag.start, BEFORE),
                "after": (target.extent_end, AFTER),
                "into": (target.content_end, APPEND),
            }[where]
            into = self.edits.get(to) if where == "into" else None
            if at.extent_end < 0 or pos < 0 or (into is not None and into.append):
                return None  # appends and pastes at one place: their order is not recorded
            if where == "into" and target.tail and to not in folded:
                self._fold_tail(edits, to, target, keep=True)
                folded.add(to)
            edits.append(Edit(at.tag.start, at.extent_end, RANGE, key, scope=CARRIED))
            source = (at.tag.start, at.extent_end, key)
            # each later "before" lands nearer the target, each later "after" right after it
            order = -order if where == "after" else order
            edits.append(Edit(pos, pos, rank, key, source=source, order=order))
        for key, occupant in self.slots:
            at, new = located[key], located[occupant]
            if at.extent_end < 0 or new.extent_end < 0:
                return None
            source = (new.tag.start, new.extent_end, occupant)
            edits.append(Edit(at.tag.start, at.extent_end, RANGE, key, "", CARRIED, source))
        return join(self.buf, edits, self._encode)

    def reserialised(self) -> bytes | None:
        """The modified tree re-serialised (see :mod:`proxy.html.reserialise`)."""
        return reserialise(self.parser, self.buf, self.bom, self.codec)
