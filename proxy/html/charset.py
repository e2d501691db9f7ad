"""Which encoding a browser will use for an HTML page (WHATWG "determining the character encoding").

The proxy never re-encodes a page it only injects into: it splices bytes. It still has to know the
encoding, for three reasons: the tag must be encoded like the page (UTF-16 pages), the HTML scan may
only run over raw bytes when the encoding keeps ASCII bytes ASCII, and the insertion must not push a
``<meta charset>`` out of the 1024-byte window a browser prescans (that would change the encoding).

Order, as in browsers: byte order mark > ``charset`` of the ``Content-Type`` header > ``<meta>``
(the prescan of the first 1024 bytes, then a ``<meta>`` anywhere in the head, which the parser's
"change the encoding" step honours) > the windows-1252 default. Labels are mapped with the WHATWG
Encoding Standard's label table, then to the nearest Python codec.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

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

PRESCAN_BYTES = 1024
"""Browsers look for a ``<meta>`` charset declaration only this far into the document."""

REPLACEMENT = "replacement"
"""Sentinel codec for the WHATWG "replacement" encoding (ISO-2022-KR/CN, HZ labels): a browser shows
such a page as a single U+FFFD, so it must be passed through untouched. Not a Python codec."""

# WHATWG Encoding Standard label table (encodings.json), as name -> labels.
_LABELS = {
    "utf-8": "unicode-1-1-utf-8 unicode11utf8 unicode20utf8 utf-8 utf8 x-unicode20utf8",
    "ibm866": "866 cp866 csibm866 ibm866",
    "iso-8859-2": "csisolatin2 iso-8859-2 iso-ir-101 iso8859-2 iso88592 iso_8859-2 "
    "iso_8859-2:1987 l2 latin2",
    "iso-8859-3": "csisolatin3 iso-8859-3 iso-ir-109 iso8859-3 iso88593 iso_8859-3 "
    "iso_8859-3:1988 l3 latin3",
    "iso-8859-4": "csisolatin4 iso-8859-4 iso-ir-110 iso8859-4 iso88594 iso_8859-4 "
    "iso_8859-4:1988 l4 latin4",
    "iso-8859-5": "csisolatincyrillic cyrillic iso-8859-5 iso-ir-144 iso8859-5 iso88595 "
    "iso_8859-5 iso_8859-5:1988",
    "iso-8859-6": "arabic asmo-708 csiso88596e csiso88596i csisolatinarabic ecma-114 iso-8859-6 "
    "iso-8859-6-e iso-8859-6-i iso-ir-127 iso8859-6 iso88596 iso_8859-6 iso_8859-6:1987",
    "iso-8859-7": "csisolatingreek ecma-118 elot_928 greek greek8 iso-8859-7 iso-ir-126 "
    "iso8859-7 iso88597 iso_8859-7 iso_8859-7:1987 sun_eu_greek",
    "iso-8859-8": "csiso88598e csisolatinhebrew hebrew iso-8859-8 iso-8859-8-e iso-ir-138 "
    "iso8859-8 iso88598 iso_8859-8 iso_8859-8:1988 visual",
    "iso-8859-8-i": "csiso88598i iso-8859-8-i logical",
    "iso-8859-10": "csisolatin6 iso-8859-10 iso-ir-157 iso8859-10 iso885910 l6 latin6",
    "iso-8859-13": "iso-8859-13 iso8859-13 iso885913",
    "iso-8859-14": "iso-8859-14 iso8859-14 iso885914",
    "iso-8859-15": "csisolatin9 iso-8859-15 iso8859-15 iso885915 iso_8859-15 l9",
    "iso-8859-16": "iso-8859-16",
    "koi8-r": "cskoi8r koi koi8 koi8-r koi8_r",
    "koi8-u": "koi8-ru koi8-u",
    "macintosh": "csmacintosh mac macintosh x-mac-roman",
    "windows-874": "dos-874 iso-8859-11 iso8859-11 iso885911 tis-620 windows-874",
    "windows-1250": "cp1250 windows-1250 x-cp1250",
    "windows-1251": "cp1251 windows-1251 x-cp1251",
    "windows-1252": "ansi_x3.4-1968 ascii cp1252 cp819 csisolatin1 ibm819 iso-8859-1 iso-ir-100 "
    "iso8859-1 iso88591 iso_8859-1 iso_8859-1:1987 l1 latin1 us-ascii windows-1252 x-cp1252",
    "windows-1253": "cp1253 windows-1253 x-cp1253",
    "windows-1254": "cp1254 csisolatin5 iso-8859-9 iso-ir-148 iso8859-9 iso88599 iso_8859-9 "
    "iso_8859-9:1989 l5 latin5 windows-1254 x-cp1254",
    "windows-1255": "cp1255 windows-1255 x-cp1255",
    "windows-1256": "cp1256 windows-1256 x-cp1256",
    "windows-1257": "cp1257 windows-1257 x-cp1257",
    "windows-1258": "cp1258 windows-1258 x-cp1258",
    "x-mac-cyrillic": "x-mac-cyrillic x-mac-ukrainian",
    "gbk": "chinese csgb2312 csiso58gb231280 gb2312 gb_2312 gb_2312-80 gbk iso-ir-58 x-gbk",
    "gb18030": "gb18030",
    "big5": "big5 big5-hkscs cn-big5 csbig5 x-x-big5",
    "euc-jp": "cseucpkdfmtjapanese euc-jp x-euc-jp",
    "iso-2022-jp": "csiso2022jp iso-2022-jp",
    "shift_jis": "csshiftjis ms932 ms_kanji shift-jis shift_jis sjis windows-31j x-sjis",
    "euc-kr": "cseuckr csksc56011987 euc-kr iso-ir-149 korean ks_c_5601-1987 ks_c_5601-1989 "
    "ksc5601 ksc_5601 windows-949",
    "replacement": "csiso2022kr hz-gb-2312 iso-2022-cn iso-2022-cn-ext iso-2022-kr replacement",
    "utf-16be": "unicodefffe utf-16be",
    "utf-16le": "csunicode iso-10646-ucs-2 ucs-2 unicode unicodefeff utf-16 utf-16le",
    "x-user-defined": "x-user-defined",
}
_LABEL_TO_NAME = {label: name for name, labels in _LABELS.items() for label in labels.split()}

# WHATWG name -> Python codec (canonical `codecs.lookup().name`). The WHATWG decoders for GBK,
# Shift_JIS, EUC-KR and Big5 are the Microsoft/HKSCS supersets, hence gb18030, cp932, cp949 and
# big5hkscs. x-user-defined maps 0x80-0xFF to private-use code points; latin-1 keeps it lossless.
_SPECIAL_CODECS = {
    "utf-8": "utf-8",
    "ibm866": "cp866",
    "iso-8859-8-i": "iso8859-8",
    "macintosh": "mac-roman",
    "x-mac-cyrillic": "mac-cyrillic",
    "gbk": "gb18030",
    "gb18030": "gb18030",
    "big5": "big5hkscs",
    "euc-jp": "euc_jp",
    "iso-2022-jp": "iso2022_jp",
    "shift_jis": "cp932",
    "euc-kr": "cp949",
    "replacement": REPLACEMENT,
    "utf-16be": "utf-16-be",
    "utf-16le": "utf-16-le",
    "x-user-defined": "iso8859-1",
}

UTF16_CODECS = frozenset({"utf-16-le", "utf-16-be"})


def _python_codec(name: str) -> str:
    special = _SPECIAL_CODECS.get(name)
    if special is not None:
        return special
    if name.startswith("windows-"):
        return "cp" + name[8:]
    return name.replace("iso-8859-", "iso8859-")  # and koi8-r / koi8-u as they are


# Every web encoding but UTF-16, ISO-2022-JP (stateful: "<" can be half of a kanji) and replacement.
_BYTE_SCANNABLE = (
    frozenset(map(_python_codec, _LABELS)) - UTF16_CODECS - {"iso2022_jp", REPLACEMENT}
)


def is_byte_scannable(codec: str) -> bool:
    """True when every byte below 0x80 means its ASCII character wherever it appears.

    Single-byte encodings and UTF-8 qualify trivially; for Shift_JIS, EUC-JP, GBK/GB18030, Big5 and
    EUC-KR the trail bytes of a multibyte character never fall on ``< > " ' = / ! - & ?`` or
    whitespace, and WHATWG decoders re-read an ASCII byte that breaks a sequence as ASCII. Stateful
    encodings (ISO-2022-JP, HZ, UTF-7) and UTF-16 do not qualify.
    """
    return codec in _BYTE_SCANNABLE


def whatwg_encoding(label: str) -> str | None:
    """The WHATWG "get an encoding": the encoding's name for ``label``, or None if unknown."""
    return _LABEL_TO_NAME.get(label.strip("\t\n\f\r ").lower())


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


