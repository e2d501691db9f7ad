"""The insertion-point scan on the cases that fool naive scanners (docs/reliability.md HR-06).

Each case marks the expected point with "§"; a case without "§" must be refused. Every accepted
case is also checked with two HTML5 parsers: the tree gains the tag and nothing else.
"""

from __future__ import annotations

import pytest

from proxy.html.scan import MetaCsp, _Walk, find_insertion_point
from tests.html.test_inject_corpus import MARKER, assert_tree_gains_only_marker

POINT = "§"

CASES = {
    "plain head": "<!DOCTYPE html><html><head><title>t</title>§</head><body>x</body></html>",
    "comment holds </head>": "<head><!-- </head><body> --><title>t</title>§</head>",
    "abrupt comment <!-->": "<head><!-->§</head>-->",
    "abrupt comment <!--->": "<head><!--->§</head>-->",
    "comment <!----> ": "<head><!---->§</head>-->",
    "comment closed by --!>": "<head><!-- </head> --!><meta charset=utf-8>§</head>",
    "script string </head>": '<head><script>var s = "</head><body>";</script>§</head>',
    "script escaped": "<head><script><!--\ndocument.write('<p>');\n//--></script>§</head>",
    "script double escaped": (
        "<head><script><!--<script>'</head>'</script></head>--></script>§</head>"
    ),
    "script double escaped, dashes": "<head><script><!--<script>--></script>§</head>",
    "script </scripts> is text": '<head><script>"</scripts></head>"</script>§</head>',
    "script end tag with attributes": '<head><script></script x="</head>">§</head>',
    "uppercase SCRIPT": '<HEAD><SCRIPT>"</head>"</SCRIPT >§</HEAD>',
    "attribute holds >": "<head><meta content=\"a > b </head> <body>\"><link title='>'>§</head>",
    "unquoted attribute": '<head><meta content=a"b name=x>§</head>',
    "style": "<head><style>p::after { content: '</head><body>' }</style>§</head>",
    "title": "<head><title><body></head></title>§</head>",
    "noscript is rawtext": "<head><noscript><img src=x></noscript>§</head>",
    "noframes": "<head><noframes><body></noframes>§</head>",
    "template in head": "<head><template></head><body><p>x</template>§</head>",
    "nested template": "<head><template><template></template></head></template>§</head>",
    "template with script": '<head><template><script>"</template>"</script></template>§</head>',
    "template holds svg": "<head>§<template><svg><style></template></style></svg></template>",
    "unclosed template": "<head>§<template><p>x",
    "no head": "<html><title>t</title>§<p>hi",
    "no html": "<title>t</title>§<p>hi",
    "text only": "§Hello",
    "leading whitespace": " \n\t§Hello",
    "whitespace reference": "<html>&#32;&#x0A;&Tab;§<p>x",
    "non-whitespace reference": "<html>§&#11;<p>x",
    "empty": "§",
    "whitespace only": "  \r\n§",
    "two heads": "<head><title>a</title>§</head><head><title>b</title></head>",
    "end tag body": "<head>§</body>",
    "end tag br": "<head>§</br>",
    "ignored end tags": "<head></p></template></title><title>t</title>§</head>",
    "plaintext": "<head><title>t</title>§<plaintext></head>",
    "xmp": "<head>§<xmp></head></xmp>",
    "frameset start": "<html>§<frameset><frame></frameset>",
    "svg": "<head>§<svg><title></head></title></svg>",
    "bogus comments": "<head><!x><?php echo 1 ?></ x><?<body?><title>t</title>§</head>",
    "bogus comment ends at the first >": "<head><?php echo '>§'; ?>",
    "CDATA is a bogus comment in HTML": "<head><![CDATA[</head>§]]>",
    "doctype ends at >": '<!DOCTYPE html PUBLIC "x>§y">',
    "BOM and doctype": "\ufeff<!DOCTYPE html><html><head>§</head>",
    "CRLF": "<html>\r\n<head>\r\n<title>t</title>\r\n§</head>\r\n<body>\r\n",
    "uppercase tags": "<HTML><HEAD><TITLE>t</TITLE>§</HEAD><BODY>",
    "spaced and attributed tags": "<HEAD ><meta charset=utf-8>§</head foo='a>b'>",
    "unclosed script at EOF": "<head>§<script>x",
    "unclosed script end tag at EOF": "<head>§<script>x</script",
    "tag cut off": '<head>§<meta name="x',
    "end tag cut off": "<head>§</head",
    "< as text": "<head>§< p>",
    "</ at EOF": "<head>§</",
    "</> is nothing": "<head></><title>t</title>§</head>",
    "unclosed comment in head": "<head>§<!-- x",
    "unclosed comment at top": "<html><!-- x",
    "unclosed comment before html": "<!DOCTYPE html><!-- x",
    "unclosed doctype": "<!DOCTYPE html",
    "unclosed doctype in head": "<head>§<!DOCTYPE html",
    "custom element": "<head>§<my-element></my-element>",
    "image": "<head>§<img src=x>",
    "NUL text": "<head>§\x00",
}


