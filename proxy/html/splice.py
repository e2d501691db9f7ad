"""Turn the per-element change records of a rewrite into new bytes, keeping every other byte.

:mod:`proxy.html.rewrite_tree` located each changed element in the original bytes; here each
change becomes an :class:`Edit` of a byte range, and the document is rebuilt from the original
bytes and the edits (docs/design.md §3). A moved element (``move``, ``reorder``) is an edit that
cuts its bytes and an edit that pastes a copy elsewhere; the copy is the element's original bytes
with the edits inside it applied, so changes made to it or its descendants, before or after the
move, travel with it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from proxy.html.edits import ElementEdit
from proxy.html.sourcemap import LEADING_NEWLINE, Located

__all__ = [
    "AFTER",
    "APPEND",
    "BEFORE",
    "CARRIED",
    "PREPEND",
    "RANGE",
    "Edit",
    "element_edits",
    "join",
]

# Rank of an edit among edits at the same offset: what follows an element comes before what
# precedes the next one; an element's own range edit comes last. An empty element's content
# starts where it ends: its prepends come before its appends (and pastes into it).
AFTER, PREPEND, APPEND, BEFORE, RANGE = range(5)
CONTENT, ELEMENT, CARRIED = 1, 2, 3  # what a range edit replaces (Edit.scope)
_MAX_DEPTH = 64  # pastes nested in pasted copies; the DOM makes cycles impossible, this bounds it


@dataclass(frozen=True, slots=True)
class Edit:
    """Replace ``buf[start:end]`` with ``text``, or with a copy of the element ``source`` =
    (start, end, element) as edited (a paste).

    ``owner``: the element the edit belongs to (for a paste: the element pasted). ``scope``: 0,
    or what the range replaces: ``CONTENT`` (the owner's content: edits inside come from elements
    that are gone), ``ELEMENT`` (the whole owner, likewise), ``CARRIED`` (the owner's bytes, whose
    edits travel with a copy pasted elsewhere).
    """

    start: int
    end: int
    rank: int
    owner: int
    text: str = ""
    scope: int = 0
    source: tuple[int, int, int] | None = None
    order: int = 0  # among pastes at one offset and rank: the smaller first


def element_edits(
    out: list[Edit], key: int, edit: ElementEdit, at: Located, start_tag: str | None
) -> bool:
    """Append the edits of the changed element ``key`` located at ``at`` (``start_tag``: its new
    start tag, if its attributes changed) to ``out``; False when its extent is not known."""
    s, e, end, ce = at.tag.start, at.tag.end, at.extent_end, at.content_end
    if edit.needs_extent and end < 0:
        return False
    if edit.before:
        out.append(Edit(s, s, BEFORE, key, "".join(edit.before)))
    if edit.outer is not None:
        out.append(Edit(s, end, RANGE, key, edit.outer, ELEMENT))
    else:
        prepend, append = "".join(edit.prepend), "".join(edit.append)
        content = edit.content
        if at.name in LEADING_NEWLINE:
            # The parser drops a newline right after the start tag: a newline the new content
            # starts with needs one more, and prepends go after one the source has.
            e += at.newline
            if content is not None and content.startswith("\n"):
                content = "\n" + content
            elif at.newline == 0 and (prepend or (append if e == ce else "")).startswith("\n"):
                if prepend:
                    prepend = "\n" + prepend
                else:
                    append = "\n" + append
        if start_tag is not None:
            out.append(Edit(s, at.tag.end, RANGE, key, start_tag))
        if content is not None:
            out.append(Edit(at.tag.end, ce, RANGE, key, content, CONTENT))
        if edit.prepend:
            out.append(Edit(e, e, PREPEND, key, prepend))
        if edit.append:
            out.append(Edit(ce, ce, APPEND, key, append))
    if edit.after:
        out.append(Edit(end, end, AFTER, key, "".join(edit.after)))
    return True


def _carried(x: Edit, owner: int, lo: int, hi: int) -> bool:
    """True when ``x`` changes the element ``owner`` spanning ``buf[lo:hi]`` or something in it
    (so it travels with a copy of those bytes); not the element's before/after insertions."""
    if x.owner == owner and x.source is None:
        return x.rank not in (BEFORE, AFTER) and x.scope != CARRIED
    return lo < x.start and x.end < hi


def _covered(x: Edit, r: Edit) -> bool:
    """True when range edit ``r`` takes ``x`` out of the current range (``x`` is not emitted)."""
    if x is r:
        return False
    if r.scope == CARRIED:
        return _carried(x, r.owner, r.start, r.end)
    if x.owner == r.owner and x.source is None:
        return False
    if r.scope == CONTENT:  # a descendant's edits may touch the content's ends
        return r.start <= x.start and x.end <= r.end
    return r.start < x.start and x.end < r.end  # neighbours' edits may touch the element's ends


class _Joiner:
    def __init__(self, buf: bytes, edits: Sequence[Edit], encode: Callable[[str], bytes]) -> None:
        self.buf, self.edits, self.encode = memoryview(buf), edits, encode  # slices: no copies

    def render(self, lo: int, hi: int, owner: int | None, depth: int) -> bytes | None:
        """``buf[lo:hi]`` with the edits that belong to it (all, or those carried by ``owner``)."""
        if depth > _MAX_DEPTH:
            return None
        mine = [
            x
            for x in self.edits
            if lo <= x.start and x.end <= hi and (owner is None or _carried(x, owner, lo, hi))
        ]
        covers = [r for r in mine if r.scope]
        kept = sorted(
            (x for x in mine if not any(_covered(x, r) for r in covers)),
            key=lambda x: (x.start, x.rank, x.order),
        )
        out: list[bytes | memoryview] = []
        cursor = lo
        previous: Edit | None = None
        for x in kept:
            if x.start < cursor:
                return None
            if (
                previous is not None
                and (previous.start, previous.rank) == (x.start, x.rank)
                and (x.source is None) != (previous.source is None)
            ):
                return None  # an insertion and a paste at one place: their order is lost
            if not _append(out, self.buf[cursor : x.start]):
                return None
            if x.source is None:
                piece: bytes | None = self.encode(x.text)
            else:
                piece = self.render(*x.source, depth + 1)
            if piece is None or not _append(out, piece):
                return None
            cursor, previous = x.end, x
        return b"".join(out) if _append(out, self.buf[cursor:hi]) else None


def _append(out: list[bytes | memoryview], piece: bytes | memoryview) -> bool:
    """Append ``piece`` to ``out``; False when a CR ends ``out`` and an LF starts ``piece``: the
    parser would read the two, apart before, as one line break."""
    if piece:
        if piece[:1] == b"\n" and out and out[-1][-1:] == b"\r":
            return False
        out.append(piece)
    return True


def join(buf: bytes, edits: Sequence[Edit], encode: Callable[[str], bytes]) -> bytes | None:
    """``buf`` with ``edits`` applied (texts encoded with ``encode``); None when two edits
    overlap, the order of two insertions at one offset is ambiguous, or a CR and an LF that
    were apart would meet."""
    return _Joiner(buf, edits, encode).render(0, len(buf), None, 0)
