"""inject_tag: encodings, refusals, meta CSP edits, and properties over arbitrary input (HR-08)."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from proxy.html.inject import Injection, inject_tag
from proxy.html.scan import _Walk, find_insertion_point
from tests.html.test_inject_corpus import MARKER, assert_tree_gains_only_marker

TAG = '<script src="/__vernier/t.js?v=abc" defer data-vernier-page="p1"></script>'


def _spliced(body: bytes, injection: Injection | None) -> bytes:
    assert injection is not None
    offset, inserted = injection.offset, injection.inserted
    assert injection.body == body[:offset] + inserted + body[offset:]
    return body[:offset]


def test_inserts_before_head_end() -> None:
    body = b"<!DOCTYPE html><html><head><title>t</title></head><body>x</body></html>"
    injection = inject_tag(body, TAG, header_charset="utf-8")
    assert _spliced(body, injection).endswith(b"<title>t</title>")
    assert injection is not None and injection.encoding.source == "header"


@pytest.mark.parametrize("codec", ["utf-16-le", "utf-16-be"])
def test_utf16_with_bom(codec: str) -> None:
    text = "<html><head><title>Ünïcødé 😀</title></head><body>ok</body></html>"
    bom = "\ufeff".encode(codec)
    body = bom + text.encode(codec)
    injection = inject_tag(body, TAG, header_charset="iso-8859-1")  # the BOM wins
    assert injection is not None
    assert injection.inserted == TAG.encode(codec)
    assert injection.encoding.bom_length == 2
    _spliced(body, injection)
    new_text = injection.body[2:].decode(codec)
    assert new_text == text.replace("</head>", TAG + "</head>")


def test_utf16_from_header_without_bom() -> None:
    body = "<p>x".encode("utf-16-le")
    injection = inject_tag(body, TAG, header_charset="UTF-16")
    assert injection is not None and injection.offset == 0
    assert injection.body.decode("utf-16-le") == TAG + "<p>x"


@pytest.mark.parametrize(
    "body",
    [
        "<p>x".encode("utf-16-le") + b"\x00\xd8",  # lone surrogate: round-trips via surrogatepass
        "<head></head>".encode("utf-16-le") + b"\x3c",  # odd length: not UTF-16
    ],
)
def test_utf16_keeps_or_refuses_odd_bytes(body: bytes) -> None:
    injection = inject_tag(body, TAG, header_charset="utf-16le")
    if len(body) % 2:
        assert injection is None
    else:
        _spliced(body, injection)


@pytest.mark.parametrize(
    ("header", "body"),
    [
        ("iso-2022-jp", "<head></head>日本".encode("iso2022_jp")),
        ("hz-gb-2312", b"<head></head>~{<:Ky2;S{#,NpJ)l6HK!#~}"),
        ("iso-2022-kr", b"<head></head>"),
        ("utf-7", b"<head></head>+ADw-script+AD4-"),
        ("UTF7", b"<head></head>"),
    ],
)
def test_stateful_encodings_are_refused(header: str, body: bytes) -> None:
    assert inject_tag(body, TAG, header_charset=header) is None


@pytest.mark.parametrize(
    ("codec", "header"),
    [("cp932", "shift_jis"), ("euc_jp", "euc-jp"), ("gb18030", "gbk"), ("big5hkscs", "big5")],
)
def test_multibyte_pages_keep_their_bytes(codec: str, header: str) -> None:
    text = "<html><head><title>表示ソ能</title></head><body>予定</body></html>"
    body = text.encode(codec)
    injection = inject_tag(body, TAG, header_charset=header)
    assert _spliced(body, injection).endswith("</title>".encode(codec))


def test_binary_bodies_are_refused() -> None:
    png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR<head></head>"
    assert inject_tag(png, TAG, header_charset=None) is None
    late_nul = b"<head></head>" + b"x" * 2000 + b"\x00"
    _spliced(late_nul, inject_tag(late_nul, TAG, header_charset=None))


@pytest.mark.parametrize(
    "body",
    [
        b'{"a": "</body>", "b": 1}',
        b"  \n[1, 2]",
        b"\xef\xbb\xbf{}",
        b"",
        b" \r\n\t",
        b"\n" * 2000 + b"{}",
        "\ufeff{}".encode("utf-16-le"),
    ],
)
def test_json_and_empty_bodies_labelled_html_are_refused(body: bytes) -> None:
    """PHP labels its JSON text/html by default; a tag in front of it breaks JSON.parse (HR-11)."""
    charset = "utf-16le" if body.startswith(b"\xff\xfe") else "utf-8"
    assert inject_tag(body, TAG, header_charset=charset) is None


def test_a_page_after_a_long_blank_start_is_still_a_page() -> None:
    """Templates often open with lines of white space: 2,000 of them are still a page."""
    body = b"\n" * 2000 + b"<!doctype html><html><head><title>t</title></head><body>x</body></html>"
    _spliced(body, inject_tag(body, TAG, header_charset="utf-8"))


def test_text_before_any_markup_is_still_a_page() -> None:
    body = b"Hello <b>world</b>"
    _spliced(body, inject_tag(body, TAG, header_charset=None))  # injected, the rest kept


def test_already_injected_pages_are_left_alone() -> None:
    body = b"<html><head><title>t</title></head><body>x</body></html>"
    once = inject_tag(body, TAG, header_charset=None)
    assert once is not None
    assert inject_tag(once.body, TAG, header_charset=None) is None


def test_meta_charset_guard_through_inject() -> None:
    body = b"<html><p>x</p><meta charset=utf-8><p>y"
    unknown = inject_tag(body, TAG, header_charset=None)
    assert _spliced(body, unknown) == b"<html><p>x</p><meta charset=utf-8>"
    known = inject_tag(body, TAG, header_charset="utf-8")
    assert _spliced(body, known) == b"<html>"


def test_non_ascii_tag_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="ASCII"):
        inject_tag(b"<p>", "<script>é</script>", header_charset=None)


@pytest.mark.parametrize(
    ("meta", "value", "rewritten"),
    [
        (
            b"<meta http-equiv=Content-Security-Policy content=\"script-src 'self'\">",
            "script-src 'self'",
            b"<meta http-equiv=Content-Security-Policy content=\"script-src 'self' 'nonce-abc'\">",
        ),
        (
            b"<meta http-equiv=content-security-policy content='a &amp; b'>",
            "a & b",
            b"<meta http-equiv=content-security-policy content='a &amp; b &#39;nonce-abc&#39;'>",
        ),
        (
            b"<meta http-equiv=content-security-policy content=default-src>",
            "default-src",
            b"<meta http-equiv=content-security-policy content=\"default-src 'nonce-abc'\">",
        ),
    ],
)
def test_meta_csp_values_are_rewritten_in_place(meta: bytes, value: str, rewritten: bytes) -> None:
    body = b"<html><head>" + meta + b"<title>t</title></head><body>"
    seen: list[str] = []

    def edit(policy: str) -> str:
        seen.append(policy)
        return policy + " 'nonce-abc'"

    injection = inject_tag(body, TAG, header_charset="utf-8", edit_meta_csp=edit)
    assert injection is not None and seen == [value]
    expected = body.replace(meta, rewritten).replace(b"</head>", TAG.encode() + b"</head>")
    assert injection.body == expected
    shift = len(rewritten) - len(meta)  # offset is in the original body
    assert injection.body[injection.offset + shift :].startswith(TAG.encode())


def test_meta_csp_that_cannot_allow_us_refuses_the_page() -> None:
    body = b"<head><meta http-equiv=content-security-policy content=\"script-src 'none'\"></head>"
    assert inject_tag(body, TAG, header_charset="utf-8", edit_meta_csp=lambda p: None) is None
    unchanged = inject_tag(body, TAG, header_charset="utf-8", edit_meta_csp=lambda p: p)
    _spliced(body, unchanged)
    ignored = inject_tag(body, TAG, header_charset="utf-8")
    _spliced(body, ignored)


def test_meta_csp_edit_escapes_and_must_fit_the_encoding() -> None:
    body = b'<head><meta http-equiv=content-security-policy content="a"></head>'
    injection = inject_tag(body, TAG, header_charset="utf-8", edit_meta_csp=lambda p: 'b"&')
    assert injection is not None
    assert b'content="b&quot;&amp;"' in injection.body
    refused = inject_tag(body, TAG, header_charset="koi8-r", edit_meta_csp=lambda p: "日本")
    assert refused is None


def test_meta_csp_edit_in_utf16() -> None:
    text = "<head><meta http-equiv=content-security-policy content='x'></head>"
    body = b"\xff\xfe" + text.encode("utf-16-le")
    injection = inject_tag(body, TAG, header_charset=None, edit_meta_csp=lambda p: p + " y")
    assert injection is not None
    assert injection.body[2:].decode("utf-16-le") == text.replace("'x'", "'x y'").replace(
        "</head>", TAG + "</head>"
    )


FRAGMENTS = [
    *[
        "<head>",
        "</head>",
        "<html>",
        "<body>",
        "<!--",
        "-->",
        "--!>",
        "<!-->",
        "<script>",
        "</script>",
        "<script",
        "<style>",
    ],
    *[
        "</style>",
        "<title>",
        "</title>",
        "<template>",
        "</template>",
        "<noscript>",
        "</noscript>",
        "<textarea>",
    ],
    *[
        "<svg>",
        "</svg>",
        "<math>",
        "<![CDATA[",
        "]]>",
        "<!DOCTYPE",
        "<!x>",
        "<?x>",
        "</x>",
        "<p>",
        "<plaintext>",
        "<xmp>",
    ],
    *[
        "<frameset>",
        "</br>",
        "</p>",
        "<select>",
        "<link",
        "<base",
        "<meta",
        ">",
        "<",
        "/",
        "=",
        "'",
        '"',
        "&#32;",
        "&amp;",
        "é",
    ],
    "<meta charset=utf-8>",
    '<meta http-equiv="Content-Security-Policy" content="script-src \'self\'">',
    '<script src="/__vernier/t.js"></script>',
    " ",
    "\n",
    "\r\n",
    "\t",
    "\x00",
    "\ufeff",
    "x",
]
html_ish = st.lists(st.sampled_from(FRAGMENTS) | st.text(max_size=4), max_size=30).map("".join)
labels = st.sampled_from([None, "utf-8", "windows-1252", "shift_jis", "utf-16le", "bogus"])


def _check_property(body: bytes, header: str | None) -> None:
    injection = inject_tag(body, TAG, header_charset=header)
    if injection is not None:
        _spliced(body, injection)
    for known in (True, False):
        result = find_insertion_point(body, charset_known=known)
        if result is not None:
            assert 0 <= result.insert_at <= len(body)


@settings(max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=st.binary(max_size=600), header=labels)
def test_arbitrary_bytes_never_raise(body: bytes, header: str | None) -> None:
    _check_property(body, header)


@settings(max_examples=2000, deadline=None)
@given(text=html_ish, header=labels, codec=st.sampled_from(["utf-8", "utf-16-le", "cp1252"]))
def test_html_ish_text_never_raises(text: str, header: str | None, codec: str) -> None:
    _check_property(text.encode(codec, "replace"), header)


@settings(max_examples=500, deadline=None)
@given(text=html_ish)
def test_html_ish_text_gains_only_the_tag(text: str) -> None:
    """Wherever the scan puts the tag, both parsers see the old tree plus one <script>."""
    body = text.encode("utf-8")
    start = 3 if body.startswith(b"\xef\xbb\xbf") else 0
    result = find_insertion_point(body, charset_known=True)
    assert _Walk(body).head(start, fast=False) == (None if result is None else result.insert_at)
    if result is None or "/__vernier/t.js" in text:
        return
    after = body[: result.insert_at] + MARKER.encode() + body[result.insert_at :]
    plain = "<template" not in text.lower()
    parent = assert_tree_gains_only_marker(
        text.removeprefix("\ufeff"), after.decode("utf-8-sig"), html5lib_too=plain
    )
    assert parent == "head"


def test_meta_csps_on_both_sides_of_a_base_are_edited() -> None:
    body = (
        b"<head><meta http-equiv=content-security-policy content=a><base href=//cdn.example/>"
        b"<meta http-equiv=content-security-policy content=b></head>"
    )
    injection = inject_tag(body, TAG, header_charset="utf-8", edit_meta_csp=lambda p: p + "+")
    assert injection is not None
    assert injection.body == (
        b'<head><meta http-equiv=content-security-policy content="a+">' + TAG.encode()
        + b'<base href=//cdn.example/><meta http-equiv=content-security-policy content="b+"></head>'
    )  # fmt: skip
    utf16 = inject_tag(
        body.decode().encode("utf-16"), TAG, header_charset=None, edit_meta_csp=lambda p: p + "+"
    )
    assert utf16 is not None and utf16.body == injection.body.decode().encode("utf-16")