def _split(case: str) -> tuple[bytes, int | None]:
    index = case.find(POINT)
    return case.replace(POINT, "").encode("utf-8"), (
        None if index < 0 else len(case[:index].encode())
    )


@pytest.mark.parametrize("name", CASES)
def test_insertion_point(name: str) -> None:
    body, expected = _split(CASES[name])
    result = find_insertion_point(body, charset_known=True)
    assert (None if result is None else result.insert_at) == expected
    start = 3 if body.startswith(b"\xef\xbb\xbf") else 0
    assert _Walk(body).head(start, fast=False) == expected  # the fast path changes nothing
    if result is not None:
        text = body.decode("utf-8-sig")  # a browser's decoder drops the BOM
        after = (body[: result.insert_at] + MARKER.encode() + body[result.insert_at :]).decode(
            "utf-8-sig"
        )
        parent = assert_tree_gains_only_marker(text, after, html5lib_too="<template" not in text)
        assert parent == "head"


@pytest.mark.parametrize(
    ("case", "moved"),
    [
        ("<html>§<p>x</p><meta charset=utf-8>", "<html><p>x</p><meta charset=utf-8>§"),
        ("<html>§x<meta http-equiv=content-type content='text/html;charset=utf-8'><p>", None),
        ("<html>§<svg><meta charset=utf-8>", ""),  # after foreign content: refuse
        ("<html>§<frameset><meta charset=utf-8>", ""),  # a frameset drops later scripts
        ("<html>§<table><meta charset=utf-8>", "<html><table><meta charset=utf-8>§"),
        ("<html>§<p><script>'<meta charset=utf-8>'</script>", ""),  # not a tag: refuse
        ("<head><meta charset=utf-8>§</head><p>", None),  # already in front
        ("<html>§<p>" + "x" * 1100 + "<meta charset=utf-8>", None),  # past the window
    ],
)
def test_meta_charset_guard(case: str, moved: str | None) -> None:
    """Without a BOM or header charset the tag must not push a <meta charset> past 1024 bytes."""
    body, point = _split(case)
    assert point is not None
    known = find_insertion_point(body, charset_known=True)
    assert known is not None and known.insert_at == point
    unknown = find_insertion_point(body, charset_known=False)
    if moved == "":
        assert unknown is None
        return
    expected = point if moved is None else _split(moved)[1]
    if moved is None and "content-type" in case:
        expected = body.index(b"<p>")
    assert unknown is not None and unknown.insert_at == expected
    after = body[: unknown.insert_at] + MARKER.encode() + body[unknown.insert_at :]
    assert_tree_gains_only_marker(body.decode(), after.decode())


def test_meta_csp_collected_in_front_of_the_point() -> None:
    body = (
        b"<head><meta http-equiv=Content-Security-Policy content=\"script-src 'self'\">"
        b"<meta HTTP-EQUIV='content-security-policy' CONTENT='img-src a.example &amp; b'>"
        b"<meta http-equiv=content-security-policy content=default-src>"
        b'<meta http-equiv=content-security-policy content="a" content="b">'
        b"<meta http-equiv=content-security-policy-report-only content=x>"
        b"<meta http-equiv=' content-security-policy' content=x>"
        b"<meta http-equiv=content-security-policy content=''>"
        b"<noscript><meta http-equiv=content-security-policy content=x></noscript>"
        b"<template><meta http-equiv=content-security-policy content=x></template>"
        b"</head><meta http-equiv=content-security-policy content=late>"
    )
    result = find_insertion_point(body, charset_known=True)
    assert result is not None
    values = [(m.value, m.quote, body[m.value_start : m.value_end]) for m in result.meta_csp]
    assert values == [
        ("script-src 'self'", b'"', b"script-src 'self'"),
        ("img-src a.example & b", b"'", b"img-src a.example &amp; b"),
        ("default-src", b"", b"default-src"),
        ("a", b'"', b"a"),
    ]
    assert all(isinstance(m, MetaCsp) for m in result.meta_csp)


