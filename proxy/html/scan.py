"""Find where the tracker tag goes, by running just enough of the HTML5 tokenizer over raw bytes.

The tag is spliced into the original bytes (DESIGN.md §3), so the splice point must be a token
boundary that a browser's tokenizer also sees, and the tag must land in ``<head>`` without moving
anything else in the tree. The scan follows the tokenizer (comments, bogus comments, doctype, tags
whose quoted attribute values may hold ``>``, RAWTEXT/RCDATA elements, script data with its escaped
and double-escaped states, ``<template>`` contents) and the tree builder's modes before ``<body>``.

The point is just before the first token that ends the head: ``</head>``, ``</body>``, ``</html>``,
``</br>``, a start tag the head does not allow, non-whitespace text, or the end of the document.
Everything in front of it is processed exactly as before, and the tag itself creates ``<html>`` and
``<head>`` where that token would have, so the tree gains one ``<script>`` and is otherwise
unchanged. Where no such point exists (a comment left open before ``<html>`` swallows the rest of
the file) the scan returns None and the page is served as it is.

Speed: one compiled pattern (``_PLAIN_RUN``) consumes a run of ordinary head markup per call, and
Python code handles only the tokens that need a decision. The scan reads bytes, which is exact for
every encoding :func:`proxy.html.charset.is_byte_scannable` accepts.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from html.entities import html5 as html5_entities

from proxy.html.charset import PRESCAN_BYTES, charset_from_meta_attributes, prescan_meta_charset

__all__ = ["TRACKER_PATH", "MetaCsp", "ScanResult", "find_insertion_point", "head_meta_charset"]

TRACKER_PATH = b"/__vernier/t.js"
"""A ``<script>`` whose src contains this is our tracker: such a page is not injected again."""

_NOT_TRACKER = rb"/(?!" + re.escape(TRACKER_PATH[1:]) + rb")"


def _tag_rest(*, name_guard: bytes = b"", values_without_tracker: bool = False) -> bytes:
    """Pattern for a tag after its name, up to ``>``, as the tokenizer reads it: an ``=`` after a
    name must be followed by a complete value, and quotes only open a value right after ``=``."""
    if values_without_tracker:
        quoted = [rb"%s(?:[^%s/]++|%s)*+%s" % (q, q, _NOT_TRACKER, q) for q in (b'"', b"'")]
        unquoted = rb"(?:[^\t\n\f\r >\"'/]|%s)(?:[^\t\n\f\r >/]++|%s)*+" % (
            _NOT_TRACKER,
            _NOT_TRACKER,
        )
    else:
        quoted, unquoted = [rb'"[^"]*+"', rb"'[^']*+'"], rb"[^\t\n\f\r >\"'][^\t\n\f\r >]*+"
    value = rb"(?:%s|%s|%s|(?=>))" % (quoted[0], quoted[1], unquoted)
    name = name_guard + rb"[^\t\n\f\r />][^\t\n\f\r />=]*+"
    ws_eq = rb"[\t\n\f\r ]*+="
    return rb"(?:[\t\n\f\r /]++|%s(?:%s[\t\n\f\r ]*+%s|(?!%s)))*+>" % (name, ws_eq, value, ws_eq)


_REST = _tag_rest()
_TAG_AT = re.compile(rb"<(/?)([A-Za-z][^\t\n\f\r />]*+)" + _REST)
_TAG_NAME = re.compile(rb"</?[A-Za-z][^\t\n\f\r />]*+")
_ATTRIBUTE = re.compile(
    rb"([^\t\n\f\r />][^\t\n\f\r />=]*+)(?:[\t\n\f\r ]*+=[\t\n\f\r ]*+"
    rb"""(?:"([^"]*+)"|'([^']*+)'|([^\t\n\f\r >"'][^\t\n\f\r >]*+))?)?"""
)
_END_OF_NAME = rb"(?=[\t\n\f\r />])"


def _element(name: bytes, rest: bytes, content_stop: bytes = b"") -> bytes:
    """Pattern for a whole script/RAWTEXT/RCDATA element (after its "<") whose content has no
    ``content_stop``."""
    end = rb"</(?i:%s)[\t\n\f\r />]" % name
    return rb"(?i:%s)%s%s(?:[^<]++|<(?!/(?i:%s)[\t\n\f\r />]%s))*+(?=%s)</[A-Za-z]++%s" % (
        name, _END_OF_NAME, rest, name, content_stop, end, _REST
    )  # fmt: skip


