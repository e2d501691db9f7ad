"""Find where the tracker tag goes, by running just enough of the HTML5 tokenizer over raw bytes.

The tag is spliced into the original bytes (docs/design.md §3), so the splice point must be a token
boundary that a browser's tokenizer also sees, and the tag must land in ``<head>`` without moving
anything else in the tree. The scan follows the tokenizer (:mod:`proxy.html.tokens`: comments,
bogus comments, doctype, tags whose quoted attribute values may hold ``>``, RAWTEXT/RCDATA elements,
script data with its escaped and double-escaped states, ``<template>`` contents) and the tree
builder's modes before ``<body>``.

The point is just before the first token that ends the head: ``</head>``, ``</body>``, ``</html>``,
``</br>``, a start tag the head does not allow, non-whitespace text, or the end of the document;
or, when the head holds a ``<base href>``, just before it: a script's ``src`` is resolved against
the document's base URL when the parser meets the script, and a ``<base>`` naming another origin
(a CDN) would send the tracker's request there.
Everything in front of it is processed exactly as before, and the tag itself creates ``<html>`` and
``<head>`` where that token would have, so the tree gains one ``<script>`` and is otherwise
unchanged. Where no such point exists (a comment left open before ``<html>`` swallows the rest of
the file) the scan returns None and the page is served as it is.

Speed: one compiled pattern (:func:`proxy.html.runs.plain_run`) steps over a run of ordinary head
markup per call, and Python code handles only the tokens that need a decision. The scan reads
bytes, which is exact for every encoding :func:`proxy.html.charset.is_byte_scannable` accepts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from proxy.html.prescan import PRESCAN_BYTES, charset_from_meta_attributes, prescan_meta_charset
from proxy.html.runs import plain_run
from proxy.html.tokens import (
    CLOSES_HEAD,
    DOCTYPE,
    END,
    HEAD_ALLOWED,
    OPEN_COMMENT,
    OPEN_DOCTYPE,
    OPEN_TAG,
    START,
    TAG_AT,
    TEXT,
    TEXT_ELEMENTS,
    TRACKER_PATH,
    UNTRACKABLE,
    attributes,
    decode_attribute_value,
    skip_element,
    token_at,
)

__all__ = [
    "TRACKER_PATH",
    "MetaCsp",
    "ScanResult",
    "decode_attribute_value",
    "find_insertion_point",
    "head_meta_charset",
]

# The longest tag the scan makes room for in front of a <meta charset> (Vernier's is ~130 bytes
# with a nonce and the consent attribute).
MAX_TAG_BYTES = 256
_PLAIN_RUN = plain_run(find_charset=False)
_PLAIN_RUN_BUT_CHARSET = plain_run(find_charset=True)
_NON_WS = re.compile(rb"[^\t\n\f\r ]")
# Character references that stand for whitespace: a head that holds only these is still open.
_WS_REFERENCE = re.compile(
    rb"&(?:#0*(?:9|10|12|13|32)(?![0-9])|#[xX]0*(?:[9aAcCdD]|20)(?![0-9a-fA-F])|Tab;|NewLine;);?"
)
_EQUIV = re.compile(rb"http-equiv", re.IGNORECASE)
# Tree-builder modes before the head closes, as far as they matter here.
_INITIAL, _BEFORE_HTML, _BEFORE_HEAD, _IN_HEAD = range(4)


@dataclass(frozen=True, slots=True)
class MetaCsp:
    """A ``<meta http-equiv="Content-Security-Policy">`` in the head, located for in-place edits."""

    value_start: int
    value_end: int
    quote: bytes
    value: str


@dataclass(frozen=True, slots=True)
class ScanResult:
    """Where the tag goes, the head's meta CSPs, whether the tracker is there already."""

    insert_at: int
    meta_csp: tuple[MetaCsp, ...]
    already_injected: bool
    head_end: int  # where the head ends: insert_at, or later when the tag goes before a <base>


