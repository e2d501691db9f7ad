"""Splice the tracker tag into a page, changing no other byte (docs/design.md §3,
docs/reliability.md HR-01).

:func:`inject_tag` is the whole decision: which encoding the browser will use, whether the page can
be scanned safely in that encoding, where the tag goes (:mod:`proxy.html.scan`), and whether every
``<meta>`` Content-Security-Policy in the head can be edited to allow the tag. When any answer is
"no", it returns None and the caller serves the original bytes (fail open; fail closed on CSP).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from proxy.html.charset import (
    PRESCAN_BYTES,
    UTF16_CODECS,
    DocumentEncoding,
    determine_encoding,
    is_byte_scannable,
    whatwg_encoding,
)
from proxy.html.scan import MetaCsp, decode_attribute_value, find_insertion_point

__all__ = ["Injection", "inject_tag"]

_NON_ASCII = re.compile(r"[^\x00-\x7f]")
_UTF7 = re.compile(r"utf-?7", re.IGNORECASE)

MakeTag = str | Callable[[], str]
EditMetaCsp = Callable[[str], "str | None"]


@dataclass(frozen=True, slots=True)
class Injection:
    """The page with the tag in it.

    ``offset`` is where the tag went in the *original* body and ``inserted`` its bytes, so that
    ``body == original[:offset] + inserted + original[offset:]`` whenever no meta CSP was edited.
    ``head_end`` (original body too) is where the head ends: the meta CSPs were looked for up to
    there, so a caller holding only part of the page can tell whether it saw them all.
    """

    body: bytes
    offset: int
    inserted: bytes
    encoding: DocumentEncoding
    head_end: int  # in the original body: where its head ends (the scan's)


_LEADING_BLANK = re.compile(rb"[ \t\n\r\f]*")  # HTML's white space, any length


def _quoted(meta: MetaCsp, policy: str) -> str:
    """The text that replaces a meta CSP's value: escaped for its quotes, quoted if it was not."""
    escaped = policy.replace("&", "&amp;")
    if meta.quote == b"'":
        return escaped.replace("'", "&#39;")
    escaped = escaped.replace('"', "&quot;")
    return escaped if meta.quote else f'"{escaped}"'


def _csp_edits(
    metas: tuple[MetaCsp, ...],
    value_of: Callable[[MetaCsp], str],
    edit_meta_csp: EditMetaCsp | None,
) -> list[tuple[int, int, str]] | None:
    """Edits (start, end, new text) for the meta CSPs; None if one cannot be made to allow us."""
    edits: list[tuple[int, int, str]] = []
    if edit_meta_csp is None:  # the caller does not police CSP (it found no header policy)
        return edits
    for meta in metas:
        value = value_of(meta)
        policy = edit_meta_csp(value)
        if policy is None:
            return None
        if policy != value:
            edits.append((meta.value_start, meta.value_end, _quoted(meta, policy)))
    return edits


def _inject_bytes(
    body: bytes, make_tag: MakeTag, encoding: DocumentEncoding, edit_meta_csp: EditMetaCsp | None
) -> Injection | None:
    if b"\x00" in body[:PRESCAN_BYTES]:  # not HTML, whatever the Content-Type says (HR-02)
        return None
    if _not_a_document(body):  # JSON labelled text/html, an empty body (HR-11)
        return None
    scan = find_insertion_point(body, charset_known=encoding.source in ("bom", "header"))
    if scan is None or scan.already_injected:
        return None
    codec = encoding.codec
    edits = _csp_edits(
        scan.meta_csp,
        lambda meta: decode_attribute_value(body[meta.value_start : meta.value_end], codec),
        edit_meta_csp,
    )
    if edits is None:
        return None
    try:
        splices = [(start, end, new.encode(codec)) for start, end, new in edits]
    except UnicodeEncodeError:
        return None
    tag = _ascii_tag(make_tag)
    splices.append((scan.insert_at, scan.insert_at, tag))
    # memoryview: slices without copies, the page is copied once, by join
    new_body = b"".join(_pieces(memoryview(body), splices))
    return Injection(new_body, scan.insert_at, tag, encoding, scan.head_end)


class _Sliceable(Protocol):
    def __getitem__(self, index: slice, /) -> Any: ...