def _plain_run(meta_attributes: bytes) -> re.Pattern[bytes]:
    """A run of markup the scan only has to step over: whitespace, closed comments, doctypes, head
    elements with nothing to decide, end tags the head ignores. Not in it (handled one token at a
    time): metas with one of ``meta_attributes``, scripts with "<!--" or our tracker, templates,
    end tags that close the head, text, anything cut off by the end. Most frequent first."""
    guard = rb"(?!(?i:%s)[\t\n\f\r />=])" % meta_attributes
    return re.compile(
        rb"(?:[\t\n\f\r ]++|<(?:"
        rb"(?i:meta)" + _END_OF_NAME + _tag_rest(name_guard=guard)
        + rb"|(?i:link|html|head|base|basefont|bgsound)" + _END_OF_NAME + _REST
        + b"|" + _element(b"script", _tag_rest(values_without_tracker=True), b"|!--")
        + b"".join(b"|" + _element(n, _REST) for n in b"title style noscript noframes".split())
        + rb"|!--(?:-?>|(?:[^-]++|-(?!-!?>))*+--!?>)"  # comments, then bogus ones and "</>"
        + rb"|!(?!--)[^>]*+>|\?[^>]*+>|/(?:[^A-Za-z>][^>]*+)?>"
        + rb"|/(?!(?i:head|body|html|br)[\t\n\f\r />])[A-Za-z][^\t\n\f\r />]*+" + _REST
        + rb"))*+"
    )  # fmt: skip


_PLAIN_RUN = _plain_run(b"http-equiv")
_PLAIN_RUN_BUT_CHARSET = _plain_run(b"http-equiv|charset")
_NON_WS = re.compile(rb"[^\t\n\f\r ]")
# Character references that stand for whitespace: a head that holds only these is still open.
_WS_REFERENCE = re.compile(
    rb"&(?:#0*(?:9|10|12|13|32)(?![0-9])|#[xX]0*(?:[9aAcCdD]|20)(?![0-9a-fA-F])|Tab;|NewLine;);?"
)
_CHARACTER_REFERENCE = re.compile(r"&(#[0-9]+;?|#[xX][0-9a-fA-F]+;?|[A-Za-z][A-Za-z0-9]{0,31};?)")
_EQUIV = re.compile(rb"http-equiv", re.IGNORECASE)
_COMMENT_CLOSE = re.compile(rb"--!?>")
_SCRIPT_DATA = re.compile(rb"<(?:/(?i:script)[\t\n\f\r />]|!--)")
_SCRIPT_TAG = re.compile(rb"<(/?)(?i:script)[\t\n\f\r />]")
_TEXT_ELEMENTS = {
    name: re.compile(rb"</(?i:%s)[\t\n\f\r />]" % name)
    for name in b"style noframes noscript title textarea xmp iframe noembed".split()
}

_HEAD_ALLOWED = frozenset(
    b"html head base basefont bgsound link meta noframes script style template title noscript"
    .split()
)  # fmt: skip
_CLOSES_HEAD = frozenset((b"head", b"body", b"html", b"br"))
# Start tags after which this light tokenizer cannot tell where text ends: foreign content
# (CDATA, no RAWTEXT), <select> (ignores some RAWTEXT starts), <plaintext>, nested <template>.
_UNTRACKABLE = frozenset((b"svg", b"math", b"select", b"plaintext", b"template"))

# Token kinds returned by _token_at ("open": cut off by the end of the document).
_START, _END, _COMMENT, _DOCTYPE, _NOTHING, _TEXT = range(6)
_OPEN_TAG, _OPEN_COMMENT, _OPEN_DOCTYPE = range(6, 9)
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
    """Where the tag goes, the meta CSPs in front of it, whether the tracker is there already."""

    insert_at: int
    meta_csp: tuple[MetaCsp, ...]
    already_injected: bool