def _skip_template(buf: bytes, pos: int) -> int:
    """Offset after the ``</template>`` that closes a template whose contents start at ``pos``.

    -1 when the template runs to the end of the document or holds content this tokenizer does not
    follow; the caller then inserts before the template, which is always a valid point.
    """
    depth = 1
    while (i := buf.find(b"<", pos)) >= 0:
        kind, name, end = token_at(buf, i)
        if kind == START:
            if name == b"template":
                depth += 1
            elif name in UNTRACKABLE:
                return -1
            elif name in TEXT_ELEMENTS or name == b"script":
                end = skip_element(buf, name, end)
        elif kind == END and name == b"template":
            depth -= 1
            if depth == 0:
                return end
        if end < 0:
            return -1
        pos = end
    return -1


class _Walk:
    """One pass over a document: the tokens in front of the insertion point and what they hold."""

    def __init__(self, buf: bytes, *, find_charset: bool = False) -> None:
        self.buf = buf
        self.find_charset = find_charset
        self.meta_csp: list[MetaCsp] = []
        self.charset: str | None = None
        self.tracker = False
        self.base: int | None = None  # where the first <base href> starts

    def visit_start_tag(self, start: int, end: int, name: bytes) -> None:
        """Note what a ``<script>`` or ``<meta>`` tag in front of the point means for us."""
        buf = self.buf
        if name == b"script":
            if buf.find(TRACKER_PATH, start, end) >= 0:
                src = attributes(buf, start, end).get(b"src")
                self.tracker |= src is not None and TRACKER_PATH in buf[src[0] : src[1]]
        elif name == b"base":
            if self.base is None and b"href" in attributes(buf, start, end):
                self.base = start
        elif name == b"meta" and (self.find_charset or _EQUIV.search(buf, start, end)):
            attrs = attributes(buf, start, end)
            equiv, content = attrs.get(b"http-equiv"), attrs.get(b"content")
            if self.find_charset and self.charset is None:
                raw = [
                    None if a is None else buf[a[0] : a[1]] for a in (attrs.get(b"charset"), equiv)
                ]
                self.charset = charset_from_meta_attributes(
                    raw[0], raw[1], None if content is None else buf[content[0] : content[1]]
                )
            if equiv is None or content is None or content[0] == content[1]:
                return
            if (
                decode_attribute_value(buf[equiv[0] : equiv[1]]).lower()
                == "content-security-policy"
            ):
                value = decode_attribute_value(buf[content[0] : content[1]])
                self.meta_csp.append(MetaCsp(content[0], content[1], content[2], value))

    def head(self, pos: int, *, fast: bool = True) -> int | None:
        """The insertion point: the start of the first token that ends the head (module doc)."""
        buf, mode, start = self.buf, _INITIAL, pos
        plain = _PLAIN_RUN_BUT_CHARSET if self.find_charset else _PLAIN_RUN
        while True:
            if fast:  # the tree-builder mode is not followed here; see the open comment case
                run = plain.match(buf, pos)  # always matches, possibly empty
                pos = pos if run is None else run.end()
            if (m := _NON_WS.search(buf, pos)) is None:
                return len(buf)
            i = m.start()
            if buf[i] != 0x3C:
                if buf[i] == 0x26 and (ref := _WS_REFERENCE.match(buf, i)) is not None:
                    pos = ref.end()
                    continue
                return i
            kind, name, end = token_at(buf, i)
            if kind == START:
                if name not in HEAD_ALLOWED:
                    return i
                mode = max(mode, _BEFORE_HEAD if name == b"html" else _IN_HEAD)
                self.visit_start_tag(i, end, name)
                if name == b"template":
                    end = _skip_template(buf, end)
                elif name in TEXT_ELEMENTS or name == b"script":
                    end = skip_element(buf, name, end)
                if end < 0:  # the element runs to the end: the tag can go in front of it
                    return i
            elif kind == END:
                if name in CLOSES_HEAD:
                    return i
                mode = max(mode, _BEFORE_HTML)
            elif kind == DOCTYPE:
                mode = max(mode, _BEFORE_HTML)
            elif kind in (TEXT, OPEN_TAG):
                return i
            elif kind in (OPEN_COMMENT, OPEN_DOCTYPE) and fast:  # rare: redo, following modes
                self.meta_csp, self.charset, self.tracker, self.base = [], None, False, None
                return self.head(start, fast=False)
            elif kind == OPEN_COMMENT:  # the comment would move into the head unless already there
                return i if mode == _IN_HEAD else None
            elif kind == OPEN_DOCTYPE:  # only a first-token doctype counts
                return i if mode != _INITIAL else None
            pos = end

    def to_meta(self, pos: int, target: int) -> int:
        """End of the ``<meta>`` at ``target`` if the tokenizer meets it as a tag, else -1."""
        buf = self.buf
        while 0 <= (i := buf.find(b"<", pos)) <= target:
            kind, name, end = token_at(buf, i)
            if i == target:
                return end if kind == START and name == b"meta" else -1
            if kind == START:
                if name in UNTRACKABLE or name == b"frameset":  # a frameset drops later scripts
                    return -1
                self.visit_start_tag(i, end, name)
                if name in TEXT_ELEMENTS or name == b"script":
                    end = skip_element(buf, name, end)
            if end < 0:
                return -1
            pos = end
        return -1