@dataclass(frozen=True, slots=True)
class MetaCharset:
    """A ``<meta>`` that the prescan took the encoding from: its WHATWG name and byte span."""

    encoding: str
    tag_start: int
    tag_end: int


# WHATWG "get an attribute" in one match: None or an empty name when at ">" (or cut off).
_PRESCAN_ATTRIBUTE = re.compile(
    rb"[\t\n\f\r /]*+(?:(?=>)|([^\t\n\f\r />][^\t\n\f\r /=>]*+)(?:[\t\n\f\r ]*+=[\t\n\f\r ]*+"
    rb"""(?:"([^"]*+)"|'([^']*+)'|(?=>)|([^\t\n\f\r >"'][^\t\n\f\r >]*+)(?=[\t\n\f\r >]))"""
    rb"|(?![\t\n\f\r ]*+=)))"
)
_PRESCAN_WS = re.compile(rb"[\t\n\f\r ]*+")
_PRESCAN_TAG_NAME = re.compile(rb"</?[A-Za-z][^\t\n\f\r >]*+")
_META_START = re.compile(rb"<meta[\t\n\f\r /]", re.IGNORECASE)
_CHARSET_IN_CONTENT = re.compile(rb"charset", re.IGNORECASE)


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
        while (pos := buf.find(b"<", pos)) >= 0:
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
            return DocumentEncoding(_python_codec(name), "header", 0)
    meta = prescan_meta_charset(body)
    if meta is not None:
        return DocumentEncoding(_python_codec(meta.encoding), "meta", 0)
    # Imported here: the scan needs this module's prescan, and this fallback needs its tokenizer.
    from proxy.html.scan import head_meta_charset

    late = head_meta_charset(body)
    if late is not None:
        return DocumentEncoding(_python_codec(late), "meta", 0)
    return _DEFAULT