def _token_at(buf: bytes, i: int) -> tuple[int, bytes, int]:
    """The token that starts at ``buf[i] == b"<"``: (kind, lowercased tag name, end offset)."""
    tag = _TAG_AT.match(buf, i)
    if tag is not None:
        return (_END if tag.group(1) else _START), tag.group(2).lower(), tag.end()
    following = buf[i + 1 : i + 2]
    if following == b"!":
        if buf.startswith(b"<!--", i):
            if buf.startswith(b">", i + 4) or buf.startswith(b"->", i + 4):
                return _COMMENT, b"", buf.index(b">", i + 4) + 1
            close = _COMMENT_CLOSE.search(buf, i + 4)
            return (_COMMENT, b"", close.end()) if close else (_OPEN_COMMENT, b"", -1)
        end = buf.find(b">", i + 2) + 1
        if buf[i + 2 : i + 9].lower() == b"doctype":
            return (_DOCTYPE, b"", end) if end else (_OPEN_DOCTYPE, b"", -1)
        return (_COMMENT, b"", end) if end else (_OPEN_COMMENT, b"", -1)
    if following == b"/":
        after = buf[i + 2 : i + 3]
        if after == b">":
            return _NOTHING, b"", i + 3
        if not after:
            return _TEXT, b"", i + 1
        if after.isalpha():
            return _OPEN_TAG, b"", -1
    elif following.isalpha():
        return _OPEN_TAG, b"", -1
    elif following != b"?":
        return _TEXT, b"", i + 1
    end = buf.find(b">", i + 2) + 1  # bogus comment: "<?", "</" + non-letter
    return (_COMMENT, b"", end) if end else (_OPEN_COMMENT, b"", -1)


def _script_end(buf: bytes, pos: int) -> int:
    """Offset of the ``</script`` that closes script data starting at ``pos``, or -1 (EOF)."""
    escaped = double = False  # after "<!--"; after "<!--" then "<script"
    leave = -2  # the next "-->" at or after pos (-1: none), found once per stretch: no rescans
    while True:
        if not escaped:
            m = _SCRIPT_DATA.search(buf, pos)
            if m is None:
                return -1
            if m.group()[1] == 0x2F:
                return m.start()
            escaped, pos = True, m.end() - 2  # the "--" of "<!--" may already start "-->"
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


def _skip_element(buf: bytes, name: bytes, pos: int) -> int:
    """Offset after the end tag of the script/RAWTEXT/RCDATA element whose content is at ``pos``."""
    if name == b"script":
        close = _script_end(buf, pos)
    else:
        m = _TEXT_ELEMENTS[name].search(buf, pos)
        close = -1 if m is None else m.start()
    end_tag = None if close < 0 else _TAG_AT.match(buf, close)
    return -1 if end_tag is None else end_tag.end()


def _skip_template(buf: bytes, pos: int) -> int:
    """Offset after the ``</template>`` that closes a template whose contents start at ``pos``.

    -1 when the template runs to the end of the document or holds content this tokenizer does not
    follow; the caller then inserts before the template, which is always a valid point.
    """
    depth = 1
    while (i := buf.find(b"<", pos)) >= 0:
        kind, name, end = _token_at(buf, i)
        if kind == _START:
            if name == b"template":
                depth += 1
            elif name in _UNTRACKABLE:
                return -1
            elif name in _TEXT_ELEMENTS or name == b"script":
                end = _skip_element(buf, name, end)
        elif kind == _END and name == b"template":
            depth -= 1
            if depth == 0:
                return end
        if end < 0:
            return -1
        pos = end
    return -1


def _attributes(buf: bytes, start: int, end: int) -> dict[bytes, tuple[int, int, bytes]]:
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