def find_insertion_point(body: bytes, *, charset_known: bool) -> ScanResult | None:
    """Where to splice the tracker tag into ``body`` (an ASCII-compatible encoding), or None.

    ``charset_known`` is False when neither a BOM nor the Content-Type header fixes the encoding:
    then a ``<meta>`` charset declaration after the point but inside the 1024-byte prescan window
    would be pushed out of it, so the point moves to just after that ``<meta>`` (or the page is
    refused when that is not a clean token boundary). ``already_injected`` looks at the scripts in
    front of the point and right after it, which is where any Vernier puts the tracker.

    ``meta_csp`` are the head's, up to ``head_end``: in front of a ``<base href>`` (module doc)
    some are after the point. A caller that has only part of the document knows every one of
    them only when ``head_end`` is inside that part.
    """
    walk = _Walk(body)
    insert_at = walk.head(3 if body.startswith(b"\xef\xbb\xbf") else 0)
    if insert_at is None:
        return None
    head_end = insert_at
    first = insert_at if walk.base is None else min(insert_at, walk.base)
    declared = None if charset_known or first >= PRESCAN_BYTES else prescan_meta_charset(body)
    if (
        walk.base is not None
        and walk.base < insert_at
        and (  # a <meta charset> after it stays inside the prescan window
            declared is None
            or declared.tag_end <= walk.base
            or declared.tag_end + MAX_TAG_BYTES <= PRESCAN_BYTES
        )
    ):
        insert_at = walk.base
    elif declared is not None and insert_at < declared.tag_end:
        moved = walk.to_meta(insert_at, declared.tag_start)
        if moved < 0:
            return None
        insert_at = moved
    tag = TAG_AT.match(body, insert_at)
    if tag is not None and not tag.group(1) and tag.group(2).lower() == b"script":
        walk.visit_start_tag(insert_at, tag.end(), b"script")
    return ScanResult(insert_at, tuple(walk.meta_csp), walk.tracker, head_end)


def head_meta_charset(body: bytes) -> str | None:
    """The WHATWG encoding a ``<meta>`` in the head declares, at any distance from the start.

    Browsers honour such a declaration even past the 1024-byte prescan ("change the encoding" in
    the HTML standard's "in head" rules), so :func:`proxy.html.charset.determine_encoding` asks.
    """
    walk = _Walk(body, find_charset=True)
    walk.head(3 if body.startswith(b"\xef\xbb\xbf") else 0)
    return walk.charset
