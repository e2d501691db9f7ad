"""Encoding determination: BOM > header > meta (prescan, then in the head) > default."""

from __future__ import annotations

import codecs
from pathlib import Path

import pytest

from proxy.html.charset import (
    _BYTE_SCANNABLE,
    _LABEL_TO_NAME,
    REPLACEMENT,
    DocumentEncoding,
    _python_codec,
    charset_from_content_type,
    determine_encoding,
    is_byte_scannable,
    prescan_meta_charset,
    whatwg_encoding,
)

# ASCII bytes whose meaning the HTML scan relies on: if one could be the 2nd+ byte of a multibyte
# character, scanning raw bytes would see markup that is not there.
SYNTAX_BYTES = frozenset(b"\x00\t\n\x0c\r !\"&'-/<=>?")
SCANNABLE_MULTIBYTE = ("utf-8", "cp932", "euc_jp", "gb18030", "big5hkscs", "cp949")


@pytest.mark.parametrize(
    ("body", "header", "expected"),
    [
        (b"\xef\xbb\xbf<p>", "iso-8859-2", DocumentEncoding("utf-8", "bom", 3)),
        (b"\xff\xfe<\x00p\x00", None, DocumentEncoding("utf-16-le", "bom", 2)),
        (b"\xfe\xff\x00<\x00p", "utf-8", DocumentEncoding("utf-16-be", "bom", 2)),
        (b"<meta charset=utf-8>", "Shift_JIS", DocumentEncoding("cp932", "header", 0)),
        (b"<meta charset=utf-8>", "latin1", DocumentEncoding("cp1252", "header", 0)),
        (b"<meta charset=utf-8>", "US-ASCII", DocumentEncoding("cp1252", "header", 0)),
        (b"<meta charset=utf-8>", " EUC-KR ", DocumentEncoding("cp949", "header", 0)),
        (b"<meta charset=utf-8>", "gb2312", DocumentEncoding("gb18030", "header", 0)),
        (b"<meta charset=utf-8>", "big5", DocumentEncoding("big5hkscs", "header", 0)),
        (b"<meta charset=utf-8>", "utf-16", DocumentEncoding("utf-16-le", "header", 0)),
        (b"<meta charset=utf-8>", "koi8-r", DocumentEncoding("koi8-r", "header", 0)),
        (b"<meta charset=utf-8>", "iso-8859-15", DocumentEncoding("iso8859-15", "header", 0)),
        (b"<meta charset=utf-8>", "windows-1251", DocumentEncoding("cp1251", "header", 0)),
        (b"<meta charset=utf-8>", "iso-2022-jp", DocumentEncoding("iso2022_jp", "header", 0)),
        (b"<meta charset=utf-8>", "hz-gb-2312", DocumentEncoding(REPLACEMENT, "header", 0)),
        (b"<meta charset=utf-8>", "no-such-charset", DocumentEncoding("utf-8", "meta", 0)),
        (b"<meta charset=utf-16>", None, DocumentEncoding("utf-8", "meta", 0)),
        (b"<meta charset=x-user-defined>", None, DocumentEncoding("cp1252", "meta", 0)),
        (b"<meta charset=euc-jp>", None, DocumentEncoding("euc_jp", "meta", 0)),
        (b"<p>hello", None, DocumentEncoding("cp1252", "default", 0)),
        (b"", None, DocumentEncoding("cp1252", "default", 0)),
    ],
)
def test_determine_encoding(body: bytes, header: str | None, expected: DocumentEncoding) -> None:
    assert determine_encoding(body, header) == expected


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (b'<meta charset="ISO-8859-2">', "iso-8859-2"),
        (b"<meta http-equiv=Content-Type content='text/html; charset=koi8-r'>", "koi8-r"),
        (b'<meta content="text/html; charset=koi8-r" http-equiv="content-type">', "koi8-r"),
        (b'<meta content="text/html; charset=koi8-r">', None),  # no pragma
        (b"<meta name=x content='charset=koi8-r' http-equiv=content-type>", "koi8-r"),
        (b'<!-- <meta charset="koi8-r"> --><meta charset="utf-8">', "utf-8"),
        (b'<!--><meta charset="koi8-r">', "koi8-r"),  # "<!-->" is a whole comment
        (b'<p title="<meta charset=koi8-r>"><meta charset=euc-jp>', "euc-jp"),
        (b"<meta charset=koi8-r charset=utf-8>", "koi8-r"),  # first attribute wins
        (b"<meta charset=bogus><meta charset=utf-8>", "utf-8"),
        (b"<metacharset=koi8-r>", None),
        (b"<meta/charset=koi8-r>", "koi8-r"),
        (b"</meta charset=koi8-r>", None),  # an end tag's attributes are skipped
        (b"<?meta charset=koi8-r?>", None),
        (b"<meta charset=koi8-r", None),  # cut off: nothing found
        (b" " * 1020 + b"<meta charset=koi8-r>", None),  # beyond the 1024-byte window
    ],
)
def test_prescan(head: bytes, expected: str | None) -> None:
    found = prescan_meta_charset(head)
    assert (found.encoding if found else None) == expected


def test_prescan_reports_where_the_meta_is() -> None:
    body = b"<title>t</title><meta charset=utf-8><p>"
    found = prescan_meta_charset(body)
    assert found is not None
    assert body[found.tag_start : found.tag_end] == b"<meta charset=utf-8>"