class _Walk:
    """One pass over a document: the tokens in front of the insertion point and what they hold."""

    def __init__(self, buf: bytes, *, find_charset: bool = False) -> None:
        self.buf = buf
        self.find_charset = find_charset
        self.meta_csp: list[MetaCsp] = []
        self.charset: str | None = None
        self.tracker = False

    def visit_start_tag(self, start: int, end: int, name: bytes) -> None:
        """Note what a ``<script>`` or ``<meta>`` tag in front of the point means for us."""
        buf = self.buf
        if name == b"script":
            if buf.find(TRACKER_PATH, start, end) >= 0:
                src = _attributes(buf, start, end).get(b"src")
                self.tracker |= src is not None and TRACKER_PATH in buf[src[0] : src[1]]
        elif name == b"meta" and (self.find_charset or _EQUIV.search(buf, start, end)):
            attrs = _attributes(buf, start, end)
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
        plain_run = _PLAIN_RUN_BUT_CHARSET if self.find_charset else _PLAIN_RUN
        while True:
            if fast:  # the tree-builder mode is not followed here; see the open comment case
                run = plain_run.match(buf, pos)  # always matches, possibly empty
                pos = pos if run is None else run.end()
            if (m := _NON_WS.search(buf, pos)) is None:
                return len(buf)
            i = m.start()
            if buf[i] != 0x3C:
                if buf[i] == 0x26 and (ref := _WS_REFERENCE.match(buf, i)) is not None:
                    pos = ref.end()
                    continue
                return i
            kind, name, end = _token_at(buf, i)
            if kind == _START:
                if name not in _HEAD_ALLOWED:
                    return i
                mode = max(mode, _BEFORE_HEAD if name == b"html" else _IN_HEAD)
                self.visit_start_tag(i, end, name)
                if name == b"template":
                    end = _skip_template(buf, end)
                elif name in _TEXT_ELEMENTS or name == b"script":
                    end = _skip_element(buf, name, end)
                if end < 0:  # the element runs to the end: the tag can go in front of it
                    return i
            elif kind == _END:
                if name in _CLOSES_HEAD:
                    return i
                mode = max(mode, _BEFORE_HTML)
            elif kind == _DOCTYPE:
                mode = max(mode, _BEFORE_HTML)
            elif kind in (_TEXT, _OPEN_TAG):
                return i
            elif kind in (_OPEN_COMMENT, _OPEN_DOCTYPE) and fast:  # rare: redo, following modes
                self.meta_csp, self.charset, self.tracker = [], None, False
                return self.head(start, fast=False)
            elif kind == _OPEN_COMMENT:  # the comment would move into the head unless already there
                return i if mode == _IN_HEAD else None
            elif kind == _OPEN_DOCTYPE:  # only a first-token doctype counts
                return i if mode != _INITIAL else None
            pos = end

    def to_meta(self, pos: int, target: int) -> int:
        """End of the ``<meta>`` at ``target`` if the tokenizer meets it as a tag, else -1."""
        buf = self.buf
        while 0 <= (i := buf.find(b"<", pos)) <= target:
            kind, name, end = _token_at(buf, i)
            if i == target:
                return end if kind == _START and name == b"meta" else -1
            if kind == _START:
                if name in _UNTRACKABLE or name == b"frameset":  # a frameset drops later scripts
                    return -1
                self.visit_start_tag(i, end, name)
                if name in _TEXT_ELEMENTS or name == b"script":
                    end = _skip_element(buf, name, end)
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
    """
    walk = _Walk(body)
    insert_at = walk.head(3 if body.startswith(b"\xef\xbb\xbf") else 0)
    if insert_at is None:
        return None
    if not charset_known and insert_at < PRESCAN_BYTES:
        declared = prescan_meta_charset(body)
        if declared is not None and declared.tag_end > insert_at:
            moved = walk.to_meta(insert_at, declared.tag_start)
            if moved < 0:
                return None
            insert_at = moved
    tag = _TAG_AT.match(body, insert_at)
    if tag is not None and not tag.group(1) and tag.group(2).lower() == b"script":
        walk.visit_start_tag(insert_at, tag.end(), b"script")
    return ScanResult(insert_at, tuple(walk.meta_csp), walk.tracker)


def head_meta_charset(body: bytes) -> str | None:
    """The WHATWG encoding a ``<meta>`` in the head declares, at any distance from the start.

    Browsers honour such a declaration even past the 1024-byte prescan ("change the encoding" in
    the HTML standard's "in head" rules), so :func:`proxy.html.charset.determine_encoding` asks.
    """
    walk = _Walk(body, find_charset=True)
    walk.head(3 if body.startswith(b"\xef\xbb\xbf") else 0)
    return walk.charset