def _pieces(whole: _Sliceable, splices: Iterable[tuple[int, int, Any]]) -> list[Any]:
    """``whole`` cut at the splices' (start, end) and each replaced by its text, in order (meta
    CSPs may follow the tag: it goes in front of a ``<base>``)."""
    parts: list[Any] = []
    pos = 0
    for start, end, new in sorted(splices, key=_start):
        parts += (whole[pos:start], new)
        pos = end
    parts.append(whole[pos:])
    return parts


def _start(splice: tuple[int, int, object]) -> int:
    return splice[0]


def _not_a_document(body: bytes) -> bool:
    """Whether the body is nothing (white space at most) or opens as JSON does (``{`` or ``[``,
    after a BOM and white space): PHP labels its JSON ``text/html`` by default, and a tag in
    front of it breaks every ``JSON.parse`` of it. Text before any markup is still a page."""
    start = 3 if body.startswith(b"\xef\xbb\xbf") else 0
    blank = _LEADING_BLANK.match(body, start)
    first = blank.end() if blank else start
    return body[first : first + 1] in (b"", b"{", b"[")


def _inject_utf16(
    body: bytes, make_tag: MakeTag, encoding: DocumentEncoding, edit_meta_csp: EditMetaCsp | None
) -> Injection | None:
    """UTF-16: scan the decoded text (through an ASCII stand-in), splice, re-encode, verify."""
    codec, bom = encoding.codec, encoding.bom_length
    try:
        text = body[bom:].decode(codec, "surrogatepass")
    except UnicodeDecodeError:  # odd length
        return None
    if text.encode(codec, "surrogatepass") != body[bom:]:
        return None
    if text.lstrip(" \t\n\r\f")[:1] in ("", "{", "["):  # not a document (HR-11)
        return None
    # One byte per code point; "#" is inert wherever a non-ASCII character can stand.
    scan = find_insertion_point(_NON_ASCII.sub("#", text).encode("ascii"), charset_known=True)
    if scan is None or scan.already_injected:
        return None
    edits = _csp_edits(
        scan.meta_csp,
        lambda meta: decode_attribute_value(
            text[meta.value_start : meta.value_end].encode("utf-8", "surrogatepass")
        ),
        edit_meta_csp,
    )
    if edits is None:
        return None
    tag = _ascii_tag(make_tag).decode("ascii")
    spliced = "".join(_pieces(text, [*edits, (scan.insert_at, scan.insert_at, tag)]))
    new_body = body[:bom] + spliced.encode(codec, "surrogatepass")
    offset = bom + len(text[: scan.insert_at].encode(codec, "surrogatepass"))
    inserted = tag.encode(codec)
    if not edits and (
        new_body[:offset] != body[:offset] or new_body[offset + len(inserted) :] != body[offset:]
    ):
        return None
    head_end = bom + len(text[: scan.head_end].encode(codec, "surrogatepass"))
    return Injection(new_body, offset, inserted, encoding, head_end)


def _ascii_tag(make_tag: MakeTag) -> bytes:
    tag = make_tag() if callable(make_tag) else make_tag
    if not tag.isascii():
        raise ValueError("the injected tag must be ASCII")
    return tag.encode("ascii")


def inject_tag(
    body: bytes,
    tag: MakeTag,
    *,
    header_charset: str | None,
    edit_meta_csp: Callable[[str], str | None] | None = None,
) -> Injection | None:
    """Insert ``tag`` (ASCII markup) into the HTML ``body``; None when it must stay untouched.

    ``tag`` may be a function, called once after the ``<meta>`` policies were edited, so a caller
    can decide then what the tag needs (a CSP nonce only when some policy asked for one).

    ``header_charset`` is the raw charset label of the Content-Type header. ``edit_meta_csp`` gets
    each ``<meta http-equiv="Content-Security-Policy">`` value in the head and returns the
    policy to write back (the same string to keep it), or None when the policy cannot be made to
    allow the tag; the page is then refused. Only those values and the insertion point change.
    Refused too: binary bodies, stateful or "replacement" encodings, undecodable UTF-16, pages that
    already carry the tracker, and pages with no valid insertion point.
    """
    if header_charset and whatwg_encoding(header_charset) is None and _UTF7.search(header_charset):
        return None  # browsers ignore the label, but a stateful encoding was meant: fail open
    encoding = determine_encoding(body, header_charset)
    if encoding.codec in UTF16_CODECS:
        return _inject_utf16(body, tag, encoding, edit_meta_csp)
    if not is_byte_scannable(encoding.codec):
        return None
    return _inject_bytes(body, tag, encoding, edit_meta_csp)
