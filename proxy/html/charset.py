"""Which encoding a browser will use for an HTML page (WHATWG "determining the character encoding").

The proxy never re-encodes a page it only injects into: it splices bytes. It still has to know the
encoding, for three reasons: the tag must be encoded like the page (UTF-16 pages), the HTML scan may
only run over raw bytes when the encoding keeps ASCII bytes ASCII, and the insertion must not push a
``<meta charset>`` out of the 1024-byte window a browser prescans (that would change the encoding).

Order, as in browsers: byte order mark > ``charset`` of the ``Content-Type`` header > ``<meta>``
(the prescan of the first 1024 bytes, then a ``<meta>`` anywhere in the head, which the parser's
"change the encoding" step honours) > the windows-1252 default. The label table and codec mapping
are in :mod:`proxy.html.encodings`, the ``<meta>`` rules in :mod:`proxy.html.prescan`; their names
are re-exported here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from proxy.html.encodings import _BYTE_SCANNABLE as _BYTE_SCANNABLE  # for the tests
from proxy.html.encodings import _LABEL_TO_NAME as _LABEL_TO_NAME
from proxy.html.encodings import (
    REPLACEMENT,
    UTF16_CODECS,
    is_byte_scannable,
    python_codec,
    whatwg_encoding,
)
from proxy.html.prescan import (
    PRESCAN_BYTES,
    MetaCharset,
    charset_from_meta_attributes,
    prescan_meta_charset,
)
from proxy.html.scan import head_meta_charset

__all__ = [
    "PRESCAN_BYTES",
    "REPLACEMENT",
    "UTF16_CODECS",
    "DocumentEncoding",
    "MetaCharset",
    "charset_from_content_type",
    "charset_from_meta_attributes",
    "determine_encoding",
    "is_byte_scannable",
    "prescan_meta_charset",
    "whatwg_encoding",
]

_python_codec = python_codec  # the name the tests use


@dataclass(frozen=True, slots=True)
class DocumentEncoding:
    """How the document's bytes are to be read.

    ``codec`` is a Python codec name, except :data:`REPLACEMENT` (never decode such a page).
    Python's codecs are stricter than WHATWG decoders (cp1252 lacks 0x81, 0x8D, 0x8F, 0x90, 0x9D):
    decode with an error handler. ``source`` says which rule decided: "bom", "header", "meta" or
    "default" (nothing declared an encoding).
    """

    codec: str
    source: str
    bom_length: int


_DEFAULT = DocumentEncoding("cp1252", "default", 0)
_BOMS = (
    (b"\xef\xbb\xbf", "utf-8"),
    (b"\xfe\xff", "utf-16-be"),
    (b"\xff\xfe", "utf-16-le"),
)
_PARAMETER = re.compile(r';[ \t\n\r]*([^;=]*)(?:=("(?:[^"\\]|\\.)*"?|[^;]*))?')
_QUOTED_PAIR = re.compile(r"\\(.)")
_BAD_PARAMETER_VALUE = re.compile(r"[^\t\x20-\x7e\x80-\xff]")


def charset_from_content_type(content_type: str | None) -> str | None:
    """The raw ``charset`` parameter of a Content-Type value (WHATWG MIME type parsing), or None."""
    if not content_type or ";" not in content_type:
        return None
    for m in _PARAMETER.finditer(content_type, content_type.index(";")):
        raw = m.group(2)
        if m.group(1).lower() != "charset" or raw is None:
            continue
        if raw.startswith('"'):
            value = _QUOTED_PAIR.sub(r"\1", raw[1:].removesuffix('"'))
        else:
            value = raw.rstrip(" \t\n\r")
        if value and not _BAD_PARAMETER_VALUE.search(value):
            return value
    return None


def determine_encoding(body: bytes, header_label: str | None) -> DocumentEncoding:
    """BOM > Content-Type charset > ``<meta>`` (prescan, then in the head) > windows-1252.

    ``source == "default"`` means nothing declared an encoding: windows-1252 is the spec's default
    for most locales, and the caller should treat the encoding as unknown.
    """
    for bom, codec in _BOMS:
        if body.startswith(bom):
            return DocumentEncoding(codec, "bom", len(bom))
    if header_label:
        name = whatwg_encoding(header_label)
        if name is not None:
            return DocumentEncoding(python_codec(name), "header", 0)
    meta = prescan_meta_charset(body)
    if meta is not None:
        return DocumentEncoding(python_codec(meta.encoding), "meta", 0)
    late = head_meta_charset(body)
    if late is not None:
        return DocumentEncoding(python_codec(late), "meta", 0)
    return _DEFAULT