def test_meta_csp_kept_when_an_open_comment_makes_the_scan_redo() -> None:
    body = b"<head><meta http-equiv=content-security-policy content=x><!-- open"
    result = find_insertion_point(body, charset_known=True)
    assert result is not None and result.insert_at == body.index(b"<!--")
    assert [m.value for m in result.meta_csp] == ["x"]


@pytest.mark.parametrize(
    ("body", "injected"),
    [
        (b'<head><script src="/__vernier/t.js?v=1" defer></script></head>', True),
        (b"<head><SCRIPT SRC=/__vernier/t.js></SCRIPT></head>", True),
        (b"<html>x<meta charset=utf-8><script src=/__vernier/t.js></script>", True),
        (b'<head><script>var u = "/__vernier/t.js";</script></head>', False),
        (b'<head><script data-src="/__vernier/t.js"></script></head>', False),
        (b"<head><!-- <script src=/__vernier/t.js></script> --></head>", False),
        (b"<head><script src=/other.js></script></head>", False),
    ],
)
def test_already_injected(body: bytes, injected: bool) -> None:
    result = find_insertion_point(body, charset_known=False)
    assert result is not None and result.already_injected is injected


@pytest.mark.parametrize(
    "body",
    [
        b"<head><script><!--" + b"<script></script>" * 20000,
        b"<head>" + b"<template>" * 20000,
        b"<head><link " + b"a=b " * 50000 + b">",
        b"<head><link " + b"= " * 50000,
        b"<head>" + b"<!x" * 50000,
        b"<head><!--" + b"-" * 200000,
        b"<head>" + b"<meta http-equiv=x content=y>" * 10000,
    ],
)
def test_no_quadratic_blowup(body: bytes) -> None:
    """Pathological heads stay linear (the pipeline's time budget still applies)."""
    import time

    started = time.perf_counter()
    find_insertion_point(body, charset_known=False)
    assert time.perf_counter() - started < 2.0


@pytest.mark.parametrize(
    ("case", "charset_known"),
    [
        (
            '<head><meta charset=utf-8>§<base href="https://cdn.example/"><title>t</title></head>',
            True,
        ),
        ("<head><base target=_blank><title>t</title>§<BASE HREF=//cdn.example/></head>", True),
        ("<html>§<base href=/x/><head><title>t</title></head>", True),
        ("§<base href=x><p>", True),
        ("<head><title>t</title>§</head><body><base href=x>", True),  # not in the head
        ("<head><template><base href=x></template>§</head>", True),
        ("<head><noscript><base href=x></noscript>§</head>", True),
        ("<head><meta charset=utf-8>§<base href=x><title>t</title></head>", False),
        ("<head>§<base href=x><meta charset=utf-8></head>", False),  # room in the window
        ("<head>§<base href=x><meta charset=utf-8><p>", False),
        (  # no room: never push a <meta charset> out of the 1024-byte prescan window
            f"<head><base href=x><meta name=a content={'x' * 950}><meta charset=utf-8>§</head>",
            False,
        ),
    ],
)
def test_the_tag_goes_in_front_of_a_base_href(case: str, charset_known: bool) -> None:
    """A ``<base href>`` naming another origin would send the tracker's request there."""
    body, expected = _split(case)
    result = find_insertion_point(body, charset_known=charset_known)
    assert result is not None and result.insert_at == expected
    if b"</head>" in body:
        assert result.head_end == body.index(b"</head>")
    after = (body[:expected] + MARKER.encode() + body[expected:]).decode()
    html5lib_too = "<template" not in case  # as test_insertion_point
    assert assert_tree_gains_only_marker(body.decode(), after, html5lib_too=html5lib_too) == "head"


def test_meta_csps_after_a_base_are_collected_too() -> None:
    body = (
        b"<head><meta http-equiv=content-security-policy content=a><base href=x>"
        b"<meta http-equiv=content-security-policy content=b></head>"
    )
    result = find_insertion_point(body, charset_known=True)
    assert result is not None and result.insert_at == body.index(b"<base")
    assert [m.value for m in result.meta_csp] == ["a", "b"]