def test_late_meta_in_head_counts_like_browsers() -> None:
    """Past 1024 bytes only the parser's "change the encoding" finds it: only inside the head."""
    late = b"<head><!--" + b"x" * 2000 + b"--><meta charset=iso-8859-2></head>"
    assert determine_encoding(late, None) == DocumentEncoding("iso8859-2", "meta", 0)
    in_script = b"<head><script>" + b"x" * 2000 + b"'<meta charset=iso-8859-2>'</script>"
    assert determine_encoding(in_script, None).source == "default"
    in_body = b"<head></head><body>" + b"x" * 2000 + b"<meta charset=iso-8859-2>"
    assert determine_encoding(in_body, None).source == "default"


@pytest.mark.parametrize(
    ("content_type", "label"),
    [
        ("text/html; charset=UTF-8", "UTF-8"),
        ('text/html;charset="Shift_JIS"', "Shift_JIS"),
        ("text/html; foo=bar; CHARSET=koi8-r ;x=y", "koi8-r"),
        ('text/html; foo="a;charset=x"; charset=utf-8', "utf-8"),
        ("text/html; charset=", None),
        ("text/html; charset", None),
        ("text/html", None),
        ("", None),
        (None, None),
    ],
)
def test_charset_from_content_type(content_type: str | None, label: str | None) -> None:
    assert charset_from_content_type(content_type) == label


def test_label_table_matches_the_whatwg_table() -> None:
    webencodings = pytest.importorskip("webencodings.labels")
    assert webencodings.LABELS == _LABEL_TO_NAME
    assert whatwg_encoding("  LATIN1\t") == "windows-1252"


def test_every_whatwg_encoding_maps_to_a_python_codec() -> None:
    for name in set(_LABEL_TO_NAME.values()) - {"replacement"}:
        codec = _python_codec(name)
        assert codecs.lookup(codec).name == codec, name


@pytest.mark.parametrize("codec", SCANNABLE_MULTIBYTE)
def test_multibyte_trail_bytes_never_look_like_markup(codec: str) -> None:
    """The claim that makes byte scanning exact: every character encodes to pure ASCII or to
    bytes that are all >= 0x80 except trail bytes outside the markup set."""
    assert is_byte_scannable(codec)
    top = 0x110000 if codec in ("utf-8", "gb18030") else 0x10000
    for point in range(0x80, top):
        if 0xD800 <= point < 0xE000:
            continue
        try:
            encoded = chr(point).encode(codec)
        except UnicodeEncodeError:
            continue
        if len(encoded) == 1 and encoded[0] < 0x80:  # e.g. EUC-JP's YEN SIGN at 0x5C
            assert encoded[0] not in SYNTAX_BYTES, (codec, hex(point))
            continue
        assert encoded[0] >= 0x80, (codec, hex(point))
        assert not SYNTAX_BYTES.intersection(encoded[1:]), (codec, hex(point), encoded)


@pytest.mark.parametrize("codec", SCANNABLE_MULTIBYTE)
def test_a_broken_sequence_gives_its_ascii_byte_back(codec: str) -> None:
    """WHATWG decoders re-read an ASCII byte that cuts a sequence short as ASCII (Encoding
    Standard, "prepend byte to stream"); Python's codecs agree (lead then one more byte)."""
    for lead in range(0x80, 0x100):
        for second in (b"", b"\xa1"):
            for byte in SYNTAX_BYTES:
                decoded = (bytes((lead,)) + second + bytes((byte,)) + b"xx").decode(
                    codec, "replace"
                )
                assert decoded.endswith(chr(byte) + "xx"), (codec, hex(lead), second, chr(byte))


def test_every_byte_scannable_codec_reads_ascii_as_ascii() -> None:
    ascii_bytes = bytes(range(0x80))
    for codec in _BYTE_SCANNABLE:
        assert ascii_bytes.decode(codec) == ascii_bytes.decode("ascii"), codec


def test_stateful_and_utf16_codecs_are_not_byte_scannable() -> None:
    for codec in ("iso2022_jp", "hz", "utf-7", "utf-16-le", "utf-16-be", REPLACEMENT):
        assert not is_byte_scannable(codec)
    for codec in ("cp1252", "iso8859-2", "koi8-u", "mac-roman", "cp866", "cp874"):
        assert is_byte_scannable(codec)


def _encoding_cases(corpus: Path) -> list[tuple[str, bytes, str]]:
    cases = []
    for path in sorted((corpus / "html5lib" / "encoding").rglob("*.dat")):
        for block in path.read_bytes().split(b"#data\n")[1:]:
            data, _, rest = block.partition(b"\n#encoding\n")
            cases.append((path.name, data, rest.strip().split(b"\n")[0].decode()))
    return cases


@pytest.mark.corpus
def test_html5lib_encoding_corpus(corpus_dir: Path) -> None:
    """All 83 html5lib-tests sniffing cases but the one that needs a script to run."""
    cases = _encoding_cases(corpus_dir)
    failures = []
    for name, data, expected in cases:
        want = codecs.lookup(_python_codec(whatwg_encoding(expected) or "")).name
        got = determine_encoding(data, None)
        if codecs.lookup(got.codec).name != want:
            failures.append((name, data[:80], expected, got.codec))
    scripted = [f for f in failures if b"document.write" in f[1]]
    assert len(cases) >= 80
    assert failures == scripted, failures
    assert len(failures) <= 0.05 * len(cases)
